"""CREATE, CLOSE and FLUSH: opening files and folders of a share, and pipes on IPC$.

Share-level permissions are enforced here first (the desired access and the
disposition against the tree's grant), then again by ShareFS, and again by the
other handlers against the access granted to the open.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from typing import TYPE_CHECKING, Any

from peerwork.proto import smb2_constants as c
from peerwork.proto.ntstatus import NtStatus, NtStatusError
from peerwork.proto.smb2_create import (
    CTX_MAXIMAL_ACCESS,
    CTX_QUERY_ON_DISK_ID,
    FLUSH_RESPONSE,
    CloseRequest,
    CloseResponse,
    CreateContext,
    CreateRequest,
    CreateResponse,
    FileTimes,
    FlushRequest,
    maximal_access_context,
    on_disk_id_context,
)
from peerwork.shares import Access, Op

from .api import CLOSE, CREATE, FLUSH, Reply, Request, TreeView, handler
from .opens import (
    FileOpen,
    await_maybe,
    find_open,
    new_file_id,
    require,
    resolve_file_id,
)

if TYPE_CHECKING:
    from peerwork.sharefs import ShareFS

log = logging.getLogger(__name__)

# CreateOptions bits FileModeInformation reports back (MS-FSCC 2.4.26).
MODE_BITS = (
    c.FILE_WRITE_THROUGH
    | c.FILE_SEQUENTIAL_ONLY
    | c.FILE_NO_INTERMEDIATE_BUFFERING
    | c.FILE_SYNCHRONOUS_IO_ALERT
    | c.FILE_SYNCHRONOUS_IO_NONALERT
    | c.FILE_DELETE_ON_CLOSE
)


def allowed_mask(access: Access) -> int:
    """The most a grant lets an open have (also the MxAc answer)."""
    if access >= Access.FULL:
        return c.FILE_ALL_ACCESS
    if access >= Access.CHANGE:
        return c.FILE_ALL_ACCESS & ~(c.WRITE_DAC | c.WRITE_OWNER)
    if access >= Access.READ:
        return c.READ_ONLY_RIGHTS
    return 0


def check_create(req: CreateRequest, access: Access) -> int:
    """Validate a CREATE against MS-SMB2 3.3.5.9 and the share grant; return the
    access mask to ask ShareFS for."""
    if req.disposition > c.FILE_OVERWRITE_IF or req.options & c.CREATE_OPTIONS_INVALID:
        raise NtStatusError(NtStatus.INVALID_PARAMETER, "bad disposition or create options")
    both = c.FILE_DIRECTORY_FILE | c.FILE_NON_DIRECTORY_FILE
    if req.options & both == both:
        raise NtStatusError(NtStatus.INVALID_PARAMETER, "file and directory at once")
    if req.name.startswith("\\"):
        raise NtStatusError(NtStatus.INVALID_PARAMETER, "name starts with a backslash")
    if req.desired_access & c.ACCESS_SYSTEM_SECURITY:
        raise NtStatusError(NtStatus.PRIVILEGE_NOT_HELD, "no audit settings on a share")
    allowed = allowed_mask(access)
    wanted = c.map_generic(req.desired_access)
    explicit = wanted & ~c.MAXIMUM_ALLOWED
    if explicit & ~allowed:
        raise NtStatusError(NtStatus.ACCESS_DENIED, f"access 0x{explicit:08x} beyond {access}")
    # MAXIMUM_ALLOWED goes to ShareFS as it is: only the store knows what the file itself
    # allows (a read-only file under a change grant opens for reading, rather than not at all).
    deletable = explicit | (allowed if wanted & c.MAXIMUM_ALLOWED else 0)
    if access < Access.CHANGE and (
        req.disposition in c.WRITING_DISPOSITIONS or req.options & c.FILE_DELETE_ON_CLOSE
    ):
        raise NtStatusError(NtStatus.ACCESS_DENIED, f"{access} grant cannot create or delete")
    if req.options & c.FILE_DELETE_ON_CLOSE and not deletable & c.DELETE:
        raise NtStatusError(NtStatus.INVALID_PARAMETER, "delete-on-close without DELETE access")
    return wanted


def file_times(i: Any) -> FileTimes:
    """From a peerwork.sharefs.FileInfo."""
    return FileTimes(
        creation_time=i.creation_time,
        last_access_time=i.last_access_time,
        last_write_time=i.last_write_time,
        change_time=i.change_time,
        allocation_size=i.allocation_size,
        end_of_file=0 if i.is_dir else i.size,
        attributes=i.attributes,
    )


def volume_id(req: Request) -> int:
    share = req.tree.share if req.tree else None
    return zlib.crc32(share.key.encode()) if share else 0


@handler(CREATE)
async def create(req: Request) -> Reply:
    tree = req.tree
    if tree is None:
        return Reply(NtStatus.NETWORK_NAME_DELETED)
    if tree.is_ipc:
        from . import pipes

        reply: Reply = await await_maybe(pipes.open_pipe(req))
        return reply
    if tree.fs is None:
        return Reply(NtStatus.INTERNAL_ERROR)
    parsed = CreateRequest.parse(req.body)
    wanted = check_create(parsed, tree.access)
    # Off the event loop: the walk costs a syscall per path component, a name not
    # found as spelled rescans its folder for the case-insensitive match, and an
    # overwrite truncates (seconds for a huge file).
    handle, action, info = await asyncio.to_thread(_open, tree.fs, tree.access, parsed, wanted)
    if not _tree_live(req, tree):
        # Disconnected (or its share dropped) while the open ran: nobody will close it.
        await asyncio.to_thread(handle.close)
        return Reply(NtStatus.NETWORK_NAME_DELETED)
    fid = new_file_id()
    tree.opens[fid] = FileOpen(
        file_id=fid,
        handle=handle,
        granted=handle.granted,
        fs=tree.fs,
        inode=info.file_id,
        is_dir=handle.is_dir,
        path=handle.path,
        mode=parsed.options & MODE_BITS,
    )
    contexts: list[CreateContext] = []
    if parsed.context(CTX_MAXIMAL_ACCESS) is not None:
        contexts.append(maximal_access_context(allowed_mask(tree.access)))
    if parsed.context(CTX_QUERY_ON_DISK_ID) is not None:
        contexts.append(on_disk_id_context(info.file_id, volume_id(req)))
    body = CreateResponse(action, file_times(info), fid, tuple(contexts)).pack()
    return Reply(NtStatus.SUCCESS, body, file_id=fid)


def _open(fs: ShareFS, access: Access, parsed: CreateRequest, wanted: int) -> tuple[Any, int, Any]:
    handle, action = fs.open(
        parsed.name,
        access=access,
        desired=wanted,
        disposition=parsed.disposition,
        options=parsed.options,
        attributes=parsed.file_attributes,
        share_access=parsed.share_access,
    )
    try:
        return handle, action, handle.info()
    except BaseException:
        handle.close()
        raise


def _tree_live(req: Request, tree: TreeView) -> bool:
    """Whether ``tree`` is still connected in the request's session, on a live store."""
    session = req.server.sessions.get(req.session.session_id) if req.session else None
    if session is None or session.trees.get(tree.tree_id) is not tree:
        return False
    return tree.fs is not None and not tree.fs.closed


@handler(CLOSE)
async def close(req: Request) -> Reply:
    parsed = CloseRequest.parse(req.body)
    found = find_open(req, parsed.file_id)
    assert req.tree is not None
    fid = resolve_file_id(req, parsed.file_id)
    if not isinstance(found, FileOpen):
        from . import pipes

        reply: Reply = await await_maybe(pipes.close_pipe(req, fid))
        return reply
    req.tree.opens.pop(fid, None)
    may_delete = req.tree.access.allows(Op.DELETE)
    # In a worker thread: the last close of a file with a delete pending unlinks it
    # (a big file, a folder), and closing waits for the share's lock, which a slow
    # CREATE in another worker may hold.
    times = await asyncio.to_thread(_close_file, found, may_delete, parsed.postquery)
    return Reply(NtStatus.SUCCESS, CloseResponse(times).pack())


def _close_file(found: FileOpen, may_delete: bool, postquery: bool) -> FileTimes | None:
    if not may_delete:
        found.withdraw_delete()  # asked for under a grant that has since been lowered
    times = None
    if postquery:
        try:
            times = file_times(found.handle.info())
        except NtStatusError:
            times = None
    try:
        found.close()
    except NtStatusError as exc:
        # The handle is gone either way; Windows reports the close as done.
        log.info("close of %r: %s", found.path, exc)
    return times


@handler(FLUSH)
async def flush(req: Request) -> Reply:
    parsed = FlushRequest.parse(req.body)
    found = find_open(req, parsed.file_id)
    if isinstance(found, FileOpen):
        require(found.granted, c.FILE_WRITE_DATA | c.FILE_APPEND_DATA)
        if not found.is_dir:
            await asyncio.to_thread(found.handle.flush)
    return Reply(NtStatus.SUCCESS, FLUSH_RESPONSE)
