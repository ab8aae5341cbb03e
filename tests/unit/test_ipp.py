"""The IPP codec against requests ipptool really sent, and against hostile bytes.

tests/data/ipp/req*.bin: every request of ipp-1.1.test, ipp-2.0.test and
ipp-everywhere.test (ipptool 2.4, cups-ipp-utils), recorded by a socket
recorder; they include ipptool's deliberately bad requests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.proto.ipp import (
    MAX_ATTRIBUTES,
    MAX_DEPTH,
    Attribute,
    Collection,
    Group,
    IppError,
    LangString,
    Message,
    Range,
    Resolution,
    Truncated,
    Value,
    attr,
    parse_head,
)
from peerwork.proto.ipp_constants import GroupTag, Op, Tag

DATA = Path(__file__).parent.parent / "data" / "ipp"
CAPTURES = sorted(DATA.glob("req*.bin"))


def test_captures_are_there() -> None:
    assert len(CAPTURES) >= 60


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_captured_request_round_trips(path: Path) -> None:
    raw = path.read_bytes()
    assert Message.parse(raw).pack() == raw


def test_captured_print_job_carries_the_pdf() -> None:
    pdf = (DATA / "tiny.pdf").read_bytes()
    jobs = [Message.parse(p.read_bytes()) for p in CAPTURES]
    prints = [m for m in jobs if m.code == Op.PRINT_JOB and m.data]
    assert prints and all(m.data == pdf for m in prints)
    op = prints[0].group(GroupTag.OPERATION)
    assert op is not None and op.attributes[0].name == "attributes-charset"
    assert op.get("printer-uri") is not None


def test_captured_collection_parses_to_members() -> None:
    found = []
    for path in CAPTURES:
        for group in Message.parse(path.read_bytes()).groups:
            found += [a for a in group.attributes if a.tag == Tag.BEGIN_COLLECTION]
    assert found, "ipp-everywhere.test sends media-col"
    media_col = found[0].value
    assert isinstance(media_col, Collection) and media_col.members


def test_parse_head_splits_the_document() -> None:
    raw = next(p.read_bytes() for p in CAPTURES if Message.parse(p.read_bytes()).data)
    head, offset = parse_head(raw)
    assert head.data == b"" and raw[offset:] == Message.parse(raw).data
    with pytest.raises(Truncated):
        parse_head(raw[: offset - 1])


def every_kind() -> Message:
    inner = Collection(
        (attr("x-dimension", Tag.INTEGER, 21000), attr("y-dimension", Tag.INTEGER, 29700))
    )
    outer = Collection(
        (Attribute("media-size", (Value(Tag.BEGIN_COLLECTION, inner),)), Attribute("empty", ()))
    )
    return Message(
        (2, 0),
        Op.PRINT_JOB,
        7,
        (
            Group(
                GroupTag.OPERATION,
                (
                    attr("attributes-charset", Tag.CHARSET, "utf-8"),
                    attr("n", Tag.INTEGER, -1, 2**31 - 1),
                    attr("b", Tag.BOOLEAN, True, False),
                    attr("r", Tag.RESOLUTION, Resolution(300, 600, 3)),
                    attr("g", Tag.RANGE, Range(1, 9)),
                    attr("t", Tag.TEXT_LANG, LangString("en", "héllo")),
                    attr("d", Tag.DATE_TIME, bytes(11)),
                    attr("o", Tag.NO_VALUE, None),
                    attr("u", 0x4C, b"\x00\xff"),
                    attr("media-col", Tag.BEGIN_COLLECTION, outer),
                ),
            ),
            Group(GroupTag.JOB, ()),
        ),
        b"%PDF-",
    )


def test_every_value_kind_round_trips() -> None:
    message = every_kind()
    assert Message.parse(message.pack()) == message


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x02\x00\x00\x0b\x00\x00\x00\x01",  # no end tag
        b"\x02\x00\x00\x0b\x00\x00\x00\x01\x01\x22\x00\x01b\x00\x01\x02\x03",  # boolean 2
        b"\x02\x00\x00\x0b\x00\x00\x00\x01\x01\x21\x00\x01n\x00\x02\x00\x00\x03",  # short int
        b"\x02\x00\x00\x0b\x00\x00\x00\x01\x01\x21\x00\x00\x00\x04\x00\x00\x00\x01\x03",  # orphan
        b"\x02\x00\x00\x0b\x00\x00\x00\x01\x01\x41\x00\x01t\x00\x01\xff\x03",  # not UTF-8
        b"\x02\x00\x00\x0b\x00\x00\x00\x01\x01\x41\x00\x01t\xff\xff\x03",  # length past end
        b"\x02\x00\x00\x0b\x00\x00\x00\x01\x01\x34\x00\x01c\x00\x00\x03",  # open collection
        b"\x02\x00\x00\x0b\x00\x00\x00\x01\x01\x37\x00\x01c\x00\x00\x03",  # stray end
        b"\x02\x00\x00\x0b\x00\x00\x00\x01\x41\x00\x01t\x00\x00\x03",  # value before a group
    ],
)
def test_malformed_is_refused(raw: bytes) -> None:
    with pytest.raises(IppError):
        Message.parse(raw)


def test_nesting_and_counts_are_bounded() -> None:
    value: Collection = Collection((attr("leaf", Tag.INTEGER, 1),))
    for _ in range(MAX_DEPTH + 1):
        value = Collection((attr("c", Tag.BEGIN_COLLECTION, value),))
    deep = Message((2, 0), 11, 1, (Group(1, (attr("c", Tag.BEGIN_COLLECTION, value),)),))
    with pytest.raises(IppError, match="deeper"):
        Message.parse(deep.pack())
    many = Message(
        (2, 0), 11, 1, (Group(1, (attr("n", Tag.INTEGER, *range(MAX_ATTRIBUTES + 1)),)),)
    )
    with pytest.raises(IppError, match="more than"):
        Message.parse(many.pack())


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_parse_exactly_or_fail_cleanly(raw: bytes) -> None:
    try:
        message = Message.parse(raw)
    except IppError:
        return
    assert message.pack() == raw


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(CAPTURES), st.data())
def test_mutated_captures_parse_exactly_or_fail_cleanly(path: Path, data: st.DataObject) -> None:
    raw = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    mutated = bytes(raw[:cut])
    try:
        message = Message.parse(mutated)
    except IppError:
        return
    assert message.pack() == mutated


names = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20)
scalars = st.one_of(
    st.builds(lambda n: Value(Tag.INTEGER, n), st.integers(-(2**31), 2**31 - 1)),
    st.builds(lambda b: Value(Tag.BOOLEAN, b), st.booleans()),
    st.builds(lambda s: Value(Tag.TEXT, s), st.text(max_size=50)),
    st.builds(lambda s: Value(Tag.KEYWORD, s), names),
    st.builds(lambda b: Value(Tag.OCTET_STRING, b), st.binary(max_size=40)),
    st.just(Value(Tag.UNKNOWN)),
)
values = st.recursive(
    scalars,
    lambda inner: st.builds(
        lambda members: Value(Tag.BEGIN_COLLECTION, Collection(tuple(members))),
        st.lists(
            st.builds(lambda n, vs: Attribute(n, tuple(vs)), names, st.lists(inner, max_size=3)),
            max_size=3,
        ),
    ),
    max_leaves=8,
)
attributes = st.builds(
    lambda n, vs: Attribute(n, tuple(vs)), names, st.lists(values, min_size=1, max_size=3)
)
messages = st.builds(
    Message,
    st.tuples(st.integers(0, 255), st.integers(0, 255)),
    st.integers(0, 0xFFFF),
    st.integers(0, 2**32 - 1),
    st.lists(
        st.builds(
            Group,
            st.sampled_from(list(GroupTag)).filter(lambda t: t != GroupTag.END),
            st.lists(attributes, max_size=4).map(tuple),
        ),
        max_size=3,
    ).map(tuple),
    st.binary(max_size=30),
)


@settings(max_examples=200, deadline=None)
@given(messages)
def test_built_messages_round_trip(message: Message) -> None:
    assert Message.parse(message.pack()) == message
