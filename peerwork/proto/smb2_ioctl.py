"""SMB2 IOCTL request/response (MS-SMB2 2.2.31, 2.2.32) and VALIDATE_NEGOTIATE_INFO. Sans-IO."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from peerwork.proto.smb2_header import HEADER_SIZE, MalformedPacket, body_buffer

FSCTL_DFS_GET_REFERRALS = 0x00060194
FSCTL_CREATE_OR_GET_OBJECT_ID = 0x000900C0
FSCTL_PIPE_TRANSCEIVE = 0x0011C017
FSCTL_VALIDATE_NEGOTIATE_INFO = 0x00140204
FSCTL_SRV_REQUEST_RESUME_KEY = 0x00140078
FSCTL_QUERY_NETWORK_INTERFACE_INFO = 0x001401FC
FSCTL_SRV_COPYCHUNK = 0x001440F2
FSCTL_SRV_COPYCHUNK_WRITE = 0x001480F2

IOCTL_IS_FSCTL = 0x00000001

_REQ = struct.Struct("<HHI16sIIIIIIII")  # 56 bytes
_RESP = struct.Struct("<HHI16sIIIIII")  # 48 bytes
_VNEG = struct.Struct("<I16sHH")


@dataclass(frozen=True, slots=True)
class IoctlRequest:
    ctl_code: int
    file_id: bytes
    input: bytes
    max_output: int
    flags: int

    @classmethod
    def parse(cls, body: bytes | memoryview) -> IoctlRequest:
        if len(body) < _REQ.size:
            raise MalformedPacket("IOCTL request truncated")
        (size, _r, code, fid, in_off, in_len, _max_in, _out_off, _out_len, max_out, flags,
         _r2) = _REQ.unpack_from(body, 0)  # fmt: skip
        if size != 57:
            raise MalformedPacket(f"IOCTL StructureSize {size}, expected 57")
        return cls(code, bytes(fid), body_buffer(body, in_off, in_len, _REQ.size), max_out, flags)

    def pack(self) -> bytes:
        off = HEADER_SIZE + _REQ.size if self.input else 0
        fields = (57, 0, self.ctl_code, self.file_id, off, len(self.input), 0, 0, 0,
                  self.max_output, self.flags, 0)  # fmt: skip
        return _REQ.pack(*fields) + self.input


def ioctl_response(ctl_code: int, file_id: bytes, output: bytes) -> bytes:
    off = HEADER_SIZE + _RESP.size
    return _RESP.pack(49, 0, ctl_code, file_id, off, 0, off, len(output), 0, 0) + output


@dataclass(frozen=True, slots=True)
class ValidateNegotiateInfo:
    capabilities: int
    guid: bytes
    security_mode: int
    dialects: tuple[int, ...]

    @classmethod
    def parse(cls, data: bytes) -> ValidateNegotiateInfo:
        if len(data) < _VNEG.size:
            raise MalformedPacket("VALIDATE_NEGOTIATE_INFO truncated")
        caps, guid, mode, count = _VNEG.unpack_from(data, 0)
        if _VNEG.size + 2 * count > len(data):
            raise MalformedPacket("VALIDATE_NEGOTIATE_INFO dialect list truncated")
        return cls(caps, bytes(guid), mode, struct.unpack_from(f"<{count}H", data, _VNEG.size))


def validate_negotiate_response(caps: int, guid: bytes, mode: int, dialect: int) -> bytes:
    return struct.pack("<I16sHH", caps, guid, mode, dialect)
