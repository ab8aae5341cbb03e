"""SMB2 SESSION_SETUP request/response (MS-SMB2 2.2.5, 2.2.6). Sans-IO."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from peerwork.proto.smb2_header import HEADER_SIZE, MalformedPacket, body_buffer

SESSION_FLAG_BINDING = 0x01

SESSION_FLAG_IS_GUEST = 0x0001
SESSION_FLAG_IS_NULL = 0x0002
SESSION_FLAG_ENCRYPT_DATA = 0x0004

_REQ = struct.Struct("<HBBIIHHQ")
_RESP = struct.Struct("<HHHH")


@dataclass(frozen=True, slots=True)
class SessionSetupRequest:
    flags: int
    security_mode: int
    capabilities: int
    previous_session_id: int
    security_buffer: bytes

    @classmethod
    def parse(cls, body: bytes | memoryview) -> SessionSetupRequest:
        if len(body) < _REQ.size:
            raise MalformedPacket("SESSION_SETUP request truncated")
        size, flags, mode, caps, _chan, off, ln, prev = _REQ.unpack_from(body, 0)
        if size != 25:
            raise MalformedPacket(f"SESSION_SETUP StructureSize {size}, expected 25")
        return cls(flags, mode, caps, prev, body_buffer(body, off, ln, _REQ.size))

    def pack(self) -> bytes:
        off = HEADER_SIZE + _REQ.size if self.security_buffer else 0
        return (
            _REQ.pack(
                25,
                self.flags,
                self.security_mode,
                self.capabilities,
                0,
                off,
                len(self.security_buffer),
                self.previous_session_id,
            )
            + self.security_buffer
        )


@dataclass(frozen=True, slots=True)
class SessionSetupResponse:
    session_flags: int
    security_buffer: bytes

    def pack(self) -> bytes:
        off = HEADER_SIZE + _RESP.size
        return _RESP.pack(9, self.session_flags, off, len(self.security_buffer)) + (
            self.security_buffer or b"\x00"
        )

    @classmethod
    def parse(cls, body: bytes | memoryview) -> SessionSetupResponse:
        if len(body) < _RESP.size:
            raise MalformedPacket("SESSION_SETUP response truncated")
        size, flags, off, ln = _RESP.unpack_from(body, 0)
        if size != 9:
            raise MalformedPacket("SESSION_SETUP response StructureSize is not 9")
        return cls(flags, body_buffer(body, off, ln, _RESP.size))
