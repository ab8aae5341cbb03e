"""Connection-oriented DCE/RPC PDUs (C706 ch. 12, MS-RPCE 2.2.2) as named pipes carry them.

Sans-IO: :func:`parse_header` and the ``parse_*`` functions take bytes and
return frozen values or raise :class:`MalformedPdu` (nothing else);
``pack_*`` build PDUs. Only what a share-listing server needs is here:
BIND / ALTER_CONTEXT and their answers, REQUEST, RESPONSE, FAULT. Only
little-endian NDR 2.0 is spoken; authenticated binds are refused, so every
PDU we accept has ``auth_length == 0``.
"""

from __future__ import annotations

import enum
import struct
import uuid
from dataclasses import dataclass

from peerwork.errors import InvalidInput

HEADER_SIZE = 16
RPC_VERS = 5
RPC_VERS_MINOR = 0
# MS-RPCE 3.3.1.5.2.2: fragments of at least this size must always be acceptable.
MIN_FRAG = 1432
# What Windows and Samba offer; large enough that share lists rarely fragment.
DEFAULT_MAX_FRAG = 4280
# Little-endian integers, ASCII characters, IEEE floats.
DREP_LE = b"\x10\x00\x00\x00"


class PType(enum.IntEnum):
    REQUEST = 0
    RESPONSE = 2
    FAULT = 3
    BIND = 11
    BIND_ACK = 12
    BIND_NAK = 13
    ALTER_CONTEXT = 14
    ALTER_CONTEXT_RESP = 15
    AUTH3 = 16
    SHUTDOWN = 17
    CO_CANCEL = 18
    ORPHANED = 19


# pfc_flags
PFC_FIRST_FRAG = 0x01
PFC_LAST_FRAG = 0x02
PFC_PENDING_CANCEL = 0x04
PFC_CONC_MPX = 0x10
PFC_DID_NOT_EXECUTE = 0x20
PFC_OBJECT_UUID = 0x80


class Fault(enum.IntEnum):
    """Fault status codes (C706 appendix E, MS-RPCE 2.2.2.11)."""

    OP_RNG_ERROR = 0x1C010002
    UNK_IF = 0x1C010003
    PROTO_ERROR = 0x1C01000B
    CONTEXT_MISMATCH = 0x1C00001A
    ACCESS_DENIED = 0x00000005
    # RPC_X_BAD_STUB_DATA: Windows' answer to stub data that does not unmarshal.
    BAD_STUB_DATA = 0x000006F7
    REMOTE_NO_MEMORY = 0x1C010004


class AckResult(enum.IntEnum):
    ACCEPTANCE = 0
    USER_REJECTION = 1
    PROVIDER_REJECTION = 2
    NEGOTIATE_ACK = 3  # answer to a bind-time feature negotiation syntax


class AckReason(enum.IntEnum):
    NOT_SPECIFIED = 0
    ABSTRACT_SYNTAX_NOT_SUPPORTED = 1
    TRANSFER_SYNTAXES_NOT_SUPPORTED = 2
    LOCAL_LIMIT_EXCEEDED = 3


class NakReason(enum.IntEnum):
    NOT_SPECIFIED = 0
    TEMPORARY_CONGESTION = 1
    LOCAL_LIMIT_EXCEEDED = 2
    PROTOCOL_VERSION_NOT_SUPPORTED = 4
    AUTHENTICATION_TYPE_NOT_RECOGNIZED = 8


class MalformedPdu(InvalidInput):
    """Bytes on an RPC pipe that are not a well-formed PDU."""

    code = "malformed-pdu"


@dataclass(frozen=True, slots=True)
class SyntaxId:
    """An interface or transfer syntax: UUID plus (major, minor) version."""

    uuid: uuid.UUID
    major: int
    minor: int

    def pack(self) -> bytes:
        return self.uuid.bytes_le + struct.pack("<HH", self.major, self.minor)

    @classmethod
    def parse(cls, data: bytes) -> SyntaxId:
        major, minor = struct.unpack_from("<HH", data, 16)
        return cls(uuid.UUID(bytes_le=bytes(data[:16])), major, minor)


NDR20 = SyntaxId(uuid.UUID("8a885d04-1ceb-11c9-9fe8-08002b104860"), 2, 0)
NDR64 = SyntaxId(uuid.UUID("71710533-beba-4937-8319-b5dbef9ccc36"), 1, 0)
NULL_SYNTAX = SyntaxId(uuid.UUID(int=0), 0, 0)
# Bind-time feature negotiation (MS-RPCE 3.3.1.5.3): 6cb71c2c-9812-4540-<bitmask>, v1.0.
_BTFN_PREFIX = uuid.UUID("6cb71c2c-9812-4540-0000-000000000000").bytes_le[:8]


# The two features defined: security context multiplexing (meaningless here: no RPC-level auth
# is ever accepted) and keeping the connection on an ORPHANED PDU (which we always do).
BTFN_SUPPORTED = 0x0003


def is_bind_time_feature_negotiation(syntax: SyntaxId) -> bool:
    return syntax.uuid.bytes_le[:8] == _BTFN_PREFIX and syntax.major == 1


def bind_time_features(syntax: SyntaxId) -> int:
    """The feature bitmask a bind-time feature negotiation syntax offers."""
    return syntax.uuid.bytes_le[8]


@dataclass(frozen=True, slots=True)
class Header:
    ptype: int  # not PType: unknown types must reach the state machine to be faulted
    flags: int
    drep: bytes
    frag_length: int
    auth_length: int
    call_id: int
    vers: int = RPC_VERS
    vers_minor: int = RPC_VERS_MINOR

    @property
    def little_endian(self) -> bool:
        return self.drep[0] & 0xF0 == 0x10


_HDR = struct.Struct("<BBBB4sHHI")


def parse_header(data: bytes) -> Header:
    """The 16-byte common header. Checks only what framing needs: sizes."""
    if len(data) < HEADER_SIZE:
        raise MalformedPdu(f"RPC PDU header needs {HEADER_SIZE} bytes, got {len(data)}")
    vers, minor, ptype, flags, drep, frag_len, auth_len, call_id = _HDR.unpack_from(data)
    if frag_len < HEADER_SIZE:
        raise MalformedPdu(f"RPC frag_length {frag_len} is shorter than the header")
    return Header(ptype, flags, drep, frag_len, auth_len, call_id, vers, minor)


def pack_pdu(ptype: PType, call_id: int, body: bytes, flags: int) -> bytes:
    hdr = _HDR.pack(
        RPC_VERS,
        RPC_VERS_MINOR,
        ptype,
        flags,
        DREP_LE,
        HEADER_SIZE + len(body),
        0,
        call_id,
    )
    return hdr + body


# --- BIND / ALTER_CONTEXT ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContextElement:
    context_id: int
    abstract: SyntaxId
    transfers: tuple[SyntaxId, ...]


@dataclass(frozen=True, slots=True)
class Bind:
    """BIND or ALTER_CONTEXT body (they share a layout)."""

    max_xmit_frag: int  # the client's largest transmit fragment
    max_recv_frag: int  # the client's largest receive fragment
    assoc_group_id: int
    contexts: tuple[ContextElement, ...]


_BIND_FIXED = struct.Struct("<HHIB3x")
_CTX_FIXED = struct.Struct("<HB1x")


def parse_bind(pdu: bytes) -> Bind:
    """``pdu`` is a whole PDU whose header said BIND or ALTER_CONTEXT."""
    end = len(pdu)
    off = HEADER_SIZE
    if end < off + _BIND_FIXED.size:
        raise MalformedPdu("BIND body too short")
    xmit, recv, group, n_ctx = _BIND_FIXED.unpack_from(pdu, off)
    off += _BIND_FIXED.size
    contexts = []
    for _ in range(n_ctx):
        if end < off + _CTX_FIXED.size + 20:
            raise MalformedPdu("BIND context list runs past the PDU")
        ctx_id, n_ts = _CTX_FIXED.unpack_from(pdu, off)
        off += _CTX_FIXED.size
        abstract = SyntaxId.parse(pdu[off : off + 20])
        off += 20
        if n_ts == 0:
            raise MalformedPdu("BIND context offers no transfer syntax")
        if end < off + 20 * n_ts:
            raise MalformedPdu("BIND transfer syntaxes run past the PDU")
        transfers = tuple(
            SyntaxId.parse(pdu[off + 20 * i : off + 20 * i + 20]) for i in range(n_ts)
        )
        off += 20 * n_ts
        contexts.append(ContextElement(ctx_id, abstract, transfers))
    return Bind(xmit, recv, group, tuple(contexts))


@dataclass(frozen=True, slots=True)
class ContextResult:
    result: AckResult
    reason: int  # AckReason, or the feature bitmask for NEGOTIATE_ACK
    transfer: SyntaxId


def pack_bind_ack(
    *,
    call_id: int,
    max_xmit_frag: int,
    max_recv_frag: int,
    assoc_group_id: int,
    sec_addr: str,
    results: tuple[ContextResult, ...],
    alter: bool = False,
) -> bytes:
    """BIND_ACK, or ALTER_CONTEXT_RESP when ``alter`` (whose sec_addr is empty)."""
    port = (sec_addr.encode("ascii") + b"\x00") if sec_addr and not alter else b""
    body = struct.pack("<HHIH", max_xmit_frag, max_recv_frag, assoc_group_id, len(port)) + port
    # The result list is 4-aligned relative to the start of the PDU.
    body += b"\x00" * (-(HEADER_SIZE + len(body)) % 4)
    body += struct.pack("<B3x", len(results))
    for r in results:
        body += struct.pack("<HH", r.result, r.reason) + r.transfer.pack()
    ptype = PType.ALTER_CONTEXT_RESP if alter else PType.BIND_ACK
    return pack_pdu(ptype, call_id, body, PFC_FIRST_FRAG | PFC_LAST_FRAG)


def pack_bind_nak(call_id: int, reason: NakReason) -> bytes:
    # One supported protocol version: 5.0.
    body = struct.pack("<HBBB", reason, 1, RPC_VERS, RPC_VERS_MINOR)
    body += b"\x00" * (-len(body) % 4)
    return pack_pdu(PType.BIND_NAK, call_id, body, PFC_FIRST_FRAG | PFC_LAST_FRAG)


# --- REQUEST / RESPONSE / FAULT ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestFragment:
    flags: int
    call_id: int
    alloc_hint: int
    context_id: int
    opnum: int
    stub: bytes


_REQ_FIXED = struct.Struct("<IHH")
_RESP_FIXED = struct.Struct("<IHBx")


def parse_request(pdu: bytes, header: Header) -> RequestFragment:
    off = HEADER_SIZE + _REQ_FIXED.size
    if len(pdu) < off:
        raise MalformedPdu("REQUEST body too short")
    alloc_hint, ctx_id, opnum = _REQ_FIXED.unpack_from(pdu, HEADER_SIZE)
    if header.flags & PFC_OBJECT_UUID:
        off += 16
        if len(pdu) < off:
            raise MalformedPdu("REQUEST object UUID runs past the PDU")
    return RequestFragment(header.flags, header.call_id, alloc_hint, ctx_id, opnum, pdu[off:])


RESPONSE_OVERHEAD = HEADER_SIZE + _RESP_FIXED.size


def pack_response(call_id: int, context_id: int, stub: bytes, max_frag: int) -> list[bytes]:
    """The stub split into RESPONSE fragments of at most ``max_frag`` bytes each."""
    # Non-final fragments carry a multiple of 8 stub bytes so NDR alignment holds per fragment.
    room = max(8, (max_frag - RESPONSE_OVERHEAD) // 8 * 8)
    frags = []
    off = 0
    while True:
        chunk = stub[off : off + room]
        flags = PFC_FIRST_FRAG if off == 0 else 0
        last = off + room >= len(stub)
        if last:
            flags |= PFC_LAST_FRAG
        body = _RESP_FIXED.pack(len(stub) - off, context_id, 0) + chunk
        frags.append(pack_pdu(PType.RESPONSE, call_id, body, flags))
        if last:
            return frags
        off += room


def pack_fault(call_id: int, status: int, context_id: int = 0, *, did_not_execute: bool) -> bytes:
    flags = PFC_FIRST_FRAG | PFC_LAST_FRAG | (PFC_DID_NOT_EXECUTE if did_not_execute else 0)
    body = _RESP_FIXED.pack(0, context_id, 0) + struct.pack("<II", status, 0)
    return pack_pdu(PType.FAULT, call_id, body, flags)
