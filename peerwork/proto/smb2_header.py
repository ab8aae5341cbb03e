"""SMB2 message header (MS-SMB2 2.2.1), NetBIOS session framing, SMB1 negotiate
recognition and the SMB2 ERROR response body.

Sans-IO: bytes in, frozen values out. Every parser here raises
:class:`MalformedPacket` (and nothing else) on hostile input.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

from peerwork.errors import PeerworkError

HEADER_SIZE = 64
PROTOCOL_ID = b"\xfeSMB"
SMB1_PROTOCOL_ID = b"\xffSMB"

# Header flags (MS-SMB2 2.2.1.2).
FLAGS_SERVER_TO_REDIR = 0x00000001
FLAGS_ASYNC_COMMAND = 0x00000002
FLAGS_RELATED_OPERATIONS = 0x00000004
FLAGS_SIGNED = 0x00000008
FLAGS_DFS_OPERATIONS = 0x10000000

# NetBIOS session service: one message type, 24-bit length (RFC 1002 as SMB2 uses it).
NETBIOS_SESSION_MESSAGE = 0x00
NETBIOS_KEEPALIVE = 0x85
NETBIOS_MAX_LENGTH = 0x00FFFFFF

_HDR = struct.Struct("<4sHHIHHIIQ")  # up to and including MessageId (32 bytes)
_SYNC_TAIL = struct.Struct("<IIQ16s")  # Reserved, TreeId, SessionId, Signature
_ASYNC_TAIL = struct.Struct("<QQ16s")  # AsyncId, SessionId, Signature

# The 9-byte SMB2 ERROR response (2.2.2): StructureSize 9, no contexts, ByteCount 0,
# and the one ErrorData byte the StructureSize counts.
ERROR_BODY = b"\x09\x00\x00\x00\x00\x00\x00\x00\x00"


class MalformedPacket(PeerworkError):
    """A peer sent bytes that do not parse; the connection logs and drops or answers an error."""

    code = "malformed-packet"


@dataclass(frozen=True, slots=True)
class Smb2Header:
    command: int
    message_id: int
    flags: int = 0
    status: int = 0
    credit_charge: int = 0
    # CreditRequest in a request, CreditResponse in a response.
    credits: int = 0
    next_command: int = 0
    tree_id: int = 0
    async_id: int = 0
    session_id: int = 0
    signature: bytes = b"\x00" * 16

    @property
    def is_async(self) -> bool:
        return bool(self.flags & FLAGS_ASYNC_COMMAND)

    @property
    def is_related(self) -> bool:
        return bool(self.flags & FLAGS_RELATED_OPERATIONS)

    @property
    def is_signed(self) -> bool:
        return bool(self.flags & FLAGS_SIGNED)

    @property
    def is_response(self) -> bool:
        return bool(self.flags & FLAGS_SERVER_TO_REDIR)

    @classmethod
    def parse(cls, data: bytes | memoryview) -> Smb2Header:
        if len(data) < HEADER_SIZE:
            raise MalformedPacket(f"SMB2 header needs {HEADER_SIZE} bytes, got {len(data)}")
        (proto, size, charge, status, command, credits, flags, next_cmd, msg_id) = _HDR.unpack_from(
            data, 0
        )
        if proto != PROTOCOL_ID:
            raise MalformedPacket("not an SMB2 message (protocol id)")
        if size != HEADER_SIZE:
            raise MalformedPacket(f"SMB2 header StructureSize is {size}, not 64")
        if flags & FLAGS_ASYNC_COMMAND:
            async_id, session_id, sig = _ASYNC_TAIL.unpack_from(data, 32)
            tree_id = 0
        else:
            _reserved, tree_id, session_id, sig = _SYNC_TAIL.unpack_from(data, 32)
            async_id = 0
        return cls(
            command=command,
            message_id=msg_id,
            flags=flags,
            status=status,
            credit_charge=charge,
            credits=credits,
            next_command=next_cmd,
            tree_id=tree_id,
            async_id=async_id,
            session_id=session_id,
            signature=bytes(sig),
        )

    def pack(self) -> bytes:
        head = _HDR.pack(
            PROTOCOL_ID,
            HEADER_SIZE,
            self.credit_charge,
            self.status,
            self.command,
            self.credits,
            self.flags,
            self.next_command,
            self.message_id,
        )
        if self.flags & FLAGS_ASYNC_COMMAND:
            tail = _ASYNC_TAIL.pack(self.async_id, self.session_id, self.signature)
        else:
            tail = _SYNC_TAIL.pack(0, self.tree_id, self.session_id, self.signature)
        return head + tail

    def response(self, **changes: int | bytes) -> Smb2Header:
        """A response header for this request: same command and ids, the response flag set,
        signing and chaining cleared (the core sets them per response)."""
        flags = (self.flags & (FLAGS_ASYNC_COMMAND | FLAGS_RELATED_OPERATIONS)) | (
            FLAGS_SERVER_TO_REDIR
        )
        base = replace(
            self, flags=flags, next_command=0, signature=b"\x00" * 16, status=0, credits=0
        )
        return replace(base, **changes)  # type: ignore[arg-type]


_CREDITS = struct.Struct("<H")  # CreditResponse, at offset 14
_NEXT = struct.Struct("<I")  # NextCommand, at offset 20


def set_credits_and_next(head: bytearray, credits: int, next_command: int) -> None:
    """Fill CreditResponse and NextCommand into a packed header: what a response
    learns only as it leaves (cheaper than packing it again)."""
    if len(head) != HEADER_SIZE:
        raise ValueError(f"an SMB2 header is {HEADER_SIZE} bytes, not {len(head)}")
    _CREDITS.pack_into(head, 14, credits)
    _NEXT.pack_into(head, 20, next_command)


def split_compound(data: bytes | memoryview) -> list[tuple[Smb2Header, memoryview]]:
    """Split a (possibly compound) SMB2 message into ``(header, whole_message)`` pairs.

    Each memoryview covers one command's header and body, exactly the bytes its
    signature covers. Raises MalformedPacket on bad chaining offsets.
    """
    view = memoryview(data)
    out: list[tuple[Smb2Header, memoryview]] = []
    pos = 0
    while True:
        hdr = Smb2Header.parse(view[pos:])
        nxt = hdr.next_command
        if nxt == 0:
            out.append((hdr, view[pos:]))
            return out
        if nxt < HEADER_SIZE or nxt % 8 or pos + nxt > len(view):
            raise MalformedPacket(f"bad NextCommand offset {nxt}")
        out.append((hdr, view[pos : pos + nxt]))
        pos += nxt
        if len(out) >= 128:
            raise MalformedPacket("compound chain longer than 128 commands")


# --- NetBIOS session framing -------------------------------------------------------


def netbios_frame(length: int) -> bytes:
    """The 4-byte session-message header for a payload of ``length`` bytes."""
    if not 0 <= length <= NETBIOS_MAX_LENGTH:
        raise ValueError(f"payload of {length} bytes does not fit a NetBIOS frame")
    return struct.pack(">I", length)


def parse_netbios_header(data: bytes) -> tuple[int, int]:
    """Return ``(message_type, payload_length)`` from the 4-byte header."""
    if len(data) != 4:
        raise MalformedPacket("NetBIOS header is 4 bytes")
    kind = data[0]
    length = int.from_bytes(data[1:4], "big")
    if kind not in (NETBIOS_SESSION_MESSAGE, NETBIOS_KEEPALIVE):
        raise MalformedPacket(f"unexpected NetBIOS message type 0x{kind:02x}")
    return kind, length


# --- SMB1 negotiate (only to upgrade to SMB2) ---------------------------------------

SMB1_COM_NEGOTIATE = 0x72


def parse_smb1_negotiate(data: bytes | memoryview) -> list[str]:
    """Dialect strings of an SMB1 NEGOTIATE request (MS-CIFS 2.2.4.52.1).

    Clients that start with SMB1 (pysmb, old smbclient) list "SMB 2.002" and
    "SMB 2.???" there; the server answers with an SMB2 NEGOTIATE response.
    """
    raw = bytes(data)
    if len(raw) < 35 or raw[:4] != SMB1_PROTOCOL_ID:
        raise MalformedPacket("not an SMB1 message")
    if raw[4] != SMB1_COM_NEGOTIATE:
        raise MalformedPacket(f"SMB1 command 0x{raw[4]:02x} is not NEGOTIATE")
    word_count = raw[32]
    pos = 33 + 2 * word_count
    if pos + 2 > len(raw):
        raise MalformedPacket("SMB1 NEGOTIATE truncated")
    byte_count = int.from_bytes(raw[pos : pos + 2], "little")
    buf = raw[pos + 2 : pos + 2 + byte_count]
    if len(buf) != byte_count:
        raise MalformedPacket("SMB1 NEGOTIATE byte count beyond the message")
    dialects: list[str] = []
    for chunk in buf.split(b"\x00"):
        if not chunk:
            continue
        if chunk[0] != 0x02:
            raise MalformedPacket("SMB1 dialect without the 0x02 buffer format")
        dialects.append(chunk[1:].decode("ascii", "replace"))
    return dialects


def body_buffer(body: bytes | memoryview, offset: int, length: int, fixed: int) -> bytes:
    """The variable buffer a request names by (offset from the header start, length).

    ``fixed`` is the size of the command's fixed part: a buffer may not overlap it.
    A zero length yields ``b""`` whatever the offset (clients leave it 0).
    """
    if length == 0:
        return b""
    start = offset - HEADER_SIZE
    if start < fixed or start + length > len(body):
        raise MalformedPacket(f"buffer at {offset}+{length} lies outside the {len(body)}-byte body")
    return bytes(body[start : start + length])


def simple_body(body: bytes | memoryview, name: str) -> None:
    """Check a 4-byte StructureSize-4 body (LOGOFF, ECHO, TREE_DISCONNECT)."""
    if len(body) < 4 or int.from_bytes(body[:2], "little") != 4:
        raise MalformedPacket(f"{name} body is not the 4-byte form")


# LOGOFF, ECHO and TREE_DISCONNECT responses.
EMPTY_RESPONSE = b"\x04\x00\x00\x00"
