"""The NT-semantics file store behind a share (in the shape of SMBLibrary's INTFileStore).

One :class:`ShareFS` per share, shared by every session and tree connected to
it; the SMB handlers never touch the disk except through it. Every path goes
through :mod:`peerwork.pathsafety` (syntax, then a descriptor walk that cannot
leave the folder), every OS error through :mod:`peerwork.os_errors`, and
the only exception callers see is :class:`NtStatusError`.

Permissions: the caller passes the session's share :class:`Access`; ``open``
grants a mask from it (:mod:`peerwork.sharefs.access`) and each later operation
checks the handle's granted mask, so a read-only grant cannot change the disk
by any path.

Ownership of new entries: files are created 0664 and folders 02775 (setgid, so
their contents keep the group), both owned by the agent's user and by the group
of the share folder — co-workers in that group can edit what another created.

Share modes and delete-on-close live in a table keyed by (st_dev, st_ino):
conflicting opens get SHARING_VIOLATION, opens of a file whose delete is
pending get DELETE_PENDING, and the delete happens at the last close.

The store is thread-safe: name-changing operations (open, close, rename, delete)
serialise on one lock; reads and writes use pread/pwrite on the handle's own
descriptor and run in parallel.
"""

# Descriptor-relative calls (dir_fd=, listdir of an fd) have no pathlib equivalent.
# ruff: noqa: PTH208

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path

from peerwork.os_errors import os_errors
from peerwork.pathsafety import Located, ShareRoot, split_smb_path
from peerwork.proto.ntstatus import NtStatus, NtStatusError
from peerwork.proto.smb2_constants import (
    DELETE,
    FILE_ATTRIBUTE_READONLY,
    FILE_CREATE,
    FILE_CREATED,
    FILE_DELETE_ON_CLOSE,
    FILE_DIRECTORY_FILE,
    FILE_NON_DIRECTORY_FILE,
    FILE_OPEN,
    FILE_OPEN_IF,
    FILE_OPENED,
    FILE_OVERWRITE,
    FILE_OVERWRITE_IF,
    FILE_OVERWRITTEN,
    FILE_SHARE_ALL,
    FILE_SHARE_DELETE,
    FILE_SHARE_READ,
    FILE_SHARE_WRITE,
    FILE_SUPERSEDE,
    FILE_SUPERSEDED,
    FILE_WRITE_DATA,
)
from peerwork.sharefs.access import DATA_WRITE_RIGHTS, grant, sharing_conflict
from peerwork.sharefs.handle import FsHandle
from peerwork.sharefs.info import FileInfo, FsSize, fs_size_of
from peerwork.sharefs.rename import rename_noreplace
from peerwork.sharefs.times import TimeOverrides
from peerwork.shares import Access, Op

__all__ = ["FileInfo", "FsHandle", "FsSize", "ShareFS"]

log = logging.getLogger(__name__)

FILE_MODE = 0o664
DIR_MODE = 0o2775
_OVERWRITING = frozenset({FILE_SUPERSEDE, FILE_OVERWRITE, FILE_OVERWRITE_IF})
_MAX_OFFSET = (1 << 63) - 1


def _fail(status: NtStatus, detail: str = "") -> NtStatusError:
    return NtStatusError(status, detail)


@dataclass(slots=True, eq=False)
class _OpenFile:
    """Everything shared by the opens of one file (one inode)."""

    opens: list[FsHandle] = field(default_factory=list)
    delete_pending: bool = False


class ShareFS:
    """The file store of one share folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._share = ShareRoot(self.root)
        with os_errors(f"share folder {root}"):
            st = os.fstat(self._share.fd)
        self._group = st.st_gid
        #: (st_dev, st_ino) of the folder held open: what the share's path must still name.
        self.root_identity = (st.st_dev, st.st_ino)
        self._lock = threading.RLock()
        self._files: dict[tuple[int, int], _OpenFile] = {}
        self._handles: set[FsHandle] = set()
        self._times = TimeOverrides()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran (the share was removed or its folder swapped)."""
        return self._share.fd < 0

    @property
    def real_root(self) -> str:
        """The real path of the folder held open (no symlinks in it)."""
        return self._share.real

    # -- opening -----------------------------------------------------------

    def open(
        self,
        path: str,
        *,
        access: Access,
        desired: int,
        disposition: int,
        options: int,
        attributes: int = 0,
        share_access: int = FILE_SHARE_ALL,
    ) -> tuple[FsHandle, int]:
        """Open or create ``path``; returns the handle and the SMB2 create action."""
        if not FILE_SUPERSEDE <= disposition <= FILE_OVERWRITE_IF:
            raise _fail(NtStatus.INVALID_PARAMETER, f"bad create disposition {disposition}")
        want_dir = bool(options & FILE_DIRECTORY_FILE)
        if want_dir and options & FILE_NON_DIRECTORY_FILE:
            raise _fail(NtStatus.INVALID_PARAMETER, "both DIRECTORY_FILE and NON_DIRECTORY_FILE")
        if want_dir and disposition not in (FILE_CREATE, FILE_OPEN, FILE_OPEN_IF):
            raise _fail(NtStatus.INVALID_PARAMETER, "a folder cannot be overwritten")
        if share_access & ~FILE_SHARE_ALL:
            raise _fail(NtStatus.INVALID_PARAMETER, f"bad share access {share_access:#x}")
        parts = split_smb_path(path)
        # A first check before touching the disk; redone with the file's READONLY flag below.
        granted = grant(access, desired)
        with self._lock:
            loc = self._share.locate(parts)
            try:
                if loc.exists:
                    return self._open_existing(
                        loc, access, desired, disposition, options, attributes, share_access
                    )
                return self._create(
                    loc, access, granted, disposition, options, attributes, share_access
                )
            finally:
                loc.close()

    def _open_existing(
        self,
        loc: Located,
        access: Access,
        desired: int,
        disposition: int,
        options: int,
        attributes: int,
        share_access: int,
    ) -> tuple[FsHandle, int]:
        final = loc.final
        st = final.st
        assert st is not None
        is_dir = stat.S_ISDIR(st.st_mode)
        if not is_dir and not stat.S_ISREG(st.st_mode):
            raise _fail(NtStatus.ACCESS_DENIED, "not a regular file or folder")
        if disposition == FILE_CREATE:
            raise _fail(NtStatus.OBJECT_NAME_COLLISION, "already exists")
        if is_dir and options & FILE_NON_DIRECTORY_FILE:
            raise _fail(NtStatus.FILE_IS_A_DIRECTORY)
        if not is_dir and options & FILE_DIRECTORY_FILE:
            raise _fail(NtStatus.NOT_A_DIRECTORY)
        overwrite = disposition in _OVERWRITING
        if is_dir and overwrite:
            raise _fail(NtStatus.FILE_IS_A_DIRECTORY, "a folder cannot be overwritten")
        key = (st.st_dev, st.st_ino)
        state = self._files.get(key)
        if state is not None and state.delete_pending:
            raise _fail(NtStatus.DELETE_PENDING)
        readonly = not is_dir and not st.st_mode & stat.S_IWUSR
        granted = grant(access, desired, readonly_file=readonly)
        if overwrite and (readonly or not access.allows(Op.WRITE)):
            raise _fail(NtStatus.ACCESS_DENIED, "cannot overwrite")
        delete_on_close = bool(options & FILE_DELETE_ON_CLOSE)
        if delete_on_close:
            self._check_deletable(loc, granted, readonly, is_dir)
        # Overwriting writes the data even if the client did not ask for write access.
        sharing_mask = granted | (FILE_WRITE_DATA if overwrite else 0)
        if state is not None:
            for other in state.opens:
                if sharing_conflict(other.granted, other.share_access, sharing_mask, share_access):
                    raise _fail(NtStatus.SHARING_VIOLATION, "the file is open elsewhere")
        if is_dir:
            flags = os.O_RDONLY | os.O_DIRECTORY
        elif granted & DATA_WRITE_RIGHTS:
            flags = os.O_RDWR | os.O_NONBLOCK
        else:
            flags = os.O_RDONLY | os.O_NONBLOCK
        fd = loc.open(flags | os.O_CLOEXEC)
        try:
            with os_errors():
                fst = os.fstat(fd)
                if (fst.st_dev, fst.st_ino) != key:
                    raise _fail(NtStatus.OBJECT_NAME_NOT_FOUND, "the file changed while opening")
                if overwrite:
                    self._truncate_new(loc, fd, fst)
                    if attributes & FILE_ATTRIBUTE_READONLY and access.allows(Op.SET_ATTRIBUTES):
                        os.fchmod(fd, stat.S_IMODE(fst.st_mode) & ~0o222)
        except BaseException:
            os.close(fd)
            raise
        action = {
            FILE_SUPERSEDE: FILE_SUPERSEDED,
            FILE_OVERWRITE: FILE_OVERWRITTEN,
            FILE_OVERWRITE_IF: FILE_OVERWRITTEN,
        }.get(disposition, FILE_OPENED)
        handle = self._register(
            loc, fd, key, is_dir, granted, share_access, access, delete_on_close
        )
        return handle, action

    def _truncate_new(self, loc: Located, fd: int, fst: os.stat_result) -> None:
        """Empty the file for an overwrite, even when ``fd`` itself is read-only."""
        if fcntl_mode(fd) != os.O_RDONLY:
            os.ftruncate(fd, 0)
            return
        wfd = loc.open(os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            wst = os.fstat(wfd)
            if (wst.st_dev, wst.st_ino) != (fst.st_dev, fst.st_ino):
                raise _fail(NtStatus.OBJECT_NAME_NOT_FOUND, "the file changed while opening")
            os.ftruncate(wfd, 0)
        finally:
            os.close(wfd)

    def _create(
        self,
        loc: Located,
        access: Access,
        granted: int,
        disposition: int,
        options: int,
        attributes: int,
        share_access: int,
    ) -> tuple[FsHandle, int]:
        if disposition in (FILE_OPEN, FILE_OVERWRITE):
            raise _fail(NtStatus.OBJECT_NAME_NOT_FOUND)
        if loc.target is not None or loc.name is None:
            # A dangling symlink: creating through it would create its target.
            raise _fail(NtStatus.ACCESS_DENIED, "a symbolic link is in the way")
        if not access.allows(Op.CREATE):
            raise _fail(NtStatus.ACCESS_DENIED, "this share is read-only for you")
        if options & FILE_DELETE_ON_CLOSE and not granted & DELETE:
            raise _fail(NtStatus.INVALID_PARAMETER, "delete-on-close needs DELETE access")
        if options & FILE_DELETE_ON_CLOSE and attributes & FILE_ATTRIBUTE_READONLY:
            raise _fail(NtStatus.CANNOT_DELETE, "a read-only file cannot be delete-on-close")
        with os_errors():
            parent = os.fstat(loc.dir_fd)
        parent_state = self._files.get((parent.st_dev, parent.st_ino))
        if parent_state is not None and parent_state.delete_pending:
            raise _fail(NtStatus.DELETE_PENDING, "the folder is being deleted")
        is_dir = bool(options & FILE_DIRECTORY_FILE)
        name = loc.name
        with os_errors():
            if is_dir:
                os.mkdir(name, DIR_MODE, dir_fd=loc.dir_fd)
                fd = os.open(
                    name,
                    os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                    dir_fd=loc.dir_fd,
                )
            else:
                flags = os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC
                fd = os.open(name, flags, FILE_MODE, dir_fd=loc.dir_fd)
        self._share.index.invalidate(loc.dir_fd)
        try:
            with os_errors():
                mode = DIR_MODE if is_dir else FILE_MODE
                if attributes & FILE_ATTRIBUTE_READONLY and not is_dir and access >= Access.FULL:
                    mode &= ~0o222
                os.fchmod(fd, mode)  # the umask must not decide what co-workers may do
                with contextlib.suppress(PermissionError):
                    os.fchown(fd, -1, self._group)
                st = os.fstat(fd)
        except BaseException:
            os.close(fd)
            raise
        key = (st.st_dev, st.st_ino)
        handle = self._register(
            loc,
            fd,
            key,
            is_dir,
            granted,
            share_access,
            access,
            bool(options & FILE_DELETE_ON_CLOSE),
        )
        return handle, FILE_CREATED

    def _register(
        self,
        loc: Located,
        fd: int,
        key: tuple[int, int],
        is_dir: bool,
        granted: int,
        share_access: int,
        access: Access,
        delete_on_close: bool,
    ) -> FsHandle:
        state = self._files.setdefault(key, _OpenFile())
        handle = FsHandle(
            self, fd, loc.parts, key, is_dir, granted, share_access, access, delete_on_close
        )
        state.opens.append(handle)
        self._handles.add(handle)
        return handle

    def _check_deletable(self, loc: Located, granted: int, readonly: bool, is_dir: bool) -> None:
        if not granted & DELETE:
            raise _fail(NtStatus.INVALID_PARAMETER, "delete-on-close needs DELETE access")
        if loc.name is None:
            raise _fail(NtStatus.ACCESS_DENIED, "the share folder itself cannot be deleted")
        if readonly and loc.target is None:
            # MS-FSA 2.1.5.1.2.1 / 2.1.5.14.3; Windows and smbd answer the same.
            raise _fail(NtStatus.CANNOT_DELETE, "the file is read-only")
        if is_dir and loc.target is None:
            fd = loc.open(os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                with os_errors():
                    if os.listdir(fd):
                        raise _fail(NtStatus.DIRECTORY_NOT_EMPTY)
            finally:
                os.close(fd)

    def fs_size(self) -> FsSize:
        with os_errors():
            return fs_size_of(self._share.fd)

    def close(self) -> None:
        """Close every handle and the share folder (share removed or agent stopping)."""
        for handle in list(self._handles):
            handle.close()
        self._share.close()

    # -- called by FsHandle under self._lock ----------------------------------

    def _release(self, handle: FsHandle) -> None:
        self._handles.discard(handle)
        state = self._files.get(handle._key)
        if state is None:
            return
        if handle in state.opens:
            state.opens.remove(handle)
        if handle._delete_on_close:
            state.delete_pending = True
        if state.opens:
            return
        del self._files[handle._key]
        if state.delete_pending:
            try:
                self._unlink(handle)
            except NtStatusError as exc:
                # Close always succeeds on the wire; the entry simply stays.
                log.info("delete of %r at close failed: %s", handle.path, exc)

    def _unlink(self, handle: FsHandle) -> None:
        loc = self._share.locate(handle._parts)
        try:
            if loc.st is None or loc.name is None:
                return
            if loc.target is None and (loc.st.st_dev, loc.st.st_ino) != handle._key:
                return  # something else now has this name: never delete it
            with os_errors():
                if stat.S_ISDIR(loc.st.st_mode):
                    os.rmdir(loc.name, dir_fd=loc.dir_fd)
                else:
                    os.unlink(loc.name, dir_fd=loc.dir_fd)
            self._times.forget((loc.st.st_dev, loc.st.st_ino))
            self._share.index.invalidate(loc.dir_fd)
        finally:
            loc.close()

    def _state(self, handle: FsHandle) -> _OpenFile:
        return self._files.setdefault(handle._key, _OpenFile())

    def _rename(self, handle: FsHandle, new_parts: tuple[str, ...], replace: bool) -> None:
        state = self._state(handle)
        if state.delete_pending:
            raise _fail(NtStatus.DELETE_PENDING)
        for other in state.opens:
            if other is not handle and not other.share_access & FILE_SHARE_DELETE:
                raise _fail(NtStatus.SHARING_VIOLATION, "the file is open without delete sharing")
        src = self._share.locate(handle._parts)
        try:
            if src.st is None or src.name is None:
                raise _fail(NtStatus.OBJECT_NAME_NOT_FOUND, "the file is gone")
            if src.target is None and (src.st.st_dev, src.st.st_ino) != handle._key:
                raise _fail(NtStatus.OBJECT_NAME_NOT_FOUND, "the file changed")
            self._check_parent_opens(src.dir_fd)
            dst = self._share.locate(new_parts)
            try:
                new_name = new_parts[-1]
                same_entry = dst.st is not None and _same_entry(src, dst)
                with os_errors():
                    if same_entry and src.name == new_name:
                        pass  # renaming to its own name: nothing to do
                    elif dst.st is None or same_entry:
                        rename_noreplace(src.dir_fd, src.name, dst.dir_fd, new_name)
                    elif not replace:
                        raise _fail(NtStatus.OBJECT_NAME_COLLISION, "the new name exists")
                    else:
                        self._check_replaceable(dst)
                        assert dst.name is not None
                        new_name = dst.name
                        os.rename(src.name, new_name, src_dir_fd=src.dir_fd, dst_dir_fd=dst.dir_fd)
                self._share.index.invalidate(src.dir_fd)
                self._share.index.invalidate(dst.dir_fd)
                moved = (*dst.parts[:-1], new_name)
            finally:
                dst.close()
        finally:
            src.close()
        old = handle._parts
        for h in self._handles:
            if h._parts[: len(old)] == old:
                h._parts = moved + h._parts[len(old) :]

    def _check_parent_opens(self, dir_fd: int) -> None:
        """A rename acts as a DELETE open of the folder holding the file (sharing
        read and write): Windows refuses it while that folder is open with DELETE access
        or without delete sharing; attribute-only opens never conflict (smbtorture
        smb2.rename.*delete_access*, rename.msword)."""
        with os_errors():
            parent = os.fstat(dir_fd)
        state = self._files.get((parent.st_dev, parent.st_ino))
        implied_share = FILE_SHARE_READ | FILE_SHARE_WRITE
        for other in state.opens if state is not None else ():
            if sharing_conflict(other.granted, other.share_access, DELETE, implied_share):
                raise _fail(NtStatus.SHARING_VIOLATION, "the folder is open without delete sharing")

    def _check_replaceable(self, dst: Located) -> None:
        st = dst.st
        assert st is not None
        if stat.S_ISDIR(st.st_mode):
            raise _fail(NtStatus.ACCESS_DENIED, "cannot replace a folder")
        if dst.target is None and not st.st_mode & stat.S_IWUSR:
            raise _fail(NtStatus.ACCESS_DENIED, "cannot replace a read-only file")
        if (st.st_dev, st.st_ino) in self._files:
            raise _fail(NtStatus.ACCESS_DENIED, "the file to replace is open")


def _same_entry(src: Located, dst: Located) -> bool:
    """Does ``dst`` name the same directory entry as ``src`` (a case-only rename)?"""
    assert src.st is not None and dst.st is not None
    if (src.st.st_dev, src.st.st_ino) != (dst.st.st_dev, dst.st.st_ino):
        return False
    a, b = os.fstat(src.dir_fd), os.fstat(dst.dir_fd)
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino) and src.name == dst.name


def fcntl_mode(fd: int) -> int:
    return fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
