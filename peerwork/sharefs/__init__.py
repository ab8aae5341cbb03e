"""The NT-semantics file store behind a share: what the SMB layer and tests use.

:mod:`.store` holds :class:`ShareFS` (open, rename, delete, share modes);
:mod:`.handle` the open handle; :mod:`.access` the share-grant → access-mask
rules; :mod:`.info` stat → FILE_*_INFORMATION values; :mod:`.match` the
wildcard matcher for listings; :mod:`.rename` the no-replace rename;
:mod:`.times` the creation/change times a client set. OS errors become
NTSTATUS in :mod:`peerwork.os_errors`.
"""

from __future__ import annotations

from peerwork.sharefs.handle import FsHandle
from peerwork.sharefs.info import FileInfo, FsSize
from peerwork.sharefs.store import ShareFS

__all__ = ["FileInfo", "FsHandle", "FsSize", "ShareFS"]
