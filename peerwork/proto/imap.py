"""IMAP4rev1 commands (RFC 3501; IDLE, UIDPLUS, MOVE, UNSELECT): segments in, :class:`Command` out.

Sans-IO. The connection loop reads a line, asks :func:`literal_at_end` whether
a literal follows and how big it says it is (so a 10 GB announcement is
refused before a byte of it is read), collects the segments and hands them to
:func:`parse_command`. Answers are built by :func:`tagged`, :func:`untagged`
and :func:`continuation`. A malformed command raises :class:`ImapSyntaxError`
(answered ``BAD``) and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .imap_items import MONTHS, FetchItem, SearchKey, parse_fetch_items, parse_search
from .imap_syntax import (
    MAX_LINE,
    ImapSyntaxError,
    Literal,
    LiteralValue,
    Reader,
    SequenceSet,
    Spooled,
    decode_text,
    is_atom,
    literal_at_end,
    quoted,
)

__all__ = ["MAX_LINE", "ImapSyntaxError", "Literal", "Spooled", "literal_at_end"]


class Verb(enum.Enum):
    CAPABILITY = "CAPABILITY"
    NOOP = "NOOP"
    LOGOUT = "LOGOUT"
    STARTTLS = "STARTTLS"
    AUTHENTICATE = "AUTHENTICATE"
    LOGIN = "LOGIN"
    SELECT = "SELECT"
    EXAMINE = "EXAMINE"
    CREATE = "CREATE"
    DELETE = "DELETE"
    RENAME = "RENAME"
    SUBSCRIBE = "SUBSCRIBE"
    UNSUBSCRIBE = "UNSUBSCRIBE"
    LIST = "LIST"
    LSUB = "LSUB"
    STATUS = "STATUS"
    APPEND = "APPEND"
    CHECK = "CHECK"
    CLOSE = "CLOSE"
    UNSELECT = "UNSELECT"
    EXPUNGE = "EXPUNGE"
    SEARCH = "SEARCH"
    FETCH = "FETCH"
    STORE = "STORE"
    COPY = "COPY"
    MOVE = "MOVE"
    IDLE = "IDLE"


_UID_VERBS = {Verb.FETCH, Verb.STORE, Verb.COPY, Verb.MOVE, Verb.SEARCH, Verb.EXPUNGE}
_NO_ARGS = {
    Verb.CAPABILITY,
    Verb.NOOP,
    Verb.LOGOUT,
    Verb.STARTTLS,
    Verb.CHECK,
    Verb.CLOSE,
    Verb.UNSELECT,
    Verb.IDLE,
}
_ONE_MAILBOX = {Verb.SELECT, Verb.EXAMINE, Verb.CREATE, Verb.DELETE, Verb.SUBSCRIBE}
STATUS_ITEMS = ("MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN")
MAX_FLAGS = 64


class StoreMode(enum.Enum):
    REPLACE = ""
    ADD = "+"
    REMOVE = "-"


@dataclass(frozen=True, slots=True)
class NoArgs:
    pass


@dataclass(frozen=True, slots=True)
class Login:
    user: str
    password: str


@dataclass(frozen=True, slots=True)
class Authenticate:
    """``initial``: the SASL-IR initial response as sent (base64 text), if any."""

    mechanism: str
    initial: str | None = None


@dataclass(frozen=True, slots=True)
class Mailbox:
    """SELECT, EXAMINE, CREATE, DELETE, (UN)SUBSCRIBE; ``INBOX`` in any case is ``INBOX``."""

    name: str


@dataclass(frozen=True, slots=True)
class Rename:
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class ListArgs:
    reference: str
    pattern: str


@dataclass(frozen=True, slots=True)
class Status:
    mailbox: str
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Append:
    mailbox: str
    flags: tuple[str, ...]
    date: dt.datetime | None
    message: LiteralValue


@dataclass(frozen=True, slots=True)
class Search:
    key: SearchKey
    charset: str | None = None


@dataclass(frozen=True, slots=True)
class Fetch:
    set: SequenceSet
    items: tuple[FetchItem, ...]


@dataclass(frozen=True, slots=True)
class Store:
    set: SequenceSet
    mode: StoreMode
    silent: bool
    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CopyArgs:
    """COPY and MOVE."""

    set: SequenceSet
    mailbox: str


@dataclass(frozen=True, slots=True)
class SetOnly:
    """UID EXPUNGE (UIDPLUS)."""

    set: SequenceSet


Args = (
    NoArgs
    | Login
    | Authenticate
    | Mailbox
    | Rename
    | ListArgs
    | Status
    | Append
    | Search
    | Fetch
    | Store
    | CopyArgs
    | SetOnly
)


@dataclass(frozen=True, slots=True)
class Command:
    tag: str
    verb: Verb
    args: Args = NoArgs()
    uid: bool = False

    def pack(self) -> list[bytes | Literal]:
        """The segments a client would send (literals for what can't be quoted)."""
        head = f"{self.tag} {'UID ' if self.uid else ''}{self.verb.value}".encode()
        return _join([head, *_pack_args(self.args)])


def mailbox_name(raw: bytes) -> str:
    """A mailbox name as the client spelled it (modified UTF-7 is plain ASCII)."""
    try:
        name = raw.decode("ascii")
    except UnicodeDecodeError:
        raise ImapSyntaxError("mailbox names are ASCII (modified UTF-7)") from None
    if not name or not name.isprintable() or len(name) > 255:
        raise ImapSyntaxError("bad mailbox name")
    return "INBOX" if name.upper() == "INBOX" else name


def parse_command(segments: Sequence[bytes | Literal]) -> Command:
    reader = Reader(segments)
    tag = reader.atom(extra_stop=b"+")
    reader.sp()
    word = reader.atom().upper()
    uid = word == "UID"
    if uid:
        reader.sp()
        word = reader.atom().upper()
    try:
        verb = Verb(word)
    except ValueError:
        raise ImapSyntaxError(f"unknown command {word[:40]!r}") from None
    if uid and verb not in _UID_VERBS:
        raise ImapSyntaxError(f"UID {verb.value} is not a command")
    if verb is Verb.EXPUNGE and not uid:
        args: Args = NoArgs()
    elif verb in _NO_ARGS:
        args = NoArgs()
    else:
        reader.sp()
        args = _ARG_PARSERS[verb](reader)
    reader.end()
    return Command(tag, verb, args, uid)


def _mailbox(reader: Reader) -> str:
    return mailbox_name(reader.astring())


def _p_login(reader: Reader) -> Login:
    user = decode_text(reader.astring())
    reader.sp()
    return Login(user, decode_text(reader.astring()))


def _p_authenticate(reader: Reader) -> Authenticate:
    mechanism = reader.atom().upper()
    if reader.maybe(b" "):
        return Authenticate(mechanism, reader.atom(extra_stop=b""))
    return Authenticate(mechanism)


def _p_mailbox(reader: Reader) -> Mailbox:
    return Mailbox(_mailbox(reader))


def _p_rename(reader: Reader) -> Rename:
    old = _mailbox(reader)
    reader.sp()
    return Rename(old, _mailbox(reader))


def _p_list(reader: Reader) -> ListArgs:
    reference = reader.astring().decode("ascii", "replace")
    reader.sp()
    if reader.at_literal() or reader.peek() == ord('"'):
        pattern = reader.astring().decode("ascii", "replace")
    else:
        pattern = _list_atom(reader)
    return ListArgs(reference, pattern)


def _list_atom(reader: Reader) -> str:
    """A list-mailbox: atom characters plus the wildcards ``%`` and ``*``."""
    out = []
    while (c := reader.peek()) is not None and 0x20 < c < 0x7F and chr(c) not in '(){"\\':
        out.append(chr(c))
        reader.expect(bytes([c]))
    if not out:
        raise ImapSyntaxError("expected a mailbox pattern")
    return "".join(out)


def _p_status(reader: Reader) -> Status:
    mailbox = _mailbox(reader)
    reader.sp()
    items = []
    for _ in reader.list_items():
        item = reader.atom().upper()
        if item not in STATUS_ITEMS:
            raise ImapSyntaxError(f"unknown status item {item[:40]!r}")
        items.append(item)
    if not items:
        raise ImapSyntaxError("STATUS needs items")
    return Status(mailbox, tuple(items))


def _flags(reader: Reader) -> tuple[str, ...]:
    flags = []
    for _ in reader.list_items():
        flags.append(_flag(reader))
        if len(flags) > MAX_FLAGS:
            raise ImapSyntaxError("too many flags")
    return tuple(flags)


def _flag(reader: Reader) -> str:
    if reader.maybe(b"\\"):
        return "\\" + reader.atom().capitalize()
    return reader.atom()


def _p_append(reader: Reader) -> Append:
    mailbox = _mailbox(reader)
    reader.sp()
    flags: tuple[str, ...] = ()
    date = None
    if reader.peek() == ord("("):
        flags = _flags(reader)
        reader.sp()
    if reader.peek() == ord('"'):
        date = parse_datetime(reader.quoted().decode("ascii", "replace"))
        reader.sp()
    return Append(mailbox, flags, date, reader.literal())


def _p_search(reader: Reader) -> Search:
    charset = None
    # CHARSET can only come first; CC is a search key that starts the same way.
    if reader.lookahead(8).upper() == b"CHARSET ":
        reader.atom()
        reader.sp()
        charset = reader.astring().decode("ascii", "replace").upper()
        reader.sp()
    return Search(parse_search(reader), charset)


def _p_fetch(reader: Reader) -> Fetch:
    sequence = reader.sequence_set()
    reader.sp()
    return Fetch(sequence, parse_fetch_items(reader))


def _p_store(reader: Reader) -> Store:
    sequence = reader.sequence_set()
    reader.sp()
    word = reader.atom().upper()
    mode = StoreMode(word[0]) if word[:1] in ("+", "-") else StoreMode.REPLACE
    name = word.lstrip("+-")
    silent = name == "FLAGS.SILENT"
    if name not in ("FLAGS", "FLAGS.SILENT"):
        raise ImapSyntaxError("STORE sets FLAGS")
    reader.sp()
    flags = _flags(reader) if reader.peek() == ord("(") else _bare_flags(reader)
    return Store(sequence, mode, silent, flags)


def _bare_flags(reader: Reader) -> tuple[str, ...]:
    flags = [_flag(reader)]
    while reader.maybe(b" "):
        flags.append(_flag(reader))
        if len(flags) > MAX_FLAGS:
            raise ImapSyntaxError("too many flags")
    return tuple(flags)


def _p_copy(reader: Reader) -> CopyArgs:
    sequence = reader.sequence_set()
    reader.sp()
    return CopyArgs(sequence, _mailbox(reader))


def _p_set(reader: Reader) -> SetOnly:
    return SetOnly(reader.sequence_set())


_ARG_PARSERS: dict[Verb, Callable[[Reader], Args]] = {
    Verb.LOGIN: _p_login,
    Verb.AUTHENTICATE: _p_authenticate,
    **dict.fromkeys(_ONE_MAILBOX | {Verb.UNSUBSCRIBE}, _p_mailbox),
    Verb.RENAME: _p_rename,
    Verb.LIST: _p_list,
    Verb.LSUB: _p_list,
    Verb.STATUS: _p_status,
    Verb.APPEND: _p_append,
    Verb.SEARCH: _p_search,
    Verb.FETCH: _p_fetch,
    Verb.STORE: _p_store,
    Verb.COPY: _p_copy,
    Verb.MOVE: _p_copy,
    Verb.EXPUNGE: _p_set,
}


def parse_datetime(text: str) -> dt.datetime:
    """``"17-Jul-1996 02:44:25 -0700"`` (date-time of RFC 3501)."""
    try:
        day, month, rest = text.strip().split("-", 2)
        year, clock, zone = rest.split(" ")
        hours, minutes, seconds = (int(x) for x in clock.split(":"))
        sign = -1 if zone[0] == "-" else 1
        if zone[0] not in "+-" or len(zone) != 5 or not zone[1:].isdigit():
            raise ValueError(zone)
        offset = dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5])) * sign
        return dt.datetime(
            int(year),
            MONTHS.index(month.capitalize()) + 1,
            int(day),
            hours,
            minutes,
            seconds,
            tzinfo=dt.timezone(offset),
        )
    except (ValueError, IndexError):
        raise ImapSyntaxError(f"bad date-time {text[:40]!r}") from None


def format_datetime(when: dt.datetime) -> str:
    zone = when.strftime("%z") or "+0000"
    return f"{when.day:2d}-{MONTHS[when.month - 1]}-{when.year:04d} {when:%H:%M:%S} {zone}"


# -- packing (what a client sends; the round trip of the tests) ------------------------
def _string(text: str) -> bytes | Literal:
    data = text.encode("utf-8")
    if is_atom(text) and text.upper() != "NIL":
        return data
    packed = quoted(data)
    return packed if packed.startswith(b'"') else Literal(data)


def _join(parts: Sequence[bytes | Literal]) -> list[bytes | Literal]:
    """Space-separated, literals as their own segments."""
    out: list[bytes | Literal] = [b""]
    for i, part in enumerate(parts):
        sep = b" " if i else b""
        last = out[-1]
        assert isinstance(last, bytes)
        if isinstance(part, Literal):
            out[-1] = last + sep
            out.extend([part, b""])
        else:
            out[-1] = last + sep + part
    return out


def _flag_list(flags: tuple[str, ...]) -> bytes:
    return b"(" + " ".join(flags).encode() + b")"


def _pack_args(args: Args) -> list[bytes | Literal]:
    match args:
        case NoArgs():
            return []
        case Login(user, password):
            return [_string(user), _string(password)]
        case Authenticate(mechanism, initial):
            return [mechanism.encode(), *([initial.encode()] if initial is not None else [])]
        case Mailbox(name):
            return [_string(name)]
        case Rename(old, new):
            return [_string(old), _string(new)]
        case ListArgs(reference, pattern):
            return [quoted(reference.encode()), quoted(pattern.encode())]
        case Status(mailbox, items):
            return [_string(mailbox), b"(" + " ".join(items).encode() + b")"]
        case Append(mailbox, flags, date, message):
            parts: list[bytes | Literal] = [_string(mailbox), _flag_list(flags)]
            if date is not None:
                parts.append(b'"' + format_datetime(date).encode() + b'"')
            return [*parts, Literal(message)]
        case Search(key, charset):
            head = [b"CHARSET " + charset.encode()] if charset else []
            return [*head, key.pack()]
        case Fetch(sequence, items):
            packed = " ".join(i.pack() for i in items)
            return [sequence.pack().encode(), b"(" + packed.encode() + b")"]
        case Store(sequence, mode, silent, flags):
            name = mode.value + ("FLAGS.SILENT" if silent else "FLAGS")
            return [sequence.pack().encode(), name.encode(), _flag_list(flags)]
        case CopyArgs(sequence, mailbox):
            return [sequence.pack().encode(), _string(mailbox)]
        case SetOnly(sequence):
            return [sequence.pack().encode()]
    raise TypeError(args)


# -- answers -------------------------------------------------------------------------
class Condition(enum.Enum):
    OK = "OK"
    NO = "NO"
    BAD = "BAD"
    BYE = "BYE"
    PREAUTH = "PREAUTH"


def tagged(tag: str, condition: Condition, text: str, code: str | None = None) -> bytes:
    coded = f"[{code}] " if code else ""
    return f"{tag} {condition.value} {coded}{text}\r\n".encode()


def untagged(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return b"* " + data + b"\r\n"


def continuation(text: str = "") -> bytes:
    return f"+ {text}".rstrip().encode() + b"\r\n" if text else b"+ \r\n"
