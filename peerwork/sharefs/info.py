"""Values the share file store hands to the SMB layer, and how a stat becomes one.

Times are NT FILETIME integers (100 ns ticks since 1601-01-01 UTC). Linux keeps
no birth time Python can read portably, so creation time is ``min(mtime,
ctime)``. Attributes are derived from the inode: DIRECTORY for folders, ARCHIVE
for files, READONLY when the owner-write bit is clear, HIDDEN for dot-files (as
Samba's "hide dot files" does, so macOS ``._*`` litter stays out of Explorer).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from peerwork.proto.smb2_constants import (
    FILE_ATTRIBUTE_ARCHIVE,
    FILE_ATTRIBUTE_DIRECTORY,
    FILE_ATTRIBUTE_HIDDEN,
    FILE_ATTRIBUTE_NORMAL,
    FILE_ATTRIBUTE_READONLY,
)

# Seconds between 1601-01-01 and 1970-01-01, in 100 ns ticks.
FILETIME_UNIX_EPOCH = 116_444_736_000_000_000


@dataclass(frozen=True, slots=True)
class FileInfo:
    name: str
    size: int
    allocation_size: int
    creation_time: int
    last_access_time: int
    last_write_time: int
    change_time: int
    attributes: int
    file_id: int
    is_dir: bool
    nlink: int


@dataclass(frozen=True, slots=True)
class FsSize:
    total_bytes: int
    free_bytes: int
    avail_bytes: int
    block_size: int


def ns_to_filetime(ns: int) -> int:
    return max(0, ns // 100 + FILETIME_UNIX_EPOCH)


def filetime_to_ns(ft: int) -> int:
    return (ft - FILETIME_UNIX_EPOCH) * 100


def attributes_of(name: str, st: os.stat_result) -> int:
    if stat.S_ISDIR(st.st_mode):
        attrs = FILE_ATTRIBUTE_DIRECTORY
    else:
        attrs = FILE_ATTRIBUTE_ARCHIVE
        if not st.st_mode & stat.S_IWUSR:
            attrs |= FILE_ATTRIBUTE_READONLY
    if name.startswith(".") and name not in (".", ".."):
        attrs |= FILE_ATTRIBUTE_HIDDEN
    return attrs or FILE_ATTRIBUTE_NORMAL


def info_from_stat(name: str, st: os.stat_result) -> FileInfo:
    is_dir = stat.S_ISDIR(st.st_mode)
    return FileInfo(
        name=name,
        # Windows reports 0 for a folder's size and allocation; so does Samba.
        size=0 if is_dir else st.st_size,
        allocation_size=0 if is_dir else st.st_blocks * 512,
        creation_time=ns_to_filetime(min(st.st_mtime_ns, st.st_ctime_ns)),
        last_access_time=ns_to_filetime(st.st_atime_ns),
        last_write_time=ns_to_filetime(st.st_mtime_ns),
        change_time=ns_to_filetime(st.st_ctime_ns),
        attributes=attributes_of(name, st),
        file_id=st.st_ino,
        is_dir=is_dir,
        nlink=st.st_nlink,
    )


def fs_size_of(fd: int) -> FsSize:
    vfs = os.fstatvfs(fd)
    return FsSize(
        total_bytes=vfs.f_blocks * vfs.f_frsize,
        free_bytes=vfs.f_bfree * vfs.f_frsize,
        avail_bytes=vfs.f_bavail * vfs.f_frsize,
        block_size=vfs.f_frsize,
    )
