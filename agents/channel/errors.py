"""What goes wrong on a channel, as errors a caller (and a user) can act on."""

from __future__ import annotations

from peerwork.errors import PeerworkError
from peerwork.proto.channel import ErrorReply


class ChannelError(PeerworkError):
    """The channel to a peer could not be used (unreachable, closed, timed out)."""

    code = "channel"
    http_status = 502


class PeerMismatch(ChannelError):
    """The other end proved a key other than the one its peer id names."""

    code = "channel-peer-mismatch"


class ChannelRefused(ChannelError):
    """An ERROR frame: sent by a handler to refuse, or received from the peer.

    ``error`` is the code on the wire (an :class:`ErrorCode` or a service's own).
    """

    code = "channel-refused"

    def __init__(self, error: int, message: str = "") -> None:
        self.error = int(error)
        super().__init__(ErrorReply(self.error, message[:500]).describe())
        self.detail = message

    def frame(self) -> ErrorReply:
        return ErrorReply(self.error, self.detail[:500])

    @classmethod
    def of(cls, reply: ErrorReply) -> ChannelRefused:
        return cls(reply.code, reply.message)
