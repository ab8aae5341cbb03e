"""SMB2 NEGOTIATE request/response (MS-SMB2 2.2.3, 2.2.4). Sans-IO."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from peerwork.proto.smb2_header import HEADER_SIZE, MalformedPacket

DIALECT_202 = 0x0202
DIALECT_210 = 0x0210
DIALECT_300 = 0x0300
DIALECT_302 = 0x0302
DIALECT_311 = 0x0311
DIALECT_WILDCARD = 0x02FF  # "SMB 2.???" answer to an SMB1 negotiate offering it

# What this server speaks, best first.
SUPPORTED_DIALECTS = (DIALECT_210, DIALECT_202)

SIGNING_ENABLED = 0x0001
SIGNING_REQUIRED = 0x0002

CAP_DFS = 0x00000001
CAP_LEASING = 0x00000002
CAP_LARGE_MTU = 0x00000004

_REQ = struct.Struct("<HHHHI16s8s")
_RESP = struct.Struct("<HHHH16sIIIIQQHHI")


@dataclass(frozen=True, slots=True)
class NegotiateRequest:
    dialects: tuple[int, ...]
    security_mode: int
    capabilities: int
    client_guid: bytes

    @classmethod
    def parse(cls, body: bytes | memoryview) -> NegotiateRequest:
        if len(body) < _REQ.size:
            raise MalformedPacket("NEGOTIATE request truncated")
        size, count, mode, _res, caps, guid, _start = _REQ.unpack_from(body, 0)
        if size != 36:
            raise MalformedPacket(f"NEGOTIATE StructureSize {size}, expected 36")
        if count == 0:
            raise MalformedPacket("NEGOTIATE offers no dialect")
        end = _REQ.size + 2 * count
        if end > len(body):
            raise MalformedPacket("NEGOTIATE dialect list runs past the message")
        dialects = struct.unpack_from(f"<{count}H", body, _REQ.size)
        return cls(tuple(dialects), mode, caps, bytes(guid))

    def pack(self) -> bytes:
        """For tests and golden round trips."""
        head = _REQ.pack(
            36,
            len(self.dialects),
            self.security_mode,
            0,
            self.capabilities,
            self.client_guid,
            b"\x00" * 8,
        )
        return head + struct.pack(f"<{len(self.dialects)}H", *self.dialects)


def choose_dialect(offered: tuple[int, ...] | list[int]) -> int | None:
    """The best dialect both sides speak, or None (only 3.x offered, or nothing known)."""
    for d in SUPPORTED_DIALECTS:
        if d in offered:
            return d
    return None


@dataclass(frozen=True, slots=True)
class NegotiateResponse:
    security_mode: int
    dialect: int
    server_guid: bytes
    capabilities: int
    max_transact: int
    max_read: int
    max_write: int
    system_time: int  # FILETIME
    server_start_time: int
    security_buffer: bytes

    def pack(self) -> bytes:
        offset = HEADER_SIZE + _RESP.size
        return (
            _RESP.pack(
                65,
                self.security_mode,
                self.dialect,
                0,
                self.server_guid,
                self.capabilities,
                self.max_transact,
                self.max_read,
                self.max_write,
                self.system_time,
                self.server_start_time,
                offset,
                len(self.security_buffer),
                0,
            )
            + self.security_buffer
        )

    @classmethod
    def parse(cls, body: bytes | memoryview) -> NegotiateResponse:
        if len(body) < _RESP.size:
            raise MalformedPacket("NEGOTIATE response truncated")
        (size, mode, dialect, _c, guid, caps, mt, mr, mw, st, sst, off, ln, _r) = _RESP.unpack_from(
            body, 0
        )
        if size != 65:
            raise MalformedPacket("NEGOTIATE response StructureSize is not 65")
        start = off - HEADER_SIZE
        if ln and (start < _RESP.size or start + ln > len(body)):
            raise MalformedPacket("NEGOTIATE response security buffer out of range")
        buf = bytes(body[start : start + ln]) if ln else b""
        return cls(mode, dialect, bytes(guid), caps, mt, mr, mw, st, sst, buf)
