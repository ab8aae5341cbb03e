"""The channel's frame codec: round trips, limits, and hostile bytes (hypothesis)."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.proto.channel import (
    MAX_FRAME,
    ChannelProtocolError,
    Chunk,
    End,
    ErrorCode,
    ErrorReply,
    Frame,
    FrameDecoder,
    Reply,
    Request,
    UnsupportedChannel,
    parse_frame,
)
from peerwork.proto.channel_body import BodyError
from peerwork.proto.channel_hello import HELLO, HelloReply, HelloRequest

names = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z][a-z0-9-]{0,10}){0,2}", fullmatch=True)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
bodies = st.dictionaries(st.text(max_size=12), json_values, max_size=6)
frames: st.SearchStrategy[Frame] = st.one_of(
    st.builds(Request, names, st.integers(0, 0xFFFF), bodies, st.booleans()),
    st.builds(Reply, bodies, st.booleans()),
    st.builds(ErrorReply, st.integers(0, 0xFFFF), st.text(max_size=100)),
    st.builds(Chunk, st.binary(min_size=1, max_size=2000)),
    st.just(End()),
)


def decode_all(data: bytes, step: int = 7) -> list[Frame]:
    decoder = FrameDecoder()
    out: list[Frame] = []
    for i in range(0, len(data), step):
        decoder.receive_data(data[i : i + step])
        while (frame := decoder.next_frame()) is not None:
            out.append(frame)
    assert decoder.buffered == 0
    return out


@given(st.lists(frames, max_size=6), st.integers(1, 50))
def test_frames_round_trip_in_any_split(items: list[Frame], step: int) -> None:
    wire = b"".join(f.pack() for f in items)
    assert decode_all(wire, step) == items
    # pack is the exact inverse of parse for what we build
    assert b"".join(f.pack() for f in decode_all(wire)) == wire


def test_request_layout_is_as_documented() -> None:
    wire = Request("mail.deliver", 2, {"to": "bob"}, stream=True).pack()
    body = b'{"to":"bob"}'
    payload = b"\x01" + b"\x01\x00\x02" + b"\x0c" + b"mail.deliver" + b"\x01" + body
    assert wire == struct.pack(">I", len(payload)) + payload


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_the_decoder(data: bytes) -> None:
    decoder = FrameDecoder(max_frame=256)
    decoder.receive_data(data)
    try:
        while decoder.next_frame() is not None:
            pass
    except ChannelProtocolError:
        # Broken for good: the caller closes the connection.
        with pytest.raises(ChannelProtocolError):
            decoder.next_frame()


@settings(max_examples=300)
@given(frames, st.data())
def test_mutated_frames_parse_or_fail_cleanly(frame: Frame, data: st.DataObject) -> None:
    wire = bytearray(frame.pack())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(wire) - 1))
        wire[i] = data.draw(st.integers(0, 255))
    try:
        out = parse_frame(bytes(wire[4:]))
    except ChannelProtocolError:
        return
    assert parse_frame(out.pack()[4:]) == out


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b"", "empty frame"),
        (b"\x09", "unknown frame kind"),
        (b"\x01\x01\x00", "too short"),
        (b"\x01\x01\x00\x01\x20hello\x00{}", "too short for its name"),
        (b"\x01\x01\x00\x01\x05HELLO\x00{}", "bad request type name"),
        (b"\x01\x01\x00\x01\x05hello\x02{}", "unknown frame flags"),
        (b"\x01\x01\x00\x01\x05hello\x00[1]", "JSON object"),
        (b"\x01\x01\x00\x01\x05hello\x00{\xff}", "not UTF-8 JSON"),
        (b"\x01\x01\x00\x01\x05hello\x00" + b"[" * 100_000, "not UTF-8 JSON"),
        (b"\x02", "without flags"),
        (b"\x03\x00", "too short"),
        (b"\x03\x00\x01\xc3", "not UTF-8"),
        (b"\x04", "empty chunk"),
        (b"\x05x", "end frame with a payload"),
    ],
)
def test_malformed_frames_are_refused_with_a_reason(payload: bytes, why: str) -> None:
    with pytest.raises(ChannelProtocolError, match=why):
        parse_frame(payload)


def test_a_newer_channel_version_is_named() -> None:
    with pytest.raises(UnsupportedChannel) as info:
        parse_frame(b"\x01\x02\x00\x01\x05hello\x00{}")
    assert info.value.version == 2


def test_an_oversized_length_is_refused_before_its_bytes_arrive() -> None:
    decoder = FrameDecoder()
    decoder.receive_data(struct.pack(">I", MAX_FRAME + 1))
    with pytest.raises(ChannelProtocolError, match="outside"):
        decoder.next_frame()
    decoder = FrameDecoder()
    decoder.receive_data(struct.pack(">I", 0))
    with pytest.raises(ChannelProtocolError):
        decoder.next_frame()


def test_building_invalid_frames_is_our_error() -> None:
    with pytest.raises(ValueError):
        Request("Bad Name", 1)
    with pytest.raises(ValueError):
        Request("hello", 70000)
    with pytest.raises(ValueError):
        Chunk(b"")
    with pytest.raises(ValueError):
        ErrorReply(1, "x" * 2000)
    with pytest.raises(ValueError, match="stream the body"):
        Reply({"blob": "x" * MAX_FRAME}).pack()


def test_error_replies_describe_themselves() -> None:
    assert ErrorReply(ErrorCode.FORBIDDEN, "not a member").describe() == "forbidden: not a member"
    assert ErrorReply(150).describe() == "error 150"


def test_hello_bodies_round_trip_and_refuse_wrong_fields() -> None:
    reply = HelloReply("PC1", "abc", "OFFICE", "0.1.0", 1)
    assert HELLO.parse_reply(reply.to_body()) == reply
    assert HELLO.parse_request(HelloRequest("PC2").to_body()) == HelloRequest("PC2")
    with pytest.raises(BodyError, match="'protocol'"):
        HELLO.parse_reply(reply.to_body() | {"protocol": True})
    with pytest.raises(BodyError, match="'name'"):
        HELLO.parse_request({"name": "x" * 1000})
    with pytest.raises(BodyError, match="'name'"):
        HELLO.parse_request({})


@given(bodies)
def test_hello_parsers_take_any_json_object_without_crashing(body: dict[str, object]) -> None:
    for parse in (HELLO.parse_request, HELLO.parse_reply):
        with contextlib.suppress(BodyError):
            parse(body)
