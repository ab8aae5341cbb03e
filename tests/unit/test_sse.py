"""The SSE codec (peerwork/proto/sse.py): the standard's parsing rules, round trips at any
chunking, and hostile streams that only ever raise SseError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.proto.sse import (
    SseDecoder,
    SseError,
    SseMessage,
    encode_comment,
    encode_message,
)


def decode_all(
    data: bytes, cuts: list[int] | None = None, max_size: int = 1 << 20
) -> list[SseMessage]:
    decoder = SseDecoder(max_size)
    out: list[SseMessage] = []
    points = sorted({c % (len(data) + 1) for c in cuts or []})
    start = 0
    for point in [*points, len(data)]:
        out += decoder.feed(data[start:point])
        start = point
    return out


def test_the_standards_example_stream() -> None:
    # From the WHATWG HTML standard's event-stream examples.
    stream = (
        b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\n"
        b"data:  third event\n\n"
    )
    assert decode_all(stream) == [
        SseMessage("message", "first event", "1"),
        SseMessage("message", "second event", ""),
        SseMessage("message", " third event", ""),
    ]


def test_multi_line_data_event_names_and_line_endings() -> None:
    stream = b"event: share-added\r\ndata: a\rdata: b\ndata\r\n\r\nevent: x\n\n"
    # the last message has no data: not dispatched
    assert decode_all(stream) == [SseMessage("share-added", "a\nb\n", None)]


def test_a_crlf_split_across_chunks_is_one_line_end() -> None:
    stream = b"data: one\r\n\r\ndata: two\r\n\r\n"
    for cut in range(len(stream) + 1):
        assert decode_all(stream, [cut]) == [SseMessage(data="one"), SseMessage(data="two")], cut
    decoder = SseDecoder()
    assert decoder.feed(b"data: x\r") == []
    assert decoder.feed(b"") == []  # an empty read must not forget the pending CR
    assert decoder.feed(b"\n\r\n") == [SseMessage(data="x")]


def test_unknown_fields_and_nul_ids_are_ignored_bad_utf8_is_replaced() -> None:
    stream = b"retry: 10\nfoo: bar\nid: a\x00b\ndata: caf\xe9\n\n"
    assert decode_all(stream) == [SseMessage(data="caf\ufffd", id=None)]


def test_oversized_lines_and_events_are_refused_and_the_decoder_stays_refused() -> None:
    decoder = SseDecoder(max_size=64)
    with pytest.raises(SseError):
        decoder.feed(b"data: " + b"x" * 100)  # no line end yet: still bounded
    with pytest.raises(SseError):
        decoder.feed(b"\n\n")
    many = SseDecoder(max_size=64)
    with pytest.raises(SseError):
        many.feed(b"data: 0123456789\n" * 10)


def test_encoding_refuses_line_breaks_where_they_would_forge_fields() -> None:
    with pytest.raises(ValueError):
        encode_message(SseMessage(event="share-added\ndata: forged"))
    with pytest.raises(ValueError):
        encode_message(SseMessage(data="x", id="1\r2"))
    with pytest.raises(ValueError):
        encode_comment("a\nb")
    assert decode_all(encode_comment("keep-alive")) == []


names = st.text(
    st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), min_size=1
)
messages = st.builds(
    SseMessage,
    event=names,
    data=st.text(st.characters(blacklist_categories=("Cs",))),
    id=st.none()
    | st.text(st.characters(blacklist_characters="\r\n\0", blacklist_categories=("Cs",))),
)


@settings(max_examples=300)
@given(batch=st.lists(messages, max_size=6), cuts=st.lists(st.integers(0, 10_000), max_size=8))
def test_round_trip_at_any_chunking(batch: list[SseMessage], cuts: list[int]) -> None:
    stream = b"".join(encode_message(m) for m in batch)
    got = decode_all(stream, cuts)
    # Line breaks in data come back as \n; the id persists (the standard's last event id).
    last_id: str | None = None
    expected = []
    for m in batch:
        if m.id is not None:
            last_id = m.id
        data = m.data.replace("\r\n", "\n").replace("\r", "\n")
        expected.append(SseMessage(m.event, data, last_id))
    assert got == expected


@settings(max_examples=500)
@given(data=st.binary(max_size=400), cuts=st.lists(st.integers(0, 400), max_size=6))
def test_hostile_bytes_give_messages_or_sse_error(data: bytes, cuts: list[int]) -> None:
    try:
        got = decode_all(data, cuts, max_size=128)
    except SseError:
        return
    for message in got:
        assert isinstance(message, SseMessage) and message.data is not None
        assert len(message.data) <= 128


@settings(max_examples=200)
@given(
    prefix=st.lists(messages, max_size=3),
    junk=st.binary(max_size=60).filter(lambda b: b"\n" not in b and b"\r" not in b),
)
def test_junk_in_mid_stream_leaves_the_messages_before_it_intact(
    prefix: list[SseMessage], junk: bytes
) -> None:
    encoded = [encode_message(m) for m in prefix]
    stream = b"".join(encoded)
    cut = len(stream) // 2
    mutated = stream[:cut] + junk + stream[cut:]
    try:
        got = decode_all(mutated, [len(stream) // 3], max_size=256)
    except SseError:
        return
    whole = decode_all(stream)
    intact, end = 0, 0
    for chunk in encoded:
        end += len(chunk)
        if end > cut:
            break
        intact += 1
    assert got[:intact] == whole[:intact]
