"""Rename without replacing, atomically where the kernel allows it.

``os.rename`` silently replaces an existing target; an SMB rename with
ReplaceIfExists=0 must not, even if another client creates the target between
our check and the rename. Linux ``renameat2(RENAME_NOREPLACE)`` does that in one
step; glibc exposes it, Python's ``os`` does not, hence ctypes. Filesystems
without it (EINVAL) fall back to check-then-rename.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Callable

RENAME_NOREPLACE = 1


def _load() -> Callable[..., int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_renameat2 = _load()


def rename_noreplace(src_dir_fd: int, src: str, dst_dir_fd: int, dst: str) -> None:
    """Rename ``src`` to ``dst`` (names relative to directory fds); EEXIST if ``dst`` exists."""
    if _renameat2 is not None:
        if (
            _renameat2(src_dir_fd, os.fsencode(src), dst_dir_fd, os.fsencode(dst), RENAME_NOREPLACE)
            == 0
        ):
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(err, os.strerror(err), src)
    try:
        os.stat(dst, dir_fd=dst_dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        os.rename(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)
        return
    raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst)
