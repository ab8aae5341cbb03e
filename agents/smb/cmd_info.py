"""QUERY_INFO and SET_INFO: file, file-system and security information.

Every change (times, attributes, rename, delete, size) is checked against the
tree's current grant and the access granted to the open before ShareFS sees
it; a read-only grant never reaches the disk.
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from typing import Any

from peerwork.proto import smb2_constants as c
from peerwork.proto import smb2_info as si
from peerwork.proto.ntstatus import NtStatus, NtStatusError
from peerwork.proto.smb2_info import FileInfoClass as F
from peerwork.proto.smb2_info import FsInfoClass as FS
from peerwork.proto.smb2_info import InfoType
from peerwork.shares import Access, Op

from .api import QUERY_INFO, SET_INFO, Reply, Request, handler
from .cmd_create import MODE_BITS, allowed_mask
from .opens import FileOpen, find_file, require

SECTOR = 512
# Attribute bits every file shows or that follow from its type; changing only these is
# not "setting attributes" in the share-permission sense.
_PLAIN_ATTRIBUTES = c.FILE_ATTRIBUTE_ARCHIVE | c.FILE_ATTRIBUTE_NORMAL | c.FILE_ATTRIBUTE_DIRECTORY


def _basic(i: Any) -> si.Basic:
    return si.Basic(
        i.creation_time, i.last_access_time, i.last_write_time, i.change_time, i.attributes
    )


def _standard(i: Any, op: FileOpen) -> si.Standard:
    size = 0 if i.is_dir else i.size
    return si.Standard(i.allocation_size, size, i.nlink, op.handle.delete_pending, i.is_dir)


def _query_file(op: FileOpen, klass: int) -> bytes:
    if klass in (F.BASIC, F.ALL, F.NETWORK_OPEN, F.ATTRIBUTE_TAG):
        require(op.granted, c.FILE_READ_ATTRIBUTES)
    if klass in (F.ACCESS, F.POSITION, F.MODE, F.ALIGNMENT):
        fixed = {
            F.ACCESS: si.access_flags(op.granted),
            F.POSITION: si.position(op.position),
            F.MODE: si.mode(op.mode),
            F.ALIGNMENT: si.alignment(),
        }
        return fixed[F(klass)]
    if klass == F.EA:
        return si.ea_size()
    i = op.handle.info()
    size = 0 if i.is_dir else i.size
    if klass == F.BASIC:
        return _basic(i).pack()
    if klass == F.STANDARD:
        return _standard(i, op).pack()
    if klass == F.INTERNAL:
        return si.internal(i.file_id)
    if klass == F.ALL:
        name = "\\" + op.handle.path
        return si.all_information(
            _basic(i), _standard(i, op), i.file_id, op.granted, op.position, op.mode, name
        )
    if klass == F.NETWORK_OPEN:
        return si.network_open(_basic(i), i.allocation_size, size)
    if klass == F.ATTRIBUTE_TAG:
        return si.attribute_tag(i.attributes)
    if klass == F.STREAM:
        return b"" if i.is_dir else si.stream_information(i.size, i.allocation_size)
    if klass == F.COMPRESSION:
        return si.compression(size)
    if klass == F.ALTERNATE_NAME:
        # No 8.3 names on a Linux share: an empty one (smbclient allinfo and Windows accept it).
        return si.name_information("")
    if klass == F.NAME:
        return si.name_information("\\" + op.handle.path)
    raise NtStatusError(NtStatus.INVALID_INFO_CLASS)


def _query_fs(req: Request, klass: int) -> bytes:
    assert req.tree is not None and req.tree.share is not None
    share = req.tree.share
    if klass == FS.VOLUME:
        return si.fs_volume(0, zlib.crc32(share.key.encode()), share.name)
    if klass == FS.DEVICE:
        return si.fs_device()
    if klass == FS.ATTRIBUTE:
        return si.fs_attribute()
    if klass == FS.SECTOR_SIZE:
        return si.fs_sector_size(SECTOR)
    if klass in (FS.SIZE, FS.FULL_SIZE):
        if req.tree.fs is None:
            raise NtStatusError(NtStatus.INVALID_DEVICE_REQUEST, "no file store")
        size = req.tree.fs.fs_size()
        unit = max(size.block_size, SECTOR)
        per_unit = unit // SECTOR
        total = size.total_bytes // unit
        if klass == FS.SIZE:
            return si.fs_size(total, size.avail_bytes // unit, per_unit, SECTOR)
        return si.fs_full_size(
            total, size.avail_bytes // unit, size.free_bytes // unit, per_unit, SECTOR
        )
    if klass == FS.OBJECT_ID:
        raise NtStatusError(NtStatus.NOT_SUPPORTED)
    raise NtStatusError(NtStatus.INVALID_INFO_CLASS)


def _security(req: Request, op: FileOpen, parsed: si.QueryInfoRequest) -> Reply:
    require(op.granted, c.READ_CONTROL)
    assert req.tree is not None
    wanted = parsed.additional_info & (
        si.OWNER_SECURITY_INFORMATION | si.GROUP_SECURITY_INFORMATION | si.DACL_SECURITY_INFORMATION
    )
    grants = [(si.EVERYONE_SID, allowed_mask(req.tree.access))]
    sd = si.security_descriptor(wanted, si.EVERYONE_SID, si.EVERYONE_SID, grants)
    if len(sd) > parsed.output_length:
        # SMB2 ERROR response whose ErrorData is the size needed (MS-SMB2 3.3.5.20.3).
        err = struct.pack("<HBBII", 9, 0, 0, 4, len(sd))
        return Reply(NtStatus.BUFFER_TOO_SMALL, err)
    return Reply(NtStatus.SUCCESS, si.query_info_response(sd))


@handler(QUERY_INFO)
async def query_info(req: Request) -> Reply:
    parsed = si.QueryInfoRequest.parse(req.body)
    op = find_file(req, parsed.file_id)
    if parsed.info_type == InfoType.SECURITY:
        return _security(req, op, parsed)
    if parsed.info_type == InfoType.FILE:
        data = _query_file(op, parsed.info_class)
    elif parsed.info_type == InfoType.FILESYSTEM:
        data = await asyncio.to_thread(_query_fs, req, parsed.info_class)
    else:
        return Reply(NtStatus.NOT_SUPPORTED)
    status, data = si.fit_output(parsed.info_type, parsed.info_class, data, parsed.output_length)
    if status == NtStatus.INFO_LENGTH_MISMATCH:
        return Reply(status)
    return Reply(status, si.query_info_response(data))


def _allow(req: Request, op_kind: Op) -> None:
    assert req.tree is not None
    access = Access(req.tree.access)
    if not access.allows(op_kind):
        raise NtStatusError(
            NtStatus.ACCESS_DENIED, f"{access} grant does not allow {op_kind.value}"
        )


def _set_basic(req: Request, op: FileOpen, data: bytes) -> None:
    new = si.Basic.parse(data)
    _allow(req, Op.SET_TIMES)
    require(op.granted, c.FILE_WRITE_ATTRIBUTES)
    attrs: int | None = new.attributes or None
    if attrs is not None:
        current = op.handle.info().attributes
        if (attrs & ~_PLAIN_ATTRIBUTES) != (current & ~_PLAIN_ATTRIBUTES):
            _allow(req, Op.SET_ATTRIBUTES)
    keep = si.Basic.time_or_none
    op.handle.set_basic(
        creation=keep(new.creation_time),
        last_access=keep(new.last_access_time),
        last_write=keep(new.last_write_time),
        change=keep(new.change_time),
        attributes=attrs,
    )


def _set_file(req: Request, op: FileOpen, klass: int, data: bytes) -> None:
    if klass == F.BASIC:
        _set_basic(req, op, data)
    elif klass == F.RENAME:
        target = si.Rename.parse(data)
        _allow(req, Op.RENAME)
        require(op.granted, c.DELETE)
        if target.root_directory:
            raise NtStatusError(NtStatus.INVALID_PARAMETER, "rename relative to a handle")
        op.handle.rename(target.name.removeprefix("\\"), target.replace_if_exists)
        op.path = op.handle.path
    elif klass == F.DISPOSITION:
        flag = si.parse_u8_flag(data, "FileDispositionInformation")
        _allow(req, Op.DELETE)
        require(op.granted, c.DELETE)
        op.handle.set_delete_on_close(flag)
    elif klass in (F.END_OF_FILE, F.ALLOCATION):
        size = si.parse_u64(data, "size")
        _allow(req, Op.WRITE)
        require(op.granted, c.FILE_WRITE_DATA)
        if op.is_dir:
            raise NtStatusError(NtStatus.INVALID_PARAMETER, "size of a folder")
        if klass == F.END_OF_FILE:
            op.handle.set_end_of_file(size)
        elif size < op.handle.info().size:
            # Allocation below the end of file truncates (MS-FSA 2.1.5.15.1).
            op.handle.set_end_of_file(size)
    elif klass == F.POSITION:
        op.position = si.parse_u64(data, "FilePositionInformation")
    elif klass == F.MODE:
        op.mode = si.parse_u32(data, "FileModeInformation") & MODE_BITS & ~c.FILE_DELETE_ON_CLOSE
    elif klass == F.FULL_EA:
        raise NtStatusError(NtStatus.NOT_SUPPORTED, "extended attributes")
    else:
        raise NtStatusError(NtStatus.INVALID_INFO_CLASS)


# Off the event loop: these take the store's lock (which a slow CREATE may hold), walk
# a path, or truncate.
_SLOW_CLASSES = frozenset({F.RENAME, F.DISPOSITION, F.END_OF_FILE, F.ALLOCATION})


@handler(SET_INFO)
async def set_info(req: Request) -> Reply:
    parsed = si.SetInfoRequest.parse(req.body)
    op = find_file(req, parsed.file_id)
    if parsed.info_type == InfoType.FILE and parsed.info_class in _SLOW_CLASSES:
        await asyncio.to_thread(_set_file, req, op, parsed.info_class, parsed.data)
    elif parsed.info_type == InfoType.FILE:
        _set_file(req, op, parsed.info_class, parsed.data)
    elif parsed.info_type == InfoType.SECURITY:
        # Accepted from a full grant and ignored: the folder's unix modes stay what they are.
        _allow(req, Op.SET_SECURITY)
        si.security_descriptor_control(parsed.data)
    else:
        return Reply(NtStatus.NOT_SUPPORTED)
    return Reply(NtStatus.SUCCESS, si.SET_INFO_RESPONSE)
