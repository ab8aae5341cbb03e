"""The one place where an OS error from a share's folder becomes an NTSTATUS.

Every filesystem call in :mod:`peerwork.pathsafety` and :mod:`peerwork.sharefs`
runs inside :func:`os_errors`, so an ``OSError`` never escapes the file store
un-mapped: the SMB layer only ever sees :class:`NtStatusError`.

It sits beside both, below them, rather than inside the file store: pathsafety
is the lower layer (sharefs opens every path through it), so it must not import
the store to reach this map. It is not a codec either (it reads ``errno``), so
it stays out of :mod:`peerwork.proto`; it needs nothing but the NTSTATUS values.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from types import MappingProxyType

from peerwork.proto.ntstatus import NtStatus, NtStatusError

_ERRNO_TO_STATUS = MappingProxyType(
    {
        errno.ENOENT: NtStatus.OBJECT_NAME_NOT_FOUND,
        errno.ENOTDIR: NtStatus.OBJECT_PATH_NOT_FOUND,
        errno.EEXIST: NtStatus.OBJECT_NAME_COLLISION,
        errno.EACCES: NtStatus.ACCESS_DENIED,
        errno.EPERM: NtStatus.ACCESS_DENIED,
        # A symlink met where O_NOFOLLOW forbids one: only a race or a hostile tree does that.
        errno.ELOOP: NtStatus.ACCESS_DENIED,
        errno.EXDEV: NtStatus.ACCESS_DENIED,
        errno.ENOSPC: NtStatus.DISK_FULL,
        errno.EDQUOT: NtStatus.DISK_FULL,
        errno.EFBIG: NtStatus.DISK_FULL,
        errno.ENAMETOOLONG: NtStatus.OBJECT_NAME_INVALID,
        errno.EILSEQ: NtStatus.OBJECT_NAME_INVALID,
        errno.ENOTEMPTY: NtStatus.DIRECTORY_NOT_EMPTY,
        errno.EISDIR: NtStatus.FILE_IS_A_DIRECTORY,
        errno.EROFS: NtStatus.MEDIA_WRITE_PROTECTED,
        errno.EBUSY: NtStatus.SHARING_VIOLATION,
        errno.ETXTBSY: NtStatus.SHARING_VIOLATION,
        errno.EINVAL: NtStatus.INVALID_PARAMETER,
        errno.EBADF: NtStatus.FILE_CLOSED,
        errno.EMFILE: NtStatus.INSUFFICIENT_RESOURCES,
        errno.ENFILE: NtStatus.INSUFFICIENT_RESOURCES,
        errno.ENOMEM: NtStatus.INSUFFICIENT_RESOURCES,
        errno.EOPNOTSUPP: NtStatus.NOT_SUPPORTED,
        errno.ENXIO: NtStatus.ACCESS_DENIED,
        errno.ENODEV: NtStatus.ACCESS_DENIED,
    }
)


def map_os_error(exc: OSError, detail: str = "") -> NtStatusError:
    """The NTSTATUS a client should see for ``exc`` (INTERNAL_ERROR when unknown)."""
    status = _ERRNO_TO_STATUS.get(exc.errno or 0, NtStatus.INTERNAL_ERROR)
    return NtStatusError(status, detail or (exc.strerror or str(exc)))


@contextmanager
def os_errors(detail: str = "") -> Iterator[None]:
    """Re-raise any OSError raised inside the block as the matching NtStatusError."""
    try:
        yield
    except OSError as exc:
        raise map_os_error(exc, detail) from exc
