"""SMB2 TREE_CONNECT request/response (MS-SMB2 2.2.9, 2.2.10). Sans-IO."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from peerwork.proto.smb2_header import HEADER_SIZE, MalformedPacket, body_buffer

SHARE_TYPE_DISK = 0x01
SHARE_TYPE_PIPE = 0x02

SHAREFLAG_MANUAL_CACHING = 0x00000000
SHAREFLAG_NO_CACHING = 0x00000030
SHAREFLAG_ENCRYPT_DATA = 0x00008000

# MaximalAccess masks for share access levels (MS-SMB2 2.2.13.1.1 bits).
ACCESS_MASK_READ = 0x001200A9  # FILE_GENERIC_READ | FILE_GENERIC_EXECUTE
ACCESS_MASK_CHANGE = 0x001301BF  # read + write/append/EA/attributes + DELETE
ACCESS_MASK_FULL = 0x001F01FF  # everything incl. WRITE_DAC/WRITE_OWNER

_REQ = struct.Struct("<HHHH")
_RESP = struct.Struct("<HBBIII")
MAX_PATH_BYTES = 2 * 1024


@dataclass(frozen=True, slots=True)
class TreeConnectRequest:
    path: str  # \\server\share as the client wrote it

    @property
    def share_name(self) -> str:
        """The last component of the UNC path (the share), as given."""
        return self.path.replace("/", "\\").rstrip("\\").rsplit("\\", 1)[-1]

    @classmethod
    def parse(cls, body: bytes | memoryview) -> TreeConnectRequest:
        if len(body) < _REQ.size:
            raise MalformedPacket("TREE_CONNECT request truncated")
        size, _flags, off, ln = _REQ.unpack_from(body, 0)
        if size != 9:
            raise MalformedPacket(f"TREE_CONNECT StructureSize {size}, expected 9")
        if ln % 2 or ln > MAX_PATH_BYTES:
            raise MalformedPacket("TREE_CONNECT path length is odd or too long")
        raw = body_buffer(body, off, ln, _REQ.size)
        try:
            path = raw.decode("utf-16-le")
        except UnicodeDecodeError:
            raise MalformedPacket("TREE_CONNECT path is not UTF-16") from None
        return cls(path)

    def pack(self) -> bytes:
        raw = self.path.encode("utf-16-le")
        return _REQ.pack(9, 0, HEADER_SIZE + _REQ.size, len(raw)) + raw


@dataclass(frozen=True, slots=True)
class TreeConnectResponse:
    share_type: int
    share_flags: int
    capabilities: int
    maximal_access: int

    def pack(self) -> bytes:
        return _RESP.pack(
            16, self.share_type, 0, self.share_flags, self.capabilities, self.maximal_access
        )

    @classmethod
    def parse(cls, body: bytes | memoryview) -> TreeConnectResponse:
        if len(body) < _RESP.size:
            raise MalformedPacket("TREE_CONNECT response truncated")
        size, stype, _r, flags, caps, access = _RESP.unpack_from(body, 0)
        if size != 16:
            raise MalformedPacket("TREE_CONNECT response StructureSize is not 16")
        return cls(stype, flags, caps, access)
