"""peerwork.proto.imap*: IMAP commands in, answers out, hostile input included."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerwork.proto.imap import (
    Append,
    Command,
    Condition,
    CopyArgs,
    Fetch,
    Literal,
    Login,
    Mailbox,
    Search,
    SetOnly,
    Store,
    StoreMode,
    Verb,
    format_datetime,
    literal_at_end,
    parse_command,
    parse_datetime,
    tagged,
)
from peerwork.proto.imap_items import (
    FetchItem,
    FetchKind,
    SearchKey,
    SearchOp,
    Section,
    SectionText,
)
from peerwork.proto.imap_syntax import (
    MAX_DEPTH,
    Atom,
    ImapSyntaxError,
    LiteralSpec,
    SequenceSet,
    render,
)


def one(line: bytes) -> Command:
    return parse_command([line])


def test_login_quoted_and_literal() -> None:
    assert one(b'a1 LOGIN alice "pw \\"x\\" y"').args == Login("alice", 'pw "x" y')
    segments = [b"a2 login ", Literal(b"alice"), b" ", Literal(b"p w\r\n")]
    assert parse_command(segments) == Command("a2", Verb.LOGIN, Login("alice", "p w\r\n"))


def test_fetch_items() -> None:
    command = one(
        b"t UID FETCH 1:*,4 (UID FLAGS BODY.PEEK[HEADER.FIELDS (From Subject)] "
        b"BODY[]<0.100> BODY[1.2.MIME] RFC822.SIZE BODYSTRUCTURE ENVELOPE INTERNALDATE)"
    )
    assert command.uid and command.verb is Verb.FETCH
    assert isinstance(command.args, Fetch)
    assert command.args.set == SequenceSet(((1, None), (4, 4)))
    items = command.args.items
    assert items[2] == FetchItem(
        FetchKind.SECTION, Section((), SectionText.HEADER_FIELDS, ("FROM", "SUBJECT")), peek=True
    )
    assert items[3].partial == (0, 100) and items[3].response_name() == "BODY[]<0>"
    assert items[4].section == Section((1, 2), SectionText.MIME)
    assert items[2].response_name() == "BODY[HEADER.FIELDS (FROM SUBJECT)]"
    assert not items[2].sets_seen and items[3].sets_seen
    macro = one(b"t FETCH 1 FAST")
    assert isinstance(macro.args, Fetch)
    assert [i.kind for i in macro.args.items] == [
        FetchKind.FLAGS,
        FetchKind.INTERNALDATE,
        FetchKind.RFC822_SIZE,
    ]


def test_store_search_append_move() -> None:
    assert one(b"s STORE 2:3 -FLAGS.SILENT (\\Seen)").args == Store(
        SequenceSet(((2, 3),)), StoreMode.REMOVE, True, ("\\Seen",)
    )
    search = one(b"s UID SEARCH CHARSET UTF-8 OR FROM alice NOT SEEN SINCE 2-Jan-2024")
    key = search.args.key  # type: ignore[union-attr]
    assert key.op is SearchOp.AND and key.children[0].op is SearchOp.OR
    assert key.children[1] == SearchKey(SearchOp.SINCE, day=dt.date(2024, 1, 2))
    append = parse_command(
        [b'a APPEND Sent (\\Seen) "17-Jul-1996 02:44:25 -0700" ', Literal(b"x\r\n"), b""]
    )
    assert isinstance(append.args, Append) and append.args.message == b"x\r\n"
    assert append.args.date == dt.datetime(
        1996, 7, 17, 2, 44, 25, tzinfo=dt.timezone(dt.timedelta(hours=-7))
    )
    assert one(b"m UID MOVE 1:2 Trash").args == CopyArgs(SequenceSet(((1, 2),)), "Trash")
    assert one(b"e UID EXPUNGE 5").args == SetOnly(SequenceSet(((5, 5),)))
    assert one(b"x select inbox").args == Mailbox("INBOX")


def test_cc_is_a_key_and_charset_comes_first() -> None:
    plain = one(b"s SEARCH CC bob").args
    assert plain == Search(SearchKey(SearchOp.CC, text=("bob",)))
    coded = one(b"s SEARCH charset utf-8 CC bob").args
    assert coded == Search(SearchKey(SearchOp.CC, text=("bob",)), "UTF-8")
    with pytest.raises(ImapSyntaxError):
        one(b"s SEARCH CHARSET")


def test_literal_announcements() -> None:
    assert literal_at_end(b"a APPEND INBOX {10000000000}\r\n") == (
        b"a APPEND INBOX ",
        LiteralSpec(10_000_000_000, False),
    )
    assert literal_at_end(b"a LOGIN {5+}\r\n")[1] == LiteralSpec(5, True)
    assert literal_at_end(b"a NOOP\r\n") == (b"a NOOP", None)


def test_answers() -> None:
    assert tagged("a1", Condition.OK, "done", "READ-WRITE") == b"a1 OK [READ-WRITE] done\r\n"
    assert render([None, 3, "x y", Atom("\\Seen"), [b"a\r\nb"]]) == (
        b'(NIL 3 "x y" \\Seen ({4}\r\na\r\nb))'
    )
    when = dt.datetime(2024, 3, 5, 6, 7, 8, tzinfo=dt.UTC)
    assert parse_datetime(format_datetime(when)) == when


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"a",
        b"* NOOP",
        b"a FROB",
        b"a UID SELECT x",
        b"a LOGIN alice",
        b"a FETCH 0 FLAGS",
        b"a FETCH 1 BODY[9999999999]",
        b"a FETCH 1 BODY[MIME]",
        b"a FETCH 1 BODY[]<0.0>",
        b"a FETCH 1 (" * 3,
        b"a FETCH 1 " + b"(" * (MAX_DEPTH + 2) + b"FLAGS" + b")" * (MAX_DEPTH + 2),
        b"a SEARCH " + b"NOT " * (MAX_DEPTH + 2) + b"ALL",
        b"a SEARCH " + b"ALL " * 300 + b"ALL",
        b"a SEARCH SINCE 31-Feb-2024",
        b'a LOGIN "unterminated',
        b"a STORE 1 FLAGS.NOPE (\\Seen)",
        b"a NOOP extra",
        b"a SELECT \xff",
        b'a LOGIN "a\x00b" c',
        b"a STATUS INBOX (BOGUS)",
        b"a FETCH 4294967296 FLAGS",
    ],
)
def test_bad_commands_refused(line: bytes) -> None:
    with pytest.raises(ImapSyntaxError):
        one(line)


def test_literal_where_a_list_belongs_is_refused() -> None:
    with pytest.raises(ImapSyntaxError):
        parse_command([b"a FETCH 1 ", Literal(b"FLAGS"), b""])


@given(st.binary(max_size=400))
def test_any_bytes_parse_or_refuse(line: bytes) -> None:
    try:
        command = one(line)
    except ImapSyntaxError:
        return
    assert parse_command(command.pack()) == command


@given(st.lists(st.one_of(st.binary(max_size=60), st.binary(max_size=30).map(Literal)), max_size=8))
def test_any_segments_parse_or_refuse(segments: list[bytes | Literal]) -> None:
    try:
        command = parse_command(segments)
    except ImapSyntaxError:
        return
    assert parse_command(command.pack()) == command


SEED = [
    b"a1 UID FETCH 1:*,4 (UID FLAGS BODY.PEEK[HEADER.FIELDS (From Subject)] BODY[]<0.100>)",
    b"a2 SEARCH OR FROM alice NOT SEEN SINCE 2-Jan-2024 (UNDELETED 1:3) LARGER 10",
    b"a3 STORE 2:3 +FLAGS.SILENT (\\Seen \\Deleted)",
    b'a4 LIST "" "*"',
    b"a5 STATUS INBOX (MESSAGES UIDNEXT UNSEEN)",
    b"a6 UID MOVE 1:2 Trash",
]


@given(
    st.sampled_from(SEED),
    st.lists(st.tuples(st.integers(0, 120), st.binary(min_size=1, max_size=4)), max_size=5),
)
def test_mutated_commands(seed: bytes, edits: list[tuple[int, bytes]]) -> None:
    data = bytearray(seed)
    for at, chunk in edits:
        data[at : at + len(chunk)] = chunk
    test_any_bytes_parse_or_refuse.hypothesis.inner_test(bytes(data))  # type: ignore[attr-defined]


names = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20)
flags = st.lists(
    st.sampled_from(["\\Seen", "\\Deleted", "\\Flagged", "$Forwarded"]), max_size=3
).map(tuple)
sets = st.lists(
    st.tuples(st.one_of(st.none(), st.integers(1, 2**32 - 1)), st.integers(1, 2**32 - 1)),
    min_size=1,
    max_size=4,
).map(lambda r: SequenceSet(tuple(r)))


@given(
    st.one_of(
        st.builds(Login, names, st.text(max_size=30)),
        st.builds(Mailbox, names.filter(lambda n: n.upper() != "INBOX")),
        st.builds(CopyArgs, sets, names.filter(lambda n: n.upper() != "INBOX")),
        st.builds(Store, sets, st.sampled_from(list(StoreMode)), st.booleans(), flags),
        st.builds(SetOnly, sets),
    )
)
def test_round_trip(args: object) -> None:
    verb = {
        Login: Verb.LOGIN,
        Mailbox: Verb.CREATE,
        CopyArgs: Verb.COPY,
        Store: Verb.STORE,
        SetOnly: Verb.EXPUNGE,
    }[type(args)]
    if isinstance(args, Store) and not args.flags:
        args = Store(args.set, args.mode, args.silent, ("\\Seen",))
    command = Command("t1", verb, args, uid=verb is Verb.EXPUNGE)  # type: ignore[arg-type]
    assert parse_command(command.pack()) == command


@given(st.integers(1, 2**20), st.lists(st.integers(1, 2**20), max_size=30))
def test_sequence_set_select(largest: int, numbers: list[int]) -> None:
    ordered = sorted(set(numbers))
    picked = SequenceSet(((largest, None),)).select(ordered)
    top = ordered[-1] if ordered else 0
    assert picked == [n for n in ordered if min(largest, top) <= n <= max(largest, top)]
