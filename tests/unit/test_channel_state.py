"""The channel conversation table: legal exchanges, turns refused without a change."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerwork.proto.channel import (
    ChannelProtocolError,
    Chunk,
    End,
    ErrorCode,
    ErrorReply,
    Frame,
    Reply,
    Request,
)
from peerwork.proto.channel_state import ChannelMisuse, Conversation, Phase, Side

C, S = Side.CLIENT, Side.SERVER


def exchange(*steps: tuple[Side, Frame]) -> tuple[Conversation, Conversation]:
    """Play frames through both ends, as sender and receiver; both must agree."""
    client, server = Conversation(C), Conversation(S)
    for sender, frame in steps:
        src, dst = (client, server) if sender is C else (server, client)
        src.send(frame)
        dst.receive(frame)
        assert client.phase is server.phase
    return client, server


def test_plain_and_streamed_exchanges_return_to_idle() -> None:
    client, _ = exchange(
        (C, Request("hello", 1)),
        (S, Reply({})),
        (C, Request("mail.deliver", 1, stream=True)),
        (C, Chunk(b"x")),
        (C, Chunk(b"y")),
        (C, End()),
        (S, Reply({}, stream=True)),
        (S, Chunk(b"z")),
        (S, End()),
        (C, Request("hello", 1)),
        (S, ErrorReply(ErrorCode.UNKNOWN_REQUEST)),
    )
    assert client.phase is Phase.IDLE


@pytest.mark.parametrize(
    "steps",
    [
        [(S, ErrorReply(ErrorCode.FORBIDDEN))],  # a caller refused at connect
        [(C, Request("a", 1, stream=True)), (S, ErrorReply(ErrorCode.TOO_LARGE))],
        [(C, Request("a", 1, stream=True)), (C, ErrorReply(ErrorCode.INTERNAL))],
        [(C, Request("a", 1)), (S, Reply({}, stream=True)), (C, ErrorReply(1))],
        [(C, Request("a", 1)), (S, Reply({}, stream=True)), (S, ErrorReply(1))],
    ],
)
def test_cut_streams_and_refused_callers_end_the_connection(
    steps: list[tuple[Side, Frame]],
) -> None:
    client, server = exchange(*steps)
    assert client.phase is server.phase is Phase.CLOSING
    with pytest.raises(ChannelMisuse):
        client.send(Request("hello", 1))
    server.receive(Chunk(b"late"))  # drained and ignored
    assert server.phase is Phase.CLOSING


@pytest.mark.parametrize(
    ("before", "sender", "frame"),
    [
        ([], C, Chunk(b"x")),
        ([], C, End()),
        ([], S, Reply({})),
        ([], S, Chunk(b"x")),
        ([(C, Request("a", 1))], C, Request("b", 1)),
        ([(C, Request("a", 1, stream=True))], C, Request("b", 1)),
        ([(C, Request("a", 1, stream=True))], S, Reply({})),  # no reply before END
        ([(C, Request("a", 1))], C, Chunk(b"x")),
        ([(C, Request("a", 1))], S, End()),
        ([(C, Request("a", 1)), (S, Reply({}, stream=True))], C, Chunk(b"x")),
    ],
)
def test_frames_out_of_turn_are_refused_and_change_nothing(
    before: list[tuple[Side, Frame]], sender: Side, frame: Frame
) -> None:
    client, server = exchange(*before)
    src, dst = (client, server) if sender is C else (server, client)
    phase = src.phase
    with pytest.raises(ChannelMisuse):
        src.send(frame)
    with pytest.raises(ChannelProtocolError, match="out of turn"):
        dst.receive(frame)
    assert src.phase is dst.phase is phase


frames = st.one_of(
    st.builds(Request, st.just("a"), st.just(1), st.just({}), st.booleans()),
    st.builds(Reply, st.just({}), st.booleans()),
    st.builds(ErrorReply, st.integers(1, 11)),
    st.just(Chunk(b"x")),
    st.just(End()),
)


@given(st.lists(st.tuples(st.sampled_from([C, S]), frames), max_size=30))
def test_any_sequence_keeps_both_ends_in_step_or_is_refused_cleanly(
    steps: list[tuple[Side, Frame]],
) -> None:
    client, server = Conversation(C), Conversation(S)
    for sender, frame in steps:
        src, dst = (client, server) if sender is C else (server, client)
        before = src.phase
        try:
            src.send(frame)
        except ChannelMisuse:
            assert src.phase is before
            continue
        dst.receive(frame)  # whatever one end may send, the other accepts
        assert client.phase is server.phase
