"""Creation/change times a client set (peerwork.sharefs.times) through ShareFS handles."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from peerwork.proto.smb2_constants import (
    DELETE,
    FILE_OPEN,
    FILE_OPEN_IF,
    FILE_READ_ATTRIBUTES,
    FILE_READ_DATA,
    FILE_SHARE_ALL,
    FILE_WRITE_ATTRIBUTES,
    FILE_WRITE_DATA,
)
from peerwork.sharefs import FsHandle, ShareFS
from peerwork.sharefs.info import ns_to_filetime
from peerwork.sharefs.times import TimeOverrides
from peerwork.shares import Access

RW = FILE_READ_DATA | FILE_WRITE_DATA | FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES
CREATED = ns_to_filetime(1_500_000_000 * 10**9)
CHANGED = ns_to_filetime(1_700_000_000 * 10**9)


@pytest.fixture
def fs(tmp_path: Path) -> Iterator[ShareFS]:
    (tmp_path / "a.txt").write_bytes(b"abc")
    store = ShareFS(tmp_path)
    yield store
    store.close()


def open_(fs: ShareFS, name: str, desired: int = RW, disposition: int = FILE_OPEN) -> FsHandle:
    h, _ = fs.open(
        name,
        access=Access.CHANGE,
        desired=desired,
        disposition=disposition,
        options=0,
        share_access=FILE_SHARE_ALL,
        attributes=0,
    )
    return h


def set_times(h: FsHandle, creation: int | None, change: int | None) -> None:
    h.set_basic(
        creation=creation, last_access=None, last_write=None, change=change, attributes=None
    )


def test_set_creation_and_change_time_read_back_everywhere(fs: ShareFS) -> None:
    h = open_(fs, "a.txt")
    set_times(h, CREATED, CHANGED)
    info = h.info()
    assert (info.creation_time, info.change_time) == (CREATED, CHANGED)
    # Another open and the folder listing agree (smbtorture compares them).
    other = open_(fs, "a.txt", desired=FILE_READ_ATTRIBUTES)
    assert other.info().creation_time == CREATED
    root = open_(fs, "", desired=0x1 | FILE_READ_ATTRIBUTES)
    listed = {e.name: e for e in root.list("*")}
    assert (listed["a.txt"].creation_time, listed["a.txt"].change_time) == (CREATED, CHANGED)
    for x in (h, other, root):
        x.close()


def test_a_later_change_shows_the_real_change_time_but_keeps_creation(fs: ShareFS) -> None:
    h = open_(fs, "a.txt")
    set_times(h, CREATED, CHANGED)
    os.utime(fs.root / "a.txt", ns=(10**18, 10**18))  # ctime moves
    info = h.info()
    assert info.creation_time == CREATED
    assert info.change_time != CHANGED
    # Setting only the creation time later does not revive the stale change time.
    set_times(h, CREATED + 1, None)
    assert h.info().change_time != CHANGED
    h.close()


def test_delete_forgets_the_times(fs: ShareFS) -> None:
    h = open_(fs, "a.txt", desired=RW | DELETE)
    set_times(h, CREATED, None)
    h.set_delete_on_close(True)
    h.close()
    assert len(fs._times) == 0
    fresh = open_(fs, "a.txt", disposition=FILE_OPEN_IF)
    assert fresh.info().creation_time != CREATED
    fresh.close()


def test_table_is_bounded(tmp_path: Path) -> None:
    table = TimeOverrides(max_entries=3)
    for i in range(10):
        p = tmp_path / f"f{i}"
        p.write_bytes(b"")
        table.record(p.stat(), creation=CREATED, change=None)
    assert len(table) == 3
