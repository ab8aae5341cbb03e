"""The agent-to-agent channel's wire format: length-prefixed frames, sans-IO.

Inside the mutual-TLS stream both sides exchange frames::

    u32 length          bytes that follow (kind + payload), 1 .. max_frame
    u8  kind            REQUEST, REPLY, ERROR, CHUNK, END
    payload

``REQUEST``: ``u8 channel version | u16 type version | u8 name length | name |
u8 flags | body``. ``REPLY``: ``u8 flags | body``. A body is one UTF-8 JSON
object. ``ERROR``: ``u16 code | UTF-8 message``. ``CHUNK``: raw bytes of a
body stream; ``END`` (empty) closes it.

A conversation is one request at a time per connection: the client sends a
REQUEST (then, when its ``STREAM`` flag is set, CHUNK frames and one END); the
server answers a REPLY (with its own CHUNK…END stream when flagged) or an
ERROR. Either side may send ERROR instead of END to abort a stream; a
connection whose stream was cut is closed, never resynchronised. Large
payloads (a 100 MB mail message) travel as a stream of chunks, so neither
side holds them whole.

Requests are typed by name (``hello``, ``mail.deliver``) and by a version per
name, so a service can change its body and still answer older peers. The
channel version byte covers the framing itself.

:class:`FrameDecoder` turns received bytes into :class:`Frame` values and
refuses anything malformed with :class:`ChannelProtocolError` without
consuming it; ``pack`` is the exact inverse of parsing for every value this
module builds.
"""

from __future__ import annotations

import enum
import json
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from peerwork.errors import PeerworkError

CHANNEL_VERSION = 1
# One frame holds a request head or one chunk; bodies beyond it are streamed.
MAX_FRAME = 1 << 20
CHUNK_SIZE = 256 * 1024
MAX_NAME = 64
MAX_ERROR_MESSAGE = 1024
STREAM = 0x01
_KNOWN_FLAGS = STREAM
_NAME = re.compile(r"^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$")
_LENGTH = struct.Struct(">I")
_REQUEST_HEAD = struct.Struct(">BHB")
_ERROR_HEAD = struct.Struct(">H")


class ChannelProtocolError(PeerworkError):
    """The peer sent bytes that are not a valid channel frame (its fault, not ours)."""

    code = "channel-protocol"


class FrameKind(enum.IntEnum):
    REQUEST = 1
    REPLY = 2
    ERROR = 3
    CHUNK = 4
    END = 5


class ErrorCode(enum.IntEnum):
    """Codes of ERROR frames; services may add their own from 100 up."""

    BAD_FRAME = 1
    UNSUPPORTED_CHANNEL = 2
    UNKNOWN_REQUEST = 3
    UNSUPPORTED_VERSION = 4
    BAD_BODY = 5
    TOO_LARGE = 6
    FORBIDDEN = 7
    BUSY = 8
    TIMEOUT = 9
    INTERNAL = 10
    REFUSED = 11  # the handler understood and declined (e.g. a full mailbox)


def valid_name(name: str) -> bool:
    """Request type names: dotted lower-case words, ``hello``, ``mail.deliver``."""
    return len(name) <= MAX_NAME and _NAME.match(name) is not None


def _check_body(body: Mapping[str, Any]) -> None:
    if not isinstance(body, Mapping):
        raise TypeError("a channel body must be a mapping")


def _encode_body(body: Mapping[str, Any]) -> bytes:
    return json.dumps(dict(body), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _decode_body(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ChannelProtocolError("frame body is not UTF-8 JSON") from None
    if not isinstance(value, dict):
        raise ChannelProtocolError("frame body must be a JSON object")
    return value


@dataclass(frozen=True, slots=True)
class Request:
    """A typed, versioned request; ``stream`` says CHUNK…END frames follow."""

    name: str
    version: int
    body: Mapping[str, Any] = field(default_factory=dict)
    stream: bool = False
    channel_version: int = CHANNEL_VERSION

    def __post_init__(self) -> None:
        if not valid_name(self.name):
            raise ValueError(f"bad request type name {self.name!r}")
        if not 0 <= self.version <= 0xFFFF or not 0 <= self.channel_version <= 0xFF:
            raise ValueError("request version out of range")
        _check_body(self.body)

    def pack(self) -> bytes:
        name = self.name.encode("ascii")
        head = _REQUEST_HEAD.pack(self.channel_version, self.version, len(name))
        flags = bytes([STREAM if self.stream else 0])
        return _frame(FrameKind.REQUEST, head + name + flags + _encode_body(self.body))


@dataclass(frozen=True, slots=True)
class Reply:
    body: Mapping[str, Any] = field(default_factory=dict)
    stream: bool = False

    def __post_init__(self) -> None:
        _check_body(self.body)

    def pack(self) -> bytes:
        flags = bytes([STREAM if self.stream else 0])
        return _frame(FrameKind.REPLY, flags + _encode_body(self.body))


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """``code`` is an :class:`ErrorCode` or a service's own code (kept as sent)."""

    code: int
    message: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.code <= 0xFFFF:
            raise ValueError("error code out of range")
        if len(self.message.encode("utf-8")) > MAX_ERROR_MESSAGE:
            raise ValueError("error message too long")

    def pack(self) -> bytes:
        return _frame(FrameKind.ERROR, _ERROR_HEAD.pack(self.code) + self.message.encode("utf-8"))

    def describe(self) -> str:
        try:
            name = ErrorCode(self.code).name.lower().replace("_", "-")
        except ValueError:
            name = f"error {self.code}"
        return f"{name}: {self.message}" if self.message else name


@dataclass(frozen=True, slots=True)
class Chunk:
    data: bytes

    def __post_init__(self) -> None:
        if not 0 < len(self.data) < MAX_FRAME:
            raise ValueError("a chunk holds 1 .. MAX_FRAME-1 bytes")

    def pack(self) -> bytes:
        return _frame(FrameKind.CHUNK, self.data)


@dataclass(frozen=True, slots=True)
class End:
    def pack(self) -> bytes:
        return _frame(FrameKind.END, b"")


Frame = Request | Reply | ErrorReply | Chunk | End


def _frame(kind: FrameKind, payload: bytes) -> bytes:
    length = 1 + len(payload)
    if length > MAX_FRAME:
        raise ValueError(f"frame of {length} bytes exceeds {MAX_FRAME}; stream the body")
    return _LENGTH.pack(length) + bytes([kind]) + payload


def _flags(value: int) -> bool:
    if value & ~_KNOWN_FLAGS:
        raise ChannelProtocolError(f"unknown frame flags {value:#x}")
    return bool(value & STREAM)


def parse_frame(data: bytes) -> Frame:
    """One frame without its length prefix (kind + payload)."""
    if not data:
        raise ChannelProtocolError("empty frame")
    return _parse_payload(data[0], data[1:])


def _parse_payload(kind_byte: int, payload: bytes) -> Frame:
    try:
        kind = FrameKind(kind_byte)
    except ValueError:
        raise ChannelProtocolError(f"unknown frame kind {kind_byte}") from None
    if kind is FrameKind.REQUEST:
        return _parse_request(payload)
    if kind is FrameKind.REPLY:
        if not payload:
            raise ChannelProtocolError("reply frame without flags")
        return Reply(_decode_body(payload[1:]), _flags(payload[0]))
    if kind is FrameKind.ERROR:
        if len(payload) < _ERROR_HEAD.size:
            raise ChannelProtocolError("error frame too short")
        try:
            message = payload[_ERROR_HEAD.size :].decode("utf-8")
        except UnicodeDecodeError:
            raise ChannelProtocolError("error message is not UTF-8") from None
        if len(payload) - _ERROR_HEAD.size > MAX_ERROR_MESSAGE:
            raise ChannelProtocolError("error message too long")
        return ErrorReply(_ERROR_HEAD.unpack_from(payload)[0], message)
    if kind is FrameKind.CHUNK:
        if not payload:
            raise ChannelProtocolError("empty chunk")
        return Chunk(payload)
    if payload:
        raise ChannelProtocolError("end frame with a payload")
    return End()


def _parse_request(payload: bytes) -> Request:
    if len(payload) < _REQUEST_HEAD.size:
        raise ChannelProtocolError("request frame too short")
    channel_version, version, name_len = _REQUEST_HEAD.unpack_from(payload)
    if channel_version != CHANNEL_VERSION:
        raise UnsupportedChannel(channel_version)
    start = _REQUEST_HEAD.size
    if len(payload) < start + name_len + 1:
        raise ChannelProtocolError("request frame too short for its name")
    try:
        name = payload[start : start + name_len].decode("ascii")
    except UnicodeDecodeError:
        raise ChannelProtocolError("request name is not ASCII") from None
    if not valid_name(name):
        raise ChannelProtocolError(f"bad request type name {name[:MAX_NAME]!r}")
    stream = _flags(payload[start + name_len])
    body = _decode_body(payload[start + name_len + 1 :])
    return Request(name, version, body, stream)


class UnsupportedChannel(ChannelProtocolError):
    """A request framed for a channel version we do not speak (a newer peer)."""

    code = "channel-version"

    def __init__(self, version: int) -> None:
        super().__init__(f"channel version {version} is not supported (this peer speaks 1)")
        self.version = version


class FrameDecoder:
    """Bytes in, frames out. ``max_frame`` bounds what one frame may claim.

    A length beyond ``max_frame`` is refused as soon as its 4 bytes arrive,
    so a hostile peer cannot make us buffer it. After an error the decoder
    stays broken: the caller closes the connection.
    """

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buffer = bytearray()
        self._broken: ChannelProtocolError | None = None

    def receive_data(self, data: bytes) -> None:
        self._buffer += data

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def next_frame(self) -> Frame | None:
        """The next complete frame, or None until more bytes arrive."""
        if self._broken is not None:
            raise self._broken
        if len(self._buffer) < _LENGTH.size:
            return None
        (length,) = _LENGTH.unpack_from(self._buffer)
        if not 1 <= length <= self.max_frame:
            self._broken = ChannelProtocolError(
                f"frame length {length} outside 1..{self.max_frame}"
            )
            raise self._broken
        if len(self._buffer) < _LENGTH.size + length:
            return None
        # One copy of the payload out of the buffer: chunks are most of the traffic.
        with memoryview(self._buffer) as view:
            kind, payload = (
                view[_LENGTH.size],
                bytes(view[_LENGTH.size + 1 : _LENGTH.size + length]),
            )
        try:
            frame = _parse_payload(kind, payload)
        except ChannelProtocolError as exc:
            self._broken = exc
            raise
        del self._buffer[: _LENGTH.size + length]
        return frame
