"""SMB2 QUERY_DIRECTORY (MS-SMB2 2.2.33/2.2.34) and the directory entry formats
of MS-FSCC 2.4 peerwork answers with.

Entries are 8-byte aligned and chained by NextEntryOffset (0 on the last).
:func:`pack_entries` fills an output buffer up to a limit and says how many
entries it took, so the caller keeps a cursor across calls.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from peerwork.proto.smb2_fields import Buffer, field, pad8, unpack, utf16
from peerwork.proto.smb2_header import HEADER_SIZE, MalformedPacket

_QD_REQ = struct.Struct("<HBBI16sHHI")  # 32 bytes
_QD_RESP = struct.Struct("<HHI")  # 8 bytes

RESTART_SCANS = 0x01
RETURN_SINGLE_ENTRY = 0x02
INDEX_SPECIFIED = 0x04
REOPEN = 0x10


class DirInfoClass(enum.IntEnum):
    DIRECTORY = 0x01
    FULL_DIRECTORY = 0x02
    BOTH_DIRECTORY = 0x03
    NAMES = 0x0C
    ID_BOTH_DIRECTORY = 0x25
    ID_FULL_DIRECTORY = 0x26


class EntryInfo(Protocol):
    """What an entry encoder reads (peerwork.sharefs.FileInfo has all of it)."""

    @property
    def name(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def allocation_size(self) -> int: ...
    @property
    def creation_time(self) -> int: ...
    @property
    def last_access_time(self) -> int: ...
    @property
    def last_write_time(self) -> int: ...
    @property
    def change_time(self) -> int: ...
    @property
    def attributes(self) -> int: ...
    @property
    def file_id(self) -> int: ...


@dataclass(frozen=True, slots=True)
class QueryDirectoryRequest:
    info_class: int
    flags: int
    file_index: int
    file_id: bytes
    pattern: str
    output_length: int

    @classmethod
    def parse(cls, body: Buffer) -> QueryDirectoryRequest:
        size, klass, flags, index, fid, name_off, name_len, out_len = unpack(
            _QD_REQ, body, "QUERY_DIRECTORY request"
        )
        if size != 33:
            raise MalformedPacket(f"QUERY_DIRECTORY StructureSize is {size}, not 33")
        pattern = utf16(field(body, name_off, name_len, "search pattern"), "search pattern")
        return cls(klass, flags, index, bytes(fid), pattern, out_len)

    def pack(self) -> bytes:
        name = self.pattern.encode("utf-16-le")
        head = _QD_REQ.pack(
            33, self.info_class, self.flags, self.file_index, self.file_id,
            HEADER_SIZE + _QD_REQ.size if name else 0, len(name), self.output_length,
        )  # fmt: skip
        return head + (name or b"\0")


def query_directory_response(entries: bytes) -> bytes:
    return _QD_RESP.pack(9, HEADER_SIZE + _QD_RESP.size, len(entries)) + (entries or b"\0")


_TIMES = struct.Struct("<IIQQQQQQI")  # NextEntryOffset .. FileAttributes (60 bytes)
_FIXED_SIZE = {
    DirInfoClass.DIRECTORY: 64,
    DirInfoClass.FULL_DIRECTORY: 68,
    DirInfoClass.BOTH_DIRECTORY: 94,
    DirInfoClass.NAMES: 12,
    DirInfoClass.ID_BOTH_DIRECTORY: 104,
    DirInfoClass.ID_FULL_DIRECTORY: 80,
}


def fixed_size(info_class: DirInfoClass) -> int:
    return _FIXED_SIZE[info_class]


def encode_entry(info_class: DirInfoClass, e: EntryInfo) -> bytes:
    """One entry with NextEntryOffset 0 and no trailing padding."""
    name = e.name.encode("utf-16-le")
    if info_class is DirInfoClass.NAMES:
        return struct.pack("<III", 0, 0, len(name)) + name
    head = _TIMES.pack(
        0, 0, e.creation_time, e.last_access_time, e.last_write_time, e.change_time,
        e.size, e.allocation_size, e.attributes,
    ) + struct.pack("<I", len(name))  # fmt: skip
    if info_class is DirInfoClass.DIRECTORY:
        return head + name
    ea = struct.pack("<I", 0)
    if info_class is DirInfoClass.FULL_DIRECTORY:
        return head + ea + name
    if info_class is DirInfoClass.ID_FULL_DIRECTORY:
        return head + ea + struct.pack("<IQ", 0, e.file_id) + name
    # BOTH and ID_BOTH: no 8.3 short names on a Linux share.
    short = b"\0\0" + b"\0" * 24
    if info_class is DirInfoClass.BOTH_DIRECTORY:
        return head + ea + short + name
    return head + ea + short + struct.pack("<HQ", 0, e.file_id) + name


def pack_entries(
    info_class: DirInfoClass, entries: Sequence[EntryInfo], limit: int, single: bool = False
) -> tuple[bytes, int]:
    """Chain as many ``entries`` as fit in ``limit`` bytes; return (buffer, count taken)."""
    out = bytearray()
    last = -1
    taken = 0
    for e in entries:
        item = encode_entry(info_class, e)
        start = pad8(len(out))
        if start + len(item) > limit:
            break
        if last >= 0:
            struct.pack_into("<I", out, last, start - last)
        out.extend(b"\0" * (start - len(out)))
        last = start
        out.extend(item)
        taken += 1
        if single:
            break
    return bytes(out), taken


def parse_entries(info_class: DirInfoClass, data: Buffer) -> list[tuple[str, bytes]]:
    """Split a packed buffer back into (name, fixed part) pairs; for tests and clients."""
    out: list[tuple[str, bytes]] = []
    view = memoryview(data)
    pos = 0
    fixed = _FIXED_SIZE[info_class]
    name_len_at = 8 if info_class is DirInfoClass.NAMES else 60
    while True:
        if pos + fixed > len(view):
            raise MalformedPacket("directory entry runs past the buffer")
        (nxt,) = struct.unpack_from("<I", view, pos)
        (name_len,) = struct.unpack_from("<I", view, pos + name_len_at)
        end = pos + fixed + name_len
        if end > len(view) or (nxt and pos + nxt < end):
            raise MalformedPacket("directory entry name runs past the entry")
        out.append((utf16(view[pos + fixed : end], "entry name"), bytes(view[pos : pos + fixed])))
        if nxt == 0 or len(out) > 100_000:
            return out
        pos += nxt
