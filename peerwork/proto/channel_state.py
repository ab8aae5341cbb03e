"""Who may send which channel frame when: one conversation's state, as one table.

Rules (one request at a time per connection; c2s = client to server):

- Between requests (IDLE) the client sends a REQUEST. The server may send an
  ERROR only to refuse the whole connection (a caller it does not accept).
- A REQUEST with the STREAM flag opens the request body (REQUEST_BODY):
  CHUNK frames, then END. Either side may cut it with an ERROR, which ends
  the connection (CLOSING): an unread stream cannot be skipped safely. A
  server replies only once it has read the stream to its END.
- Then the reply is due (AWAIT_REPLY): a REPLY (with STREAM: CHUNK… END in
  REPLY_BODY, which either side may cut with an ERROR) or an ERROR; after
  either, the connection is IDLE again.
- In CLOSING, what arrives is dropped and nothing more may be sent.

Sans-IO, as h11's state table: :meth:`Conversation.send` checks our own
frames (a :class:`ChannelMisuse` is a bug here), :meth:`Conversation.receive`
the peer's (a :class:`ChannelProtocolError` is the peer's fault). A refused
frame changes nothing.
"""

from __future__ import annotations

import enum

from peerwork.errors import PeerworkError

from .channel import ChannelProtocolError, Chunk, End, ErrorReply, Frame, Reply, Request


class ChannelMisuse(PeerworkError):
    """We tried to send a frame the conversation does not allow (our bug)."""

    code = "channel-misuse"


class Side(enum.Enum):
    CLIENT = "client"
    SERVER = "server"


class Phase(enum.Enum):
    IDLE = "idle"
    REQUEST_BODY = "request-body"
    AWAIT_REPLY = "await-reply"
    REPLY_BODY = "reply-body"
    CLOSING = "closing"


class _Kind(enum.Enum):
    REQUEST = "request"
    STREAMED_REQUEST = "streamed request"
    REPLY = "reply"
    STREAMED_REPLY = "streamed reply"
    ERROR = "error"
    CHUNK = "chunk"
    END = "end"


_C2S, _S2C = Side.CLIENT, Side.SERVER  # the side that sends the frame

# (phase, sender, frame kind) -> next phase. Everything absent is illegal.
_TABLE: dict[tuple[Phase, Side, _Kind], Phase] = {
    (Phase.IDLE, _C2S, _Kind.REQUEST): Phase.AWAIT_REPLY,
    (Phase.IDLE, _C2S, _Kind.STREAMED_REQUEST): Phase.REQUEST_BODY,
    (Phase.IDLE, _S2C, _Kind.ERROR): Phase.CLOSING,
    (Phase.REQUEST_BODY, _C2S, _Kind.CHUNK): Phase.REQUEST_BODY,
    (Phase.REQUEST_BODY, _C2S, _Kind.END): Phase.AWAIT_REPLY,
    (Phase.REQUEST_BODY, _C2S, _Kind.ERROR): Phase.CLOSING,
    (Phase.REQUEST_BODY, _S2C, _Kind.ERROR): Phase.CLOSING,
    (Phase.AWAIT_REPLY, _S2C, _Kind.REPLY): Phase.IDLE,
    (Phase.AWAIT_REPLY, _S2C, _Kind.STREAMED_REPLY): Phase.REPLY_BODY,
    (Phase.AWAIT_REPLY, _S2C, _Kind.ERROR): Phase.IDLE,
    (Phase.REPLY_BODY, _S2C, _Kind.CHUNK): Phase.REPLY_BODY,
    (Phase.REPLY_BODY, _S2C, _Kind.END): Phase.IDLE,
    (Phase.REPLY_BODY, _S2C, _Kind.ERROR): Phase.CLOSING,
    (Phase.REPLY_BODY, _C2S, _Kind.ERROR): Phase.CLOSING,
}


def _kind(frame: Frame) -> _Kind:
    if isinstance(frame, Request):
        return _Kind.STREAMED_REQUEST if frame.stream else _Kind.REQUEST
    if isinstance(frame, Reply):
        return _Kind.STREAMED_REPLY if frame.stream else _Kind.REPLY
    if isinstance(frame, ErrorReply):
        return _Kind.ERROR
    if isinstance(frame, Chunk):
        return _Kind.CHUNK
    if isinstance(frame, End):
        return _Kind.END
    raise TypeError(f"not a channel frame: {frame!r}")


class Conversation:
    """One end's view of a connection's conversation."""

    def __init__(self, side: Side) -> None:
        self.side = side
        self.phase = Phase.IDLE

    @property
    def peer(self) -> Side:
        return Side.SERVER if self.side is Side.CLIENT else Side.CLIENT

    def close(self) -> None:
        """We are ending this connection (after an error that leaves it unusable)."""
        self.phase = Phase.CLOSING

    def send(self, frame: Frame) -> None:
        """Record a frame we are about to send; ChannelMisuse if it is out of turn."""
        nxt = _TABLE.get((self.phase, self.side, _kind(frame)))
        if nxt is None:
            raise ChannelMisuse(
                f"a {self.side.value} may not send a {_kind(frame).value} in {self.phase.value}"
            )
        self.phase = nxt

    def receive(self, frame: Frame) -> None:
        """Record a frame the peer sent; ChannelProtocolError if it is out of turn.

        In CLOSING every frame is accepted and ignored (we are draining)."""
        if self.phase is Phase.CLOSING:
            return
        nxt = _TABLE.get((self.phase, self.peer, _kind(frame)))
        if nxt is None:
            raise ChannelProtocolError(
                f"a {_kind(frame).value} from the {self.peer.value} is out of turn "
                f"({self.phase.value})"
            )
        self.phase = nxt
