"""READ and WRITE on files of a share (and on IPC$ pipes, handed to pipes.py).

Large transfers run the disk I/O in a worker thread so one client's 8 MiB read
does not stall every other connection; READ data goes out as its own buffer.
"""

from __future__ import annotations

import asyncio

from peerwork.agents.smb.api import READ, WRITE, Reply, Request, handler
from peerwork.agents.smb.opens import FileOpen, await_maybe, find_open, require, resolve_file_id
from peerwork.proto import smb2_constants as c
from peerwork.proto.ntstatus import NtStatus, NtStatusError
from peerwork.proto.smb2_readwrite import (
    WRITE_TO_END,
    ReadRequest,
    WriteRequest,
    read_response_head,
    write_response,
)
from peerwork.shares import Access, Op

# Below this size a thread hop costs more than the syscall.
THREAD_THRESHOLD = 256 * 1024
MAX_OFFSET = 2**63 - 1


@handler(READ)
async def read(req: Request) -> Reply:
    parsed = ReadRequest.parse(req.body)
    found = find_open(req, parsed.file_id)
    if not isinstance(found, FileOpen):
        from peerwork.agents.smb import pipes

        fid = resolve_file_id(req, parsed.file_id)
        reply: Reply = await await_maybe(pipes.read_pipe(req, fid, parsed.length))
        return reply
    if found.is_dir:
        return Reply(NtStatus.INVALID_DEVICE_REQUEST)
    require(found.granted, c.FILE_READ_DATA | c.FILE_EXECUTE)
    if parsed.length > req.max_read or parsed.offset > MAX_OFFSET:
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
        from peerwork.agents.smb import pipes

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
    offset = parsed.offset
    if offset == WRITE_TO_END or not found.granted & c.FILE_WRITE_DATA:
        offset = found.handle.info().size
    if offset > MAX_OFFSET or offset + len(parsed.data) > MAX_OFFSET:
        return Reply(NtStatus.INVALID_PARAMETER)
    if found.locks.conflicts_io(found.inode, id(found), offset, len(parsed.data), True):
        return Reply(NtStatus.FILE_LOCK_CONFLICT)
    if len(parsed.data) > THREAD_THRESHOLD:
        count = await asyncio.to_thread(found.handle.write, offset, parsed.data)
    else:
        count = found.handle.write(offset, parsed.data)
    found.position = offset + count
    return Reply(NtStatus.SUCCESS, write_response(count))
