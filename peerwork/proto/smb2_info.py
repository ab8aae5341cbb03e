"""SMB2 QUERY_INFO / SET_INFO (MS-SMB2 2.2.37-2.2.40) and the info classes of
MS-FSCC 2.4 (files) and 2.5 (file systems) peerwork answers, plus a minimal
self-relative security descriptor (MS-DTYP 2.4.6).

Encoders return the full structure; the caller truncates to the client's
OutputBufferLength as MS-SMB2 3.3.5.20 says (see :func:`fit_output`).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from peerwork.proto.ntstatus import NtStatus
from peerwork.proto.smb2_fields import Buffer, field, unpack, utf16
from peerwork.proto.smb2_header import HEADER_SIZE, MalformedPacket

_QI_REQ = struct.Struct("<HBBIHHIII16s")  # 40 bytes
_QI_RESP = struct.Struct("<HHI")  # 8 bytes
_SI_REQ = struct.Struct("<HBBIHHI16s")  # 32 bytes
SET_INFO_RESPONSE = struct.pack("<H", 2)


class InfoType(enum.IntEnum):
    FILE = 1
    FILESYSTEM = 2
    SECURITY = 3
    QUOTA = 4


class FileInfoClass(enum.IntEnum):
    BASIC = 4
    STANDARD = 5
    INTERNAL = 6
    EA = 7
    ACCESS = 8
    NAME = 9
    RENAME = 10
    DISPOSITION = 13
    POSITION = 14
    FULL_EA = 15
    MODE = 16
    ALIGNMENT = 17
    ALL = 18
    ALLOCATION = 19
    END_OF_FILE = 20
    ALTERNATE_NAME = 21
    STREAM = 22
    COMPRESSION = 28
    NETWORK_OPEN = 34
    ATTRIBUTE_TAG = 35


class FsInfoClass(enum.IntEnum):
    VOLUME = 1
    SIZE = 3
    DEVICE = 4
    ATTRIBUTE = 5
    FULL_SIZE = 7
    OBJECT_ID = 8
    SECTOR_SIZE = 11


# SecurityInformation bits in AdditionalInformation (MS-DTYP 2.4.7).
OWNER_SECURITY_INFORMATION = 0x01
GROUP_SECURITY_INFORMATION = 0x02
DACL_SECURITY_INFORMATION = 0x04
SACL_SECURITY_INFORMATION = 0x08

# File-info timestamps: 0 = leave alone, -1 / -2 = stop / resume automatic updates.
_TIME_KEEP = (0, 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFE)


@dataclass(frozen=True, slots=True)
class QueryInfoRequest:
    info_type: int
    info_class: int
    output_length: int
    additional_info: int
    flags: int
    file_id: bytes
    input: bytes = b""

    @classmethod
    def parse(cls, body: Buffer) -> QueryInfoRequest:
        size, itype, klass, out_len, in_off, _r, in_len, addl, flags, fid = unpack(
            _QI_REQ, body, "QUERY_INFO request"
        )
        if size != 41:
            raise MalformedPacket(f"QUERY_INFO StructureSize is {size}, not 41")
        data = bytes(field(body, in_off, in_len, "QUERY_INFO input"))
        return cls(itype, klass, out_len, addl, flags, bytes(fid), data)

    def pack(self) -> bytes:
        head = _QI_REQ.pack(
            41, self.info_type, self.info_class, self.output_length,
            HEADER_SIZE + _QI_REQ.size if self.input else 0, 0, len(self.input),
            self.additional_info, self.flags, self.file_id,
        )  # fmt: skip
        return head + (self.input or b"\0")


def query_info_response(data: bytes) -> bytes:
    return _QI_RESP.pack(9, HEADER_SIZE + _QI_RESP.size, len(data)) + (data or b"\0")


@dataclass(frozen=True, slots=True)
class SetInfoRequest:
    info_type: int
    info_class: int
    additional_info: int
    file_id: bytes
    data: bytes

    @classmethod
    def parse(cls, body: Buffer) -> SetInfoRequest:
        size, itype, klass, length, off, _r, addl, fid = unpack(_SI_REQ, body, "SET_INFO request")
        if size != 33:
            raise MalformedPacket(f"SET_INFO StructureSize is {size}, not 33")
        data = bytes(field(body, off, length, "SET_INFO buffer"))
        return cls(itype, klass, addl, bytes(fid), data)

    def pack(self) -> bytes:
        head = _SI_REQ.pack(
            33, self.info_type, self.info_class, len(self.data), HEADER_SIZE + _SI_REQ.size,
            0, self.additional_info, self.file_id,
        )  # fmt: skip
        return head + (self.data or b"\0")


# Classes whose size depends on a name or a list: a short buffer gets BUFFER_OVERFLOW
# and what fits; every other class gets INFO_LENGTH_MISMATCH (MS-FSCC 2.4, MS-SMB2 3.3.5.20.1).
# Each maps to the size of its fixed part: a buffer smaller than that is still a mismatch.
VARIABLE_CLASSES: dict[tuple[int, int], int] = {
    (InfoType.FILE, FileInfoClass.ALL): 100,
    (InfoType.FILE, FileInfoClass.NAME): 4,
    (InfoType.FILE, FileInfoClass.ALTERNATE_NAME): 4,
    (InfoType.FILE, FileInfoClass.STREAM): 24,
    (InfoType.FILESYSTEM, FsInfoClass.VOLUME): 18,
    (InfoType.FILESYSTEM, FsInfoClass.ATTRIBUTE): 12,
}


def fit_output(info_type: int, info_class: int, data: bytes, limit: int) -> tuple[int, bytes]:
    """(status, data) for a result of ``len(data)`` bytes and a client buffer of ``limit``."""
    if len(data) <= limit:
        return NtStatus.SUCCESS, data
    fixed = VARIABLE_CLASSES.get((info_type, info_class))
    if fixed is not None and limit >= fixed:
        return NtStatus.BUFFER_OVERFLOW, data[:limit]
    return NtStatus.INFO_LENGTH_MISMATCH, b""


# --- file information classes (MS-FSCC 2.4) ----------------------------------------


@dataclass(frozen=True, slots=True)
class Basic:
    creation_time: int
    last_access_time: int
    last_write_time: int
    change_time: int
    attributes: int

    def pack(self) -> bytes:
        return struct.pack(
            "<QQQQII", self.creation_time, self.last_access_time, self.last_write_time,
            self.change_time, self.attributes, 0,
        )  # fmt: skip

    @classmethod
    def parse(cls, data: Buffer) -> Basic:
        # Windows clients send 36 bytes (no trailing Reserved) as often as 40.
        if len(data) < 36:
            raise MalformedPacket("FileBasicInformation needs 36 bytes")
        c, a, w, ch, attrs = struct.unpack_from("<QQQQI", data)
        return cls(c, a, w, ch, attrs)

    @staticmethod
    def time_or_none(value: int) -> int | None:
        """A SET_INFO time field: None when the client asks to leave the time alone."""
        return None if value in _TIME_KEEP else value


@dataclass(frozen=True, slots=True)
class Standard:
    allocation_size: int
    end_of_file: int
    number_of_links: int
    delete_pending: bool
    directory: bool

    def pack(self) -> bytes:
        return struct.pack(
            "<QQIBBH", self.allocation_size, self.end_of_file, self.number_of_links,
            int(self.delete_pending), int(self.directory), 0,
        )  # fmt: skip


def internal(index_number: int) -> bytes:
    return struct.pack("<Q", index_number)


def ea_size(size: int = 0) -> bytes:
    return struct.pack("<I", size)


def access_flags(mask: int) -> bytes:
    return struct.pack("<I", mask)


def position(offset: int) -> bytes:
    return struct.pack("<Q", offset)


def mode(value: int) -> bytes:
    return struct.pack("<I", value)


def alignment(requirement: int = 0) -> bytes:
    return struct.pack("<I", requirement)


def name_information(name: str) -> bytes:
    raw = name.encode("utf-16-le")
    return struct.pack("<I", len(raw)) + raw


def all_information(
    basic: Basic, standard: Standard, index: int, access: int, pos: int, mode_: int, name: str
) -> bytes:
    """FileAllInformation: the nine structures in order, the name last (MS-FSCC 2.4.2)."""
    return b"".join(
        (
            basic.pack(), standard.pack(), internal(index), ea_size(), access_flags(access),
            position(pos), mode(mode_), alignment(), name_information(name),
        )
    )  # fmt: skip


def network_open(basic: Basic, allocation_size: int, end_of_file: int) -> bytes:
    return struct.pack(
        "<QQQQQQII", basic.creation_time, basic.last_access_time, basic.last_write_time,
        basic.change_time, allocation_size, end_of_file, basic.attributes, 0,
    )  # fmt: skip


def attribute_tag(attributes: int, reparse_tag: int = 0) -> bytes:
    return struct.pack("<II", attributes, reparse_tag)


def stream_information(size: int, allocation_size: int) -> bytes:
    """The unnamed data stream only: peerwork shares have no alternate streams."""
    name = "::$DATA".encode("utf-16-le")
    return struct.pack("<IIQQ", 0, len(name), size, allocation_size) + name


def compression(compressed_size: int) -> bytes:
    # COMPRESSION_FORMAT_NONE, so the shifts are zero.
    return struct.pack("<QHBBB3x", compressed_size, 0, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class Rename:
    replace_if_exists: bool
    root_directory: int
    name: str

    @classmethod
    def parse(cls, data: Buffer) -> Rename:
        # SMB2 form (MS-FSCC 2.4.37.2): 1 + 7 reserved + 8 RootDirectory + 4 length.
        if len(data) < 20:
            raise MalformedPacket("FileRenameInformation needs 20 bytes")
        replace, root, length = struct.unpack_from("<B7xQI", data)
        if 20 + length > len(data):
            raise MalformedPacket("FileRenameInformation name runs past the buffer")
        return cls(bool(replace), root, utf16(memoryview(data)[20 : 20 + length], "new name"))

    def pack(self) -> bytes:
        raw = self.name.encode("utf-16-le")
        return (
            struct.pack("<B7xQI", int(self.replace_if_exists), self.root_directory, len(raw)) + raw
        )


def parse_u8_flag(data: Buffer, what: str) -> bool:
    if len(data) < 1:
        raise MalformedPacket(f"{what} needs 1 byte")
    return bool(data[0])


def parse_u64(data: Buffer, what: str) -> int:
    if len(data) < 8:
        raise MalformedPacket(f"{what} needs 8 bytes")
    return int(struct.unpack_from("<Q", data)[0])


def parse_u32(data: Buffer, what: str) -> int:
    if len(data) < 4:
        raise MalformedPacket(f"{what} needs 4 bytes")
    return int(struct.unpack_from("<I", data)[0])


# --- file system information classes (MS-FSCC 2.5) ------------------------------------

FILE_DEVICE_DISK = 0x00000007
# Case preserved, Unicode names; lookups are case-insensitive so no CASE_SENSITIVE_SEARCH.
FS_ATTRIBUTES = 0x00000002 | 0x00000004
MAX_COMPONENT_NAME = 255


def fs_volume(creation_time: int, serial: int, label: str) -> bytes:
    raw = label.encode("utf-16-le")
    return struct.pack("<QIIBB", creation_time, serial & 0xFFFFFFFF, len(raw), 0, 0) + raw


def fs_size(total_units: int, avail_units: int, sectors_per_unit: int, sector: int) -> bytes:
    return struct.pack("<QQII", total_units, avail_units, sectors_per_unit, sector)


def fs_full_size(
    total_units: int, caller_avail: int, actual_avail: int, sectors_per_unit: int, sector: int
) -> bytes:
    return struct.pack("<QQQII", total_units, caller_avail, actual_avail, sectors_per_unit, sector)


def fs_device() -> bytes:
    return struct.pack("<II", FILE_DEVICE_DISK, 0)


def fs_attribute(name: str = "NTFS") -> bytes:
    raw = name.encode("utf-16-le")
    return struct.pack("<III", FS_ATTRIBUTES, MAX_COMPONENT_NAME, len(raw)) + raw


def fs_sector_size(sector: int = 512) -> bytes:
    # Flags: ALIGNED_DEVICE | PARTITION_ALIGNED_ON_DEVICE (MS-FSCC 2.5.7).
    return struct.pack("<IIIIIII", sector, sector, sector, sector, 0x3, 0, 0)


# --- security descriptor (MS-DTYP 2.4) ---------------------------------------------

SE_DACL_PRESENT = 0x0004
SE_SELF_RELATIVE = 0x8000
ACCESS_ALLOWED_ACE_TYPE = 0x00
EVERYONE_SID = "S-1-1-0"


def pack_sid(text: str) -> bytes:
    """``S-1-<authority>-<sub>...`` to its binary form (MS-DTYP 2.4.2.2)."""
    parts = text.split("-")
    if len(parts) < 3 or parts[0] != "S" or parts[1] != "1":
        raise ValueError(f"not a SID: {text!r}")
    authority = int(parts[2])
    subs = [int(p) for p in parts[3:]]
    if len(subs) > 15:
        raise ValueError(f"SID {text!r} has more than 15 sub-authorities")
    return (
        struct.pack("<BB", 1, len(subs))
        + authority.to_bytes(6, "big")
        + b"".join(struct.pack("<I", s) for s in subs)
    )


def security_descriptor(
    requested: int, owner: str, group: str, grants: list[tuple[str, int]]
) -> bytes:
    """A self-relative descriptor with the parts ``requested`` asks for (SACL never:
    peerwork keeps no audit settings). ``grants`` become ACCESS_ALLOWED ACEs."""
    parts: list[bytes] = []
    offsets = [0, 0, 0, 0]  # owner, group, sacl, dacl
    pos = 20
    control = SE_SELF_RELATIVE
    if requested & DACL_SECURITY_INFORMATION:
        aces = b""
        for sid, mask in grants:
            raw = pack_sid(sid)
            aces += struct.pack("<BBHI", ACCESS_ALLOWED_ACE_TYPE, 0, 8 + len(raw), mask) + raw
        acl = struct.pack("<BBHHH", 2, 0, 8 + len(aces), len(grants), 0) + aces
        offsets[3] = pos
        parts.append(acl)
        pos += len(acl)
        control |= SE_DACL_PRESENT
    for which, sid, slot in (
        (OWNER_SECURITY_INFORMATION, owner, 0),
        (GROUP_SECURITY_INFORMATION, group, 1),
    ):
        if requested & which:
            raw = pack_sid(sid)
            offsets[slot] = pos
            parts.append(raw)
            pos += len(raw)
    head = struct.pack("<BBHIIII", 1, 0, control, *offsets)
    return head + b"".join(parts)


def security_descriptor_control(data: Buffer) -> int:
    """Validate the fixed head of a client's descriptor; return its Control field."""
    if len(data) < 20:
        raise MalformedPacket("security descriptor needs 20 bytes")
    rev, _sbz, control = struct.unpack_from("<BBH", data)
    if rev != 1:
        raise MalformedPacket(f"security descriptor revision {rev}")
    return int(control)
