"""READ and WRITE on files of a share (and on IPC$ pipes, handed to pipes.py).

Large transfers run the disk I/O in a worker thread so one client's 8 MiB read
does not stall every other connection; READ data goes out as its own buffer.
"""

from __future__ import annotations

import asyncio

from peerwork.proto import smb2_constants as c
from peerwork.proto.ntstatus import NtStatus, NtStatusError
from peerwork.proto.smb2_readwrite import (
    ReadRequest,
    WriteRequest,
    read_response_head,
    write_response,
)
from peerwork.shares import Access, Op

from .api import READ, WRITE, Reply, Request, handler
from .opens import FileOpen, await_maybe, find_open, require, resolve_file_id

# Below this size a thread hop costs more than the syscall.
THREAD_THRESHOLD = 256 * 1024
# Offsets are signed 64-bit on the wire side of Windows: the range must end by 2^63-1.
MAX_OFFSET = 2**63 - 1
# NTFS's largest file (16 TiB - 64 KiB): Windows refuses writes that would end past it,
# and so do we, rather than create absurd sparse files.
MAX_FILE_SIZE = 0xFFFFFFF0000


@handler(READ)
async def read(req: Request) -> Reply:
    parsed = ReadRequest.parse(req.body)
    found = find_open(req, parsed.file_id)
    if not isinstance(found, FileOpen):
        from . import pipes

        fid = resolve_file_id(req, parsed.file_id)
        reply: Reply = await await_maybe(pipes.read_pipe(req, fid, parsed.length))
        return reply
    if found.is_dir:
        return Reply(NtStatus.INVALID_DEVICE_REQUEST)
    require(found.granted, c.FILE_READ_DATA | c.FILE_EXECUTE)
    if parsed.length > req.max_read or parsed.offset + parsed.length > MAX_OFFSET:
        return Reply(NtStatus.INVALID_PARAMETER)
    if found.locks.conflicts_io(found.inode, id(found), parsed.offset, parsed.length, False):
        return Reply(NtStatus.FILE_LOCK_CONFLICT)
    if parsed.length > THREAD_THRESHOLD:
        data = await asyncio.to_thread(found.handle.read, parsed.offset, parsed.length)
    else:
        data = found.handle.read(parsed.offset, parsed.length)
    if (not data and parsed.length) or len(data) < parsed.minimum_count:
        return Reply(NtStatus.END_OF_FILE)
    found.position = parsed.offset + len(data)
    return Reply(NtStatus.SUCCESS, [read_response_head(len(data)), data])


@handler(WRITE)
async def write(req: Request) -> Reply:
    parsed = WriteRequest.parse(req.body)
    found = find_open(req, parsed.file_id)
    if not isinstance(found, FileOpen):
        from . import pipes

        fid = resolve_file_id(req, parsed.file_id)
        reply: Reply = await await_maybe(pipes.write_pipe(req, fid, bytes(parsed.data)))
        return reply
    if found.is_dir:
        return Reply(NtStatus.INVALID_DEVICE_REQUEST)
    assert req.tree is not None
    # The grant may have been lowered since CREATE: check both.
    if not req.tree.access.allows(Op.WRITE):
        raise NtStatusError(NtStatus.ACCESS_DENIED, f"{Access(req.tree.access)} grant")
    require(found.granted, c.FILE_WRITE_DATA | c.FILE_APPEND_DATA)
    offset, length = parsed.offset, len(parsed.data)
    # No "write at end of file" offset over SMB2: Windows refuses all-ones like any
    # other offset past 2^63-1 (smbtorture smb2.rw.invalid).
    if offset + length > MAX_OFFSET or (length and offset + length > MAX_FILE_SIZE):
        return Reply(NtStatus.INVALID_PARAMETER)
    if not found.granted & c.FILE_WRITE_DATA:
        offset = found.handle.info().size  # an append-only open writes at the end
    if found.locks.conflicts_io(found.inode, id(found), offset, length, True):
        return Reply(NtStatus.FILE_LOCK_CONFLICT)
    if length > THREAD_THRESHOLD:
        count = await asyncio.to_thread(found.handle.write, offset, parsed.data)
    else:
        count = found.handle.write(offset, parsed.data)
    found.position = offset + count
    return Reply(NtStatus.SUCCESS, write_response(count))
