"""The per-open state the SMB2 file handlers keep in ``TreeView.opens``.

A :class:`FileOpen` wraps one ShareFS handle with what the wire needs on top:
the 16-byte FileId, the access granted at CREATE (checked again on every
write-like command), the directory enumeration cursor, the file position and
mode that QUERY/SET_INFO report, and this open's byte-range locks.

Byte-range locks must be visible to every open of the same file, across
sessions and trees, so they live in a :class:`~peerwork.range_locks.LockTable`
per ShareFS keyed by the file's id (inode).
"""

from __future__ import annotations

import asyncio
import itertools
import weakref
from dataclasses import dataclass, field
from typing import Any

from peerwork.proto.ntstatus import NtStatus, NtStatusError
from peerwork.range_locks import LockTable

from .api import COMPOUND_FILE_ID, Request

# Volatile FileIds are unique per server process; the persistent half repeats it
# (no durable handles yet).
_next_id = itertools.count(1)


def new_file_id() -> bytes:
    n = next(_next_id)
    return n.to_bytes(8, "little") * 2


_tables: weakref.WeakKeyDictionary[Any, LockTable] = weakref.WeakKeyDictionary()


def lock_table(fs: Any) -> LockTable:
    table = _tables.get(fs)
    if table is None:
        table = _tables[fs] = LockTable()
    return table


@dataclass(slots=True)
class DirCursor:
    """Where a QUERY_DIRECTORY enumeration stands: the matches of its pattern and
    how many have been sent."""

    pattern: str
    entries: list[Any]
    sent: int = 0


@dataclass(eq=False, slots=True)
class FileOpen:
    file_id: bytes
    handle: Any  # peerwork.sharefs.FsHandle
    granted: int
    fs: Any  # the ShareFS, for the lock table
    inode: int
    is_dir: bool
    path: str
    mode: int = 0
    position: int = 0
    cursor: DirCursor | None = None
    closed: bool = field(default=False)

    @property
    def locks(self) -> LockTable:
        return lock_table(self.fs)

    def withdraw_delete(self) -> None:
        """Drop a pending delete of this open (the grant no longer allows deleting)."""
        if not self.closed:
            self.handle.withdraw_delete()

    def close(self) -> None:
        """Release locks and the handle; the core calls this on tree disconnect,
        logoff and connection loss, the CLOSE handler on CLOSE. Idempotent."""
        if self.closed:
            return
        self.closed = True
        self.locks.release_all(self.inode, id(self))
        self.handle.close()


def resolve_file_id(req: Request, file_id: bytes) -> bytes:
    """The FileId a request means: in a related compound, all-ones is the last CREATE's."""
    if file_id == COMPOUND_FILE_ID and req.compound_file_id is not None:
        return req.compound_file_id
    return file_id


def find_open(req: Request, file_id: bytes) -> Any:
    """The open (FileOpen or a pipe) for ``file_id`` on the request's tree.

    Raises FILE_CLOSED for an unknown or already closed FileId, which is what
    Windows and smbtorture's smb2.connect expect.
    """
    if req.tree is None:
        raise NtStatusError(NtStatus.NETWORK_NAME_DELETED)
    found = req.tree.opens.get(resolve_file_id(req, file_id))
    if found is None:
        raise NtStatusError(NtStatus.FILE_CLOSED)
    return found


def find_file(req: Request, file_id: bytes) -> FileOpen:
    """Like :func:`find_open` but only for files and folders (not pipes)."""
    found = find_open(req, file_id)
    if not isinstance(found, FileOpen):
        raise NtStatusError(NtStatus.INVALID_DEVICE_REQUEST)
    return found


def require(granted: int, needed: int) -> None:
    """ACCESS_DENIED unless the open was granted one of the bits in ``needed``."""
    if not granted & needed:
        raise NtStatusError(NtStatus.ACCESS_DENIED)


async def await_maybe(value: Any) -> Any:
    """The pipe functions of pipes.py may be plain or async; accept both."""
    if asyncio.iscoroutine(value):
        return await value
    return value
