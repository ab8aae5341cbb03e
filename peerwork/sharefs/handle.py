"""An open file or folder of a share: :class:`FsHandle`, created by :meth:`ShareFS.open`.

Data calls (read, write, info, flush, set_end_of_file) use the handle's own
descriptor with pread/pwrite — no seek state, so concurrent reads of a file being
written see consistent data — and check the handle's granted mask first. Calls
that change names (rename, delete-on-close, close) take the store's lock and go
back through :mod:`peerwork.pathsafety`.
"""

# Descriptor-relative calls (dir_fd=, listdir of an fd) have no pathlib equivalent.
# ruff: noqa: PTH208

from __future__ import annotations

import builtins
import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from peerwork.os_errors import os_errors
from peerwork.pathsafety import join_smb_path, name_key, split_smb_path
from peerwork.proto.ntstatus import NtStatus, NtStatusError
from peerwork.proto.smb2_constants import (
    DELETE,
    FILE_ATTRIBUTE_READONLY,
    FILE_EXECUTE,
    FILE_LIST_DIRECTORY,
    FILE_READ_DATA,
    FILE_WRITE_ATTRIBUTES,
    FILE_WRITE_DATA,
)
from peerwork.sharefs.access import DATA_WRITE_RIGHTS
from peerwork.sharefs.info import FileInfo, filetime_to_ns, info_from_stat
from peerwork.sharefs.match import DEFAULT_LISTING_WORK, Pattern, has_wildcards
from peerwork.shares import Access, Op

if TYPE_CHECKING:
    from peerwork.sharefs.store import ShareFS

_MAX_OFFSET = (1 << 63) - 1


def _fail(status: NtStatus, detail: str = "") -> NtStatusError:
    return NtStatusError(status, detail)


class FsHandle:
    """One open of a file or folder. ``path`` follows renames (its own and its folders')."""

    def __init__(
        self,
        fs: ShareFS,
        fd: int,
        parts: tuple[str, ...],
        key: tuple[int, int],
        is_dir: bool,
        granted: int,
        share_access: int,
        access: Access,
        delete_on_close: bool,
    ) -> None:
        self._fs = fs
        self._fd = fd
        self._parts = parts
        self._key = key
        self.is_dir = is_dir
        self.granted = granted
        self.share_access = share_access
        self.access = access
        self._delete_on_close = delete_on_close
        # This open set the file's delete-pending flag (FileDispositionInformation).
        self._marked_delete = False
        self._closed = False
        # Calls running in worker threads; close() defers os.close until they finish
        # so a recycled descriptor number can never be read or written by mistake.
        self._busy = 0
        self._guard = threading.Lock()

    @contextmanager
    def _using(self) -> Iterator[int]:
        with self._guard:
            if self._closed:
                raise _fail(NtStatus.FILE_CLOSED)
            self._busy += 1
        try:
            with os_errors():
                yield self._fd
        finally:
            with self._guard:
                self._busy -= 1
                self._close_fd_if_idle()

    def _close_fd_if_idle(self) -> None:
        if self._closed and self._busy == 0 and self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __repr__(self) -> str:
        return f"FsHandle({self.path!r}, granted={self.granted:#x})"

    @property
    def path(self) -> str:
        return join_smb_path(self._parts)

    @property
    def delete_pending(self) -> bool:
        """For FileStandardInformation.DeletePending."""
        # Without the store's lock: a dict lookup and a flag read are atomic, the
        # answer may be stale by the time the client reads it anyway, and the lock
        # may be held by a slow open in a worker while this runs on the event loop.
        state = self._fs._files.get(self._key)
        return bool(state and state.delete_pending) or self._delete_on_close

    @property
    def closed(self) -> bool:
        return self._closed

    def _need(self, rights: int, what: str) -> None:
        if self._closed:
            raise _fail(NtStatus.FILE_CLOSED)
        if not self.granted & rights:
            raise _fail(NtStatus.ACCESS_DENIED, f"the handle was not opened for {what}")

    def info(self) -> FileInfo:
        with self._using() as fd:
            st = os.fstat(fd)
        return self._info(self._parts[-1] if self._parts else "", st)

    def _info(self, name: str, st: os.stat_result) -> FileInfo:
        return self._fs._times.apply(info_from_stat(name, st), st)

    def read(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``offset``; fewer at the end, ``b""`` at or past it."""
        if self.is_dir:
            raise _fail(NtStatus.INVALID_DEVICE_REQUEST, "cannot read a folder")
        self._need(FILE_READ_DATA | FILE_EXECUTE, "reading")
        if offset < 0 or length < 0 or offset > _MAX_OFFSET:
            raise _fail(NtStatus.INVALID_PARAMETER)
        with self._using() as fd:
            return os.pread(fd, length, offset)

    def write(self, offset: int, data: bytes | memoryview) -> int:
        """Write all of ``data`` at ``offset`` (an append-only handle writes at the end)."""
        if self.is_dir:
            raise _fail(NtStatus.INVALID_DEVICE_REQUEST, "cannot write a folder")
        self._need(DATA_WRITE_RIGHTS, "writing")
        if offset < 0 or offset + len(data) > _MAX_OFFSET:
            raise _fail(NtStatus.INVALID_PARAMETER)
        view = memoryview(data).cast("B")
        with self._using() as fd:
            if not self.granted & FILE_WRITE_DATA:
                offset = os.fstat(fd).st_size
            done = 0
            while done < len(view):
                n = os.pwrite(fd, view[done:], offset + done)
                if n <= 0:
                    raise _fail(NtStatus.DISK_FULL)
                done += n
        return done

    def flush(self) -> None:
        if self.is_dir:
            return
        self._need(DATA_WRITE_RIGHTS, "writing")
        with self._using() as fd:
            os.fsync(fd)

    def set_end_of_file(self, size: int) -> None:
        if self.is_dir:
            raise _fail(NtStatus.INVALID_PARAMETER, "a folder has no end of file")
        self._need(FILE_WRITE_DATA, "writing")
        if size < 0 or size > _MAX_OFFSET:
            raise _fail(NtStatus.INVALID_PARAMETER)
        with self._using() as fd:
            os.ftruncate(fd, size)

    def set_basic(
        self,
        *,
        creation: int | None,
        last_access: int | None,
        last_write: int | None,
        change: int | None,
        attributes: int | None,
    ) -> None:
        """Set times (FILETIME; None leaves one alone) and attributes.

        Only the READONLY attribute is stored (as the owner/group write bits);
        changing it needs a ``full`` grant, so clients that echo the current
        attributes while setting times work with ``change``. Creation and change
        times, which Linux cannot store, are remembered by the store
        (:mod:`peerwork.sharefs.times`) while it runs.
        """
        self._need(FILE_WRITE_ATTRIBUTES, "changing attributes")
        with self._using() as fd:
            st = os.fstat(fd)
        new_mode = None
        if attributes and not self.is_dir:
            mode = stat.S_IMODE(st.st_mode)
            want_ro = bool(attributes & FILE_ATTRIBUTE_READONLY)
            is_ro = not mode & stat.S_IWUSR
            if want_ro != is_ro:
                if not self.access.allows(Op.SET_ATTRIBUTES):
                    raise _fail(NtStatus.ACCESS_DENIED, "only a full grant may change read-only")
                new_mode = mode & ~0o222 if want_ro else mode | 0o220
        times = (creation, last_access, last_write, change)
        if any(t is not None for t in times) and not self.access.allows(Op.SET_TIMES):
            raise _fail(NtStatus.ACCESS_DENIED)
        with self._using() as fd:
            if last_access is not None or last_write is not None:
                atime = filetime_to_ns(last_access) if last_access is not None else st.st_atime_ns
                mtime = filetime_to_ns(last_write) if last_write is not None else st.st_mtime_ns
                os.utime(fd, ns=(atime, mtime))
            if new_mode is not None:
                os.fchmod(fd, new_mode)
            if creation is not None or change is not None:
                # After the other changes: their new ctime is what pins ``change``.
                self._fs._times.record(os.fstat(fd), creation=creation, change=change)

    def rename(self, new_path: str, replace: bool) -> None:
        """Rename within the share (``new_path`` share-relative; one leading ``\\`` allowed)."""
        self._need(DELETE, "delete/rename")
        if not self.access.allows(Op.RENAME):
            raise _fail(NtStatus.ACCESS_DENIED)
        if not self._parts:
            raise _fail(NtStatus.ACCESS_DENIED, "the share folder itself cannot be renamed")
        new_parts = split_smb_path(new_path, allow_leading_separator=True)
        if not new_parts:
            raise _fail(NtStatus.OBJECT_NAME_INVALID, "empty new name")
        if new_parts[: len(self._parts)] == self._parts and len(new_parts) > len(self._parts):
            raise _fail(NtStatus.INVALID_PARAMETER, "cannot move a folder into itself")
        with self._fs._lock:
            if self._closed:
                raise _fail(NtStatus.FILE_CLOSED)
            self._fs._rename(self, new_parts, replace)

    def set_delete_on_close(self, flag: bool) -> None:
        """Mark (or unmark) the file for deletion at its last close."""
        self._need(DELETE, "delete")
        if not self.access.allows(Op.DELETE):
            raise _fail(NtStatus.ACCESS_DENIED)
        if not self._parts:
            raise _fail(NtStatus.ACCESS_DENIED, "the share folder itself cannot be deleted")
        with self._fs._lock:
            if self._closed:
                raise _fail(NtStatus.FILE_CLOSED)
            if flag:
                with self._using() as fd:
                    st = os.fstat(fd)
                    if self.is_dir and os.listdir(fd):
                        raise _fail(NtStatus.DIRECTORY_NOT_EMPTY)
                if not self.is_dir and not st.st_mode & stat.S_IWUSR:
                    raise _fail(NtStatus.CANNOT_DELETE, "the file is read-only")
            self._fs._state(self).delete_pending = flag
            self._marked_delete = flag

    def withdraw_delete(self) -> None:
        """Forget the deletion this open asked for (delete-on-close at open, or a
        disposition it set). The SMB layer calls this before closing an open whose
        share grant no longer allows deleting: the grant of the moment decides."""
        with self._fs._lock:
            self._delete_on_close = False
            if self._marked_delete:
                self._marked_delete = False
                state = self._fs._files.get(self._key)
                if state is not None:
                    state.delete_pending = False

    def list(self, pattern: str, *, max_work: int = DEFAULT_LISTING_WORK) -> list[FileInfo]:
        """Entries matching ``pattern`` (with "." and ".."), sorted case-insensitively.

        Names the share could not open (invalid for SMB, not UTF-8, device names,
        special files, symlinks leading outside) are left out. ``max_work`` bounds
        the name characters the matcher examines: a bigger listing is refused with
        INSUFFICIENT_RESOURCES rather than kept busy for one client.
        """
        if not self.is_dir:
            raise _fail(NtStatus.INVALID_PARAMETER, "not a folder")
        self._need(FILE_LIST_DIRECTORY, "listing")
        with self._using() as fd:
            return self._list(fd, Pattern(pattern or "*"), max_work)

    def _list(self, fd: int, pattern: Pattern, max_work: int) -> builtins.list[FileInfo]:
        out: builtins.list[FileInfo] = []
        here = os.fstat(fd)
        if pattern.matches("."):
            out.append(self._info(".", here))
        if pattern.matches(".."):
            out.append(self._parent_info(here))
        if not has_wildcards(pattern.text):
            found = self._lookup_one(fd, pattern.text)
            return out + ([found] if found else [])
        for name in sorted(os.listdir(fd), key=name_key):
            if pattern.matches(name):
                entry = self._entry_info(fd, name)
                if entry is not None:
                    out.append(entry)
            if pattern.steps > max_work:
                raise _fail(
                    NtStatus.INSUFFICIENT_RESOURCES,
                    f"listing {pattern.text!r} needs more than {max_work} matching steps",
                )
        return out

    def _lookup_one(self, fd: int, name: str) -> FileInfo | None:
        """A pattern without wildcards: one exact, then case-insensitive, lookup."""
        try:
            parts = split_smb_path(name)
        except NtStatusError:
            return None
        if len(parts) != 1:
            return None
        for candidate in (parts[0], *self._fs._share.index.find(fd, parts[0])):
            found = self._entry_info(fd, candidate)
            if found is not None:
                return found
        return None

    def _entry_info(self, fd: int, name: str) -> FileInfo | None:
        try:
            if len(split_smb_path(name)) != 1:
                return None  # a backslash in a Linux name: not reachable over SMB
        except NtStatusError:
            return None
        try:
            st: os.stat_result | None = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except OSError:
            return None
        assert st is not None
        if stat.S_ISLNK(st.st_mode):
            # Only links that stay inside the share are shown, as what they point to.
            try:
                loc = self._fs._share.locate((*self._parts, name))
            except NtStatusError:
                return None
            try:
                st = loc.final.st
            finally:
                loc.close()
        if st is None or not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
            return None
        return self._info(name, st)

    def _parent_info(self, here: os.stat_result) -> FileInfo:
        if not self._parts:
            return self._info("..", here)
        loc = self._fs._share.locate(self._parts[:-1])
        try:
            st = loc.final.st
            return self._info("..", st if st is not None else here)
        finally:
            loc.close()

    def close(self) -> None:
        """Release the open; the last close of a delete-pending file deletes it. Idempotent."""
        with self._fs._lock:
            if self._closed:
                return
            with self._guard:
                self._closed = True
            try:
                self._fs._release(self)
            finally:
                with self._guard:
                    self._close_fd_if_idle()
