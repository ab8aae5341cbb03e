"""SMB2 NEGOTIATE request/response (MS-SMB2 2.2.3, 2.2.4), with the 3.1.1 negotiate
contexts (smb2_negctx). Sans-IO."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from peerwork.proto.smb2_header import HEADER_SIZE, MalformedPacket
from peerwork.proto.smb2_negctx import NegotiateContext, align8, pack_contexts, parse_contexts

DIALECT_202 = 0x0202
DIALECT_210 = 0x0210
DIALECT_300 = 0x0300
DIALECT_302 = 0x0302
DIALECT_311 = 0x0311
DIALECT_WILDCARD = 0x02FF  # "SMB 2.???" answer to an SMB1 negotiate offering it

# What this server speaks, best first.
SUPPORTED_DIALECTS = (DIALECT_311, DIALECT_302, DIALECT_300, DIALECT_210, DIALECT_202)

SIGNING_ENABLED = 0x0001
SIGNING_REQUIRED = 0x0002

CAP_DFS = 0x00000001
CAP_LEASING = 0x00000002
CAP_LARGE_MTU = 0x00000004
CAP_MULTI_CHANNEL = 0x00000008
CAP_ENCRYPTION = 0x00000040


def is_smb3(dialect: int | None) -> bool:
    return dialect is not None and dialect >= DIALECT_300


_REQ = struct.Struct("<HHHHI16s8s")
_RESP = struct.Struct("<HHHH16sIIIIQQHHI")


@dataclass(frozen=True, slots=True)
class NegotiateRequest:
    dialects: tuple[int, ...]
    security_mode: int
    capabilities: int
    client_guid: bytes
    # Only when 3.1.1 is offered (the field is ClientStartTime otherwise).
    contexts: tuple[NegotiateContext, ...] = ()

    @classmethod
    def parse(cls, body: bytes | memoryview) -> NegotiateRequest:
        if len(body) < _REQ.size:
            raise MalformedPacket("NEGOTIATE request truncated")
        size, count, mode, _res, caps, guid, start = _REQ.unpack_from(body, 0)
        if size != 36:
            raise MalformedPacket(f"NEGOTIATE StructureSize {size}, expected 36")
        if count == 0:
            raise MalformedPacket("NEGOTIATE offers no dialect")
        end = _REQ.size + 2 * count
        if end > len(body):
            raise MalformedPacket("NEGOTIATE dialect list runs past the message")
        dialects = struct.unpack_from(f"<{count}H", body, _REQ.size)
        contexts: tuple[NegotiateContext, ...] = ()
        if DIALECT_311 in dialects:
            offset, ctx_count = struct.unpack_from("<IH", start, 0)
            contexts = parse_contexts(body, offset, ctx_count, HEADER_SIZE)
        return cls(tuple(dialects), mode, caps, bytes(guid), contexts)

    def pack(self) -> bytes:
        """For tests and golden round trips."""
        dialects = struct.pack(f"<{len(self.dialects)}H", *self.dialects)
        start = b"\x00" * 8
        tail = b""
        if self.contexts:
            offset = align8(HEADER_SIZE + _REQ.size + len(dialects))
            start = struct.pack("<IHH", offset, len(self.contexts), 0)
            tail = b"\x00" * (offset - HEADER_SIZE - _REQ.size - len(dialects))
            tail += pack_contexts(self.contexts)
        head = _REQ.pack(
            36,
            len(self.dialects),
            self.security_mode,
            0,
            self.capabilities,
            self.client_guid,
            start,
        )
        return head + dialects + tail


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
    contexts: tuple[NegotiateContext, ...] = ()

    def pack(self) -> bytes:
        offset = HEADER_SIZE + _RESP.size
        ctx_offset = align8(offset + len(self.security_buffer)) if self.contexts else 0
        tail = b""
        if self.contexts:
            tail = b"\x00" * (ctx_offset - offset - len(self.security_buffer))
            tail += pack_contexts(self.contexts)
        return (
            _RESP.pack(
                65,
                self.security_mode,
                self.dialect,
                len(self.contexts),
                self.server_guid,
                self.capabilities,
                self.max_transact,
                self.max_read,
                self.max_write,
                self.system_time,
                self.server_start_time,
                offset,
                len(self.security_buffer),
                ctx_offset,
            )
            + self.security_buffer
            + tail
        )

    @classmethod
    def parse(cls, body: bytes | memoryview) -> NegotiateResponse:
        if len(body) < _RESP.size:
            raise MalformedPacket("NEGOTIATE response truncated")
        (size, mode, dialect, ctx_count, guid, caps, mt, mr, mw, st, sst, off, ln, ctx_off) = (
            _RESP.unpack_from(body, 0)
        )
        if size != 65:
            raise MalformedPacket("NEGOTIATE response StructureSize is not 65")
        start = off - HEADER_SIZE
        if ln and (start < _RESP.size or start + ln > len(body)):
            raise MalformedPacket("NEGOTIATE response security buffer out of range")
        buf = bytes(body[start : start + ln]) if ln else b""
        contexts: tuple[NegotiateContext, ...] = ()
        if dialect == DIALECT_311:
            contexts = parse_contexts(body, ctx_off, ctx_count, HEADER_SIZE)
        return cls(mode, dialect, bytes(guid), caps, mt, mr, mw, st, sst, buf, contexts)
