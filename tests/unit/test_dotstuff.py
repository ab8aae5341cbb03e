"""peerwork.proto.dotstuff: SMTP DATA decoding and POP3 stuffing, split anywhere."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerwork.proto.dotstuff import DataDecoder, DotStuffer, stuff

LINES = st.lists(st.sampled_from([b"", b".", b"..", b".x", b"a", b"a.b", b". ", b"\x00", b"\xff"]))


def _decode_in(chunks: list[bytes]) -> tuple[bytes, DataDecoder]:
    """Feed until done; the chunks not fed are appended to ``rest``, as a server reads them."""
    decoder, out = DataDecoder(), []
    for i, chunk in enumerate(chunks):
        out.append(decoder.feed(chunk))
        if decoder.done:
            decoder.rest += b"".join(chunks[i + 1 :])
            break
    return b"".join(out), decoder


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@given(LINES, st.lists(st.integers(min_value=0, max_value=10_000)), st.binary(max_size=20))
def test_round_trip_split_anywhere(lines: list[bytes], cuts: list[int], after: bytes) -> None:
    message = b"".join(line + b"\r\n" for line in lines)
    wire = stuff(message) + after
    decoded, decoder = _decode_in(_split(wire, cuts))
    assert decoder.done
    assert decoded == message
    assert decoder.rest == after


@given(st.binary(max_size=300), st.lists(st.integers(min_value=0, max_value=400)))
def test_hostile_data_never_raises(data: bytes, cuts: list[int]) -> None:
    decoded, decoder = _decode_in(_split(data, cuts))
    # Output never exceeds input; the terminator is recognised wherever it is.
    assert len(decoded) <= len(data)
    assert decoder.done == (b"\r\n.\r\n" in b"\r\n" + data)


@given(st.binary(max_size=300), st.lists(st.integers(min_value=0, max_value=400)))
def test_stuffer_chunks_equal_whole(data: bytes, cuts: list[int]) -> None:
    stuffer = DotStuffer()
    chunked = b"".join(stuffer.feed(c) for c in _split(data, cuts)) + stuffer.end()
    assert chunked == stuff(data)


def test_examples() -> None:
    assert stuff(b".hidden\r\nok\r\n") == b"..hidden\r\nok\r\n.\r\n"
    assert stuff(b"no newline") == b"no newline\r\n.\r\n"
    assert stuff(b"") == b".\r\n"
    decoder = DataDecoder()
    assert decoder.feed(b".\r\nQUIT\r\n") == b""
    assert decoder.done and decoder.rest == b"QUIT\r\n"
    with pytest.raises(RuntimeError):
        decoder.feed(b"x")
