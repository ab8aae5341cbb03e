"""SMB2 READ, WRITE and LOCK (MS-SMB2 2.2.19-2.2.27).

Sans-IO. READ responses are packed as a 16-byte head so the data can follow as
its own buffer without a copy; WRITE data is handed out as a memoryview into
the request.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from peerwork.proto.smb2_fields import Buffer, field, unpack
from peerwork.proto.smb2_header import HEADER_SIZE, MalformedPacket

_READ_REQ = struct.Struct("<HBBIQ16sIIIHH")  # 48 bytes
_READ_RESP = struct.Struct("<HBBIII")  # 16 bytes
_WRITE_REQ = struct.Struct("<HHIQ16sIIHHI")  # 48 bytes
_WRITE_RESP = struct.Struct("<HHIIHH")  # 16 bytes
_LOCK_REQ = struct.Struct("<HHI16s")  # 24 bytes
_LOCK_ELEMENT = struct.Struct("<QQII")  # 24 bytes

READ_DATA_OFFSET = HEADER_SIZE + _READ_RESP.size  # 0x50

LOCKFLAG_SHARED = 0x01
LOCKFLAG_EXCLUSIVE = 0x02
LOCKFLAG_UNLOCK = 0x04
LOCKFLAG_FAIL_IMMEDIATELY = 0x10
MAX_LOCK_ELEMENTS = 64


@dataclass(frozen=True, slots=True)
class ReadRequest:
    length: int
    offset: int
    file_id: bytes
    minimum_count: int = 0
    flags: int = 0

    @classmethod
    def parse(cls, body: Buffer) -> ReadRequest:
        size, _pad, flags, length, offset, fid, minimum, _ch, _rem, _cio, _cil = unpack(
            _READ_REQ, body, "READ request"
        )
        if size != 49:
            raise MalformedPacket(f"READ StructureSize is {size}, not 49")
        return cls(length, offset, bytes(fid), minimum, flags)

    def pack(self) -> bytes:
        return _READ_REQ.pack(
            49, 0, self.flags, self.length, self.offset, self.file_id, self.minimum_count,
            0, 0, 0, 0,
        ) + b"\0"  # fmt: skip


def read_response_head(data_length: int) -> bytes:
    """The READ response up to its data; send the data right after it."""
    return _READ_RESP.pack(17, READ_DATA_OFFSET, 0, data_length, 0, 0)


@dataclass(frozen=True, slots=True)
class WriteRequest:
    offset: int
    file_id: bytes
    data: memoryview
    flags: int = 0

    @classmethod
    def parse(cls, body: Buffer) -> WriteRequest:
        size, data_off, length, offset, fid, _ch, _rem, _cio, _cil, flags = unpack(
            _WRITE_REQ, body, "WRITE request"
        )
        if size != 49:
            raise MalformedPacket(f"WRITE StructureSize is {size}, not 49")
        data = field(body, data_off, length, "WRITE data")
        return cls(offset, bytes(fid), data, flags)

    def pack(self) -> bytes:
        head = _WRITE_REQ.pack(
            49, HEADER_SIZE + _WRITE_REQ.size, len(self.data), self.offset, self.file_id,
            0, 0, 0, 0, self.flags,
        )  # fmt: skip
        return head + bytes(self.data)


def write_response(count: int) -> bytes:
    return _WRITE_RESP.pack(17, 0, count, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class LockElement:
    offset: int
    length: int
    flags: int

    @property
    def is_unlock(self) -> bool:
        return bool(self.flags & LOCKFLAG_UNLOCK)

    @property
    def exclusive(self) -> bool:
        return bool(self.flags & LOCKFLAG_EXCLUSIVE)

    @property
    def fail_immediately(self) -> bool:
        return bool(self.flags & LOCKFLAG_FAIL_IMMEDIATELY)

    @property
    def valid_flags(self) -> bool:
        """The combinations MS-SMB2 3.3.5.14 accepts."""
        return self.flags in (
            LOCKFLAG_SHARED,
            LOCKFLAG_EXCLUSIVE,
            LOCKFLAG_SHARED | LOCKFLAG_FAIL_IMMEDIATELY,
            LOCKFLAG_EXCLUSIVE | LOCKFLAG_FAIL_IMMEDIATELY,
            LOCKFLAG_UNLOCK,
        )


@dataclass(frozen=True, slots=True)
class LockRequest:
    file_id: bytes
    locks: tuple[LockElement, ...]
    sequence: int = 0

    @classmethod
    def parse(cls, body: Buffer) -> LockRequest:
        size, count, seq, fid = unpack(_LOCK_REQ, body, "LOCK request")
        if size != 48:
            raise MalformedPacket(f"LOCK StructureSize is {size}, not 48")
        if count == 0 or count > MAX_LOCK_ELEMENTS:
            raise MalformedPacket(f"LOCK with {count} elements")
        locks = tuple(
            LockElement(*unpack(_LOCK_ELEMENT, body, "LOCK element", 24 + 24 * i)[:3])
            for i in range(count)
        )
        return cls(bytes(fid), locks, seq)

    def pack(self) -> bytes:
        head = _LOCK_REQ.pack(48, len(self.locks), self.sequence, self.file_id)
        return head + b"".join(
            _LOCK_ELEMENT.pack(e.offset, e.length, e.flags, 0) for e in self.locks
        )


LOCK_RESPONSE = struct.pack("<HH", 4, 0)
