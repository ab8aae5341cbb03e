"""The share file store on a real temporary folder: NT semantics, permissions, safety."""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peerwork.os_errors import map_os_error
from peerwork.proto.ntstatus import NtStatus, NtStatusError
from peerwork.proto.smb2_constants import (
    DELETE,
    FILE_ATTRIBUTE_ARCHIVE,
    FILE_ATTRIBUTE_DIRECTORY,
    FILE_ATTRIBUTE_HIDDEN,
    FILE_ATTRIBUTE_NORMAL,
    FILE_ATTRIBUTE_READONLY,
    FILE_CREATE,
    FILE_CREATED,
    FILE_DELETE_ON_CLOSE,
    FILE_DIRECTORY_FILE,
    FILE_GENERIC_READ,
    FILE_NON_DIRECTORY_FILE,
    FILE_OPEN,
    FILE_OPEN_IF,
    FILE_OPENED,
    FILE_OVERWRITE,
    FILE_OVERWRITE_IF,
    FILE_OVERWRITTEN,
    FILE_READ_ATTRIBUTES,
    FILE_READ_DATA,
    FILE_SHARE_ALL,
    FILE_SHARE_READ,
    FILE_SHARE_WRITE,
    FILE_SUPERSEDE,
    FILE_SUPERSEDED,
    FILE_WRITE_ATTRIBUTES,
    FILE_WRITE_DATA,
    GENERIC_ALL,
    GENERIC_READ,
    GENERIC_WRITE,
    MAXIMUM_ALLOWED,
    WRITE_DAC,
)
from peerwork.sharefs import FsHandle, ShareFS
from peerwork.sharefs.info import filetime_to_ns, ns_to_filetime
from peerwork.shares import Access
from tests.helpers.tree_snapshot import assert_unchanged, snapshot

RW = FILE_READ_DATA | FILE_WRITE_DATA | FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES
ALL = GENERIC_ALL


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "share"
    (r / "Docs" / "Sub").mkdir(parents=True)
    (r / "Docs" / "report.txt").write_bytes(b"hello world")
    (r / "Docs" / "Sub" / "deep.txt").write_bytes(b"deep")
    (r / "empty").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_bytes(b"secret")
    return r


@pytest.fixture
def fs(root: Path) -> Iterator[ShareFS]:
    store = ShareFS(root)
    yield store
    store.close()


def nt(fn, *args, **kw) -> NtStatus:  # type: ignore[no-untyped-def]
    with pytest.raises(NtStatusError) as info:
        fn(*args, **kw)
    return info.value.status


def op(
    fs: ShareFS,
    path: str,
    access: Access = Access.CHANGE,
    desired: int = RW,
    disposition: int = FILE_OPEN,
    options: int = 0,
    share: int = FILE_SHARE_ALL,
    attributes: int = 0,
) -> tuple[FsHandle, int]:
    return fs.open(
        path,
        access=access,
        desired=desired,
        disposition=disposition,
        options=options,
        share_access=share,
        attributes=attributes,
    )


# -- create dispositions -------------------------------------------------------


@pytest.mark.parametrize(
    ("disposition", "exists", "expect"),
    [
        (FILE_OPEN, True, FILE_OPENED),
        (FILE_OPEN, False, NtStatus.OBJECT_NAME_NOT_FOUND),
        (FILE_CREATE, True, NtStatus.OBJECT_NAME_COLLISION),
        (FILE_CREATE, False, FILE_CREATED),
        (FILE_OPEN_IF, True, FILE_OPENED),
        (FILE_OPEN_IF, False, FILE_CREATED),
        (FILE_OVERWRITE, True, FILE_OVERWRITTEN),
        (FILE_OVERWRITE, False, NtStatus.OBJECT_NAME_NOT_FOUND),
        (FILE_OVERWRITE_IF, True, FILE_OVERWRITTEN),
        (FILE_OVERWRITE_IF, False, FILE_CREATED),
        (FILE_SUPERSEDE, True, FILE_SUPERSEDED),
        (FILE_SUPERSEDE, False, FILE_CREATED),
    ],
)
def test_dispositions(
    fs: ShareFS, root: Path, disposition: int, exists: bool, expect: int | NtStatus
) -> None:
    name = "Docs\\report.txt" if exists else "Docs\\new.txt"
    if isinstance(expect, NtStatus):
        before = snapshot(root)
        assert nt(op, fs, name, disposition=disposition) == expect
        assert_unchanged(root, before)
        return
    h, action = op(fs, name, disposition=disposition)
    try:
        assert action == expect
        data = (root / name.replace("\\", "/")).read_bytes()
        if expect == FILE_OPENED:
            assert data == b"hello world"
        else:
            assert data == b""
    finally:
        h.close()


def test_missing_parent_is_path_not_found(fs: ShareFS) -> None:
    assert nt(op, fs, "nope\\x.txt", disposition=FILE_CREATE) == NtStatus.OBJECT_PATH_NOT_FOUND
    assert nt(op, fs, "Docs\\report.txt\\x") == NtStatus.OBJECT_PATH_NOT_FOUND


def test_directory_options(fs: ShareFS, root: Path) -> None:
    assert nt(op, fs, "Docs\\report.txt", options=FILE_DIRECTORY_FILE) == NtStatus.NOT_A_DIRECTORY
    assert nt(op, fs, "Docs", options=FILE_NON_DIRECTORY_FILE) == NtStatus.FILE_IS_A_DIRECTORY
    assert (
        nt(op, fs, "Docs", disposition=FILE_OVERWRITE_IF, desired=FILE_READ_DATA)
        == NtStatus.FILE_IS_A_DIRECTORY
    )
    assert (
        nt(op, fs, "x", disposition=FILE_OVERWRITE_IF, options=FILE_DIRECTORY_FILE)
        == NtStatus.INVALID_PARAMETER
    )
    h, action = op(fs, "Docs\\NewDir", disposition=FILE_CREATE, options=FILE_DIRECTORY_FILE)
    assert action == FILE_CREATED and h.is_dir
    h.close()
    assert (root / "Docs" / "NewDir").is_dir()
    assert (
        nt(op, fs, "docs\\newdir", disposition=FILE_CREATE, options=FILE_DIRECTORY_FILE)
        == NtStatus.OBJECT_NAME_COLLISION
    )


def test_new_entries_get_shared_modes_and_the_share_group(fs: ShareFS, root: Path) -> None:
    old = os.umask(0o077)
    try:
        op(fs, "f.txt", disposition=FILE_CREATE)[0].close()
        op(fs, "d", disposition=FILE_CREATE, options=FILE_DIRECTORY_FILE)[0].close()
    finally:
        os.umask(old)
    assert stat.S_IMODE((root / "f.txt").stat().st_mode) == 0o664
    assert stat.S_IMODE((root / "d").stat().st_mode) == 0o2775
    assert (root / "f.txt").stat().st_gid == root.stat().st_gid


def test_root_opens_as_a_folder(fs: ShareFS) -> None:
    h, action = op(fs, "", desired=FILE_READ_DATA)
    assert h.is_dir and h.path == "" and action == FILE_OPENED
    assert nt(h.set_delete_on_close, True) == NtStatus.ACCESS_DENIED
    h.close()


# -- data ---------------------------------------------------------------------


def test_write_read_pread_semantics(fs: ShareFS, root: Path) -> None:
    h, _ = op(fs, "data.bin", disposition=FILE_CREATE)
    assert h.write(0, b"abcdef") == 6
    assert h.write(10, memoryview(b"XY")) == 2
    assert h.read(0, 100) == b"abcdef\0\0\0\0XY"
    assert h.read(3, 2) == b"de"
    assert h.read(100, 5) == b""
    h.set_end_of_file(4)
    assert h.info().size == 4
    h.flush()
    h.close()
    assert (root / "data.bin").read_bytes() == b"abcd"
    assert nt(h.read, 0, 1) == NtStatus.FILE_CLOSED
    h.close()  # idempotent


def test_reads_of_a_file_being_written_are_consistent(fs: ShareFS) -> None:
    w, _ = op(fs, "big.bin", disposition=FILE_CREATE)
    r, _ = op(fs, "big.bin", desired=FILE_READ_DATA)
    block = 64 * 1024
    errors: list[str] = []

    def writer() -> None:
        for i in range(64):
            w.write(i * block, bytes([i % 251]) * block)

    t = threading.Thread(target=writer)
    t.start()
    for _ in range(200):
        data = r.read(0, 64 * block)
        for j in range(0, len(data) - block + 1, block):
            chunk = data[j : j + block]
            if chunk != bytes([chunk[0]]) * block:
                errors.append(f"torn block at {j}")
    t.join(10)
    w.close()
    r.close()
    assert not errors


def test_dir_read_write_refused(fs: ShareFS) -> None:
    h, _ = op(fs, "Docs", desired=FILE_READ_DATA)
    assert nt(h.read, 0, 1) == NtStatus.INVALID_DEVICE_REQUEST
    assert nt(h.write, 0, b"x") == NtStatus.INVALID_DEVICE_REQUEST
    h.close()


# -- permissions -----------------------------------------------------------------


def test_read_share_changes_nothing(fs: ShareFS, root: Path) -> None:
    before = snapshot(root)
    r = Access.READ
    for desired in (FILE_WRITE_DATA, DELETE, GENERIC_WRITE, GENERIC_ALL, WRITE_DAC):
        assert nt(op, fs, "Docs\\report.txt", r, desired) == NtStatus.ACCESS_DENIED
    for disp in (FILE_CREATE, FILE_OPEN_IF, FILE_OVERWRITE_IF, FILE_SUPERSEDE):
        assert nt(op, fs, "Docs\\new.txt", r, FILE_READ_DATA, disp) == NtStatus.ACCESS_DENIED
    for disp in (FILE_OVERWRITE, FILE_OVERWRITE_IF, FILE_SUPERSEDE):
        assert nt(op, fs, "Docs\\report.txt", r, FILE_READ_DATA, disp) == NtStatus.ACCESS_DENIED
    assert (
        nt(op, fs, "x", r, FILE_READ_DATA, FILE_CREATE, FILE_DIRECTORY_FILE)
        == NtStatus.ACCESS_DENIED
    )
    h, _ = op(fs, "Docs\\report.txt", r, MAXIMUM_ALLOWED)
    assert h.granted & FILE_READ_DATA and not h.granted & (FILE_WRITE_DATA | DELETE)
    assert nt(h.write, 0, b"x") == NtStatus.ACCESS_DENIED
    assert nt(h.set_end_of_file, 0) == NtStatus.ACCESS_DENIED
    assert nt(h.rename, "moved.txt", True) == NtStatus.ACCESS_DENIED
    assert nt(h.set_delete_on_close, True) == NtStatus.ACCESS_DENIED
    kw = {"creation": None, "last_access": None, "change": None}
    assert nt(h.set_basic, last_write=1, attributes=None, **kw) == NtStatus.ACCESS_DENIED
    assert nt(h.flush) == NtStatus.ACCESS_DENIED
    assert h.read(0, 5) == b"hello"
    h.close()
    d, _ = op(fs, "Docs", r, GENERIC_READ)
    assert [e.name for e in d.list("*")] == [".", "..", "report.txt", "Sub"]
    d.close()
    assert_unchanged(root, before)


def test_none_grant_gets_nothing(fs: ShareFS) -> None:
    assert nt(op, fs, "Docs", Access.NONE, FILE_READ_ATTRIBUTES) == NtStatus.ACCESS_DENIED


def test_handle_checks_its_own_granted_mask(fs: ShareFS, root: Path) -> None:
    h, _ = op(fs, "Docs\\report.txt", Access.FULL, FILE_READ_DATA)
    before = snapshot(root)
    assert nt(h.write, 0, b"x") == NtStatus.ACCESS_DENIED
    assert nt(h.rename, "x.txt", False) == NtStatus.ACCESS_DENIED
    assert nt(h.set_delete_on_close, True) == NtStatus.ACCESS_DENIED
    h.close()
    assert_unchanged(root, before)


def test_generic_and_maximum_allowed_mapping(fs: ShareFS) -> None:
    h, _ = op(fs, "Docs\\report.txt", Access.CHANGE, GENERIC_READ)
    assert h.granted == FILE_GENERIC_READ
    h.close()
    h, _ = op(fs, "Docs\\report.txt", Access.CHANGE, MAXIMUM_ALLOWED)
    assert h.granted & FILE_WRITE_DATA and h.granted & DELETE and not h.granted & WRITE_DAC
    h.close()
    assert nt(op, fs, "Docs\\report.txt", Access.CHANGE, GENERIC_ALL) == NtStatus.ACCESS_DENIED
    h, _ = op(fs, "Docs\\report.txt", Access.FULL, GENERIC_ALL)
    assert h.granted & WRITE_DAC
    h.close()


def test_readonly_attribute(fs: ShareFS, root: Path) -> None:
    h, _ = op(fs, "Docs\\report.txt", Access.CHANGE, FILE_WRITE_ATTRIBUTES)
    kw = {"creation": None, "last_access": None, "last_write": None, "change": None}
    # CHANGE may echo the current attributes (Explorer does) but not flip READONLY.
    h.set_basic(attributes=FILE_ATTRIBUTE_ARCHIVE, **kw)
    assert nt(h.set_basic, attributes=FILE_ATTRIBUTE_READONLY, **kw) == NtStatus.ACCESS_DENIED
    h.close()
    h, _ = op(fs, "Docs\\report.txt", Access.FULL, FILE_WRITE_ATTRIBUTES)
    h.set_basic(attributes=FILE_ATTRIBUTE_READONLY, **kw)
    assert h.info().attributes & FILE_ATTRIBUTE_READONLY
    h.close()
    assert not (root / "Docs" / "report.txt").stat().st_mode & 0o222
    before = snapshot(root)
    assert nt(op, fs, "Docs\\report.txt", Access.FULL, FILE_WRITE_DATA) == NtStatus.ACCESS_DENIED
    assert (
        nt(op, fs, "Docs\\report.txt", Access.FULL, FILE_READ_DATA, FILE_OVERWRITE)
        == NtStatus.ACCESS_DENIED
    )
    d, _ = op(fs, "Docs\\report.txt", Access.FULL, DELETE)
    assert nt(d.set_delete_on_close, True) == NtStatus.CANNOT_DELETE
    d.close()
    doc = FILE_DELETE_ON_CLOSE
    new_ro = {"disposition": FILE_CREATE, "options": doc, "attributes": FILE_ATTRIBUTE_READONLY}
    assert nt(op, fs, "Docs\\new.txt", Access.FULL, RW | DELETE, **new_ro) == (
        NtStatus.CANNOT_DELETE
    )
    assert nt(op, fs, "Docs\\report.txt", Access.FULL, DELETE, options=doc) == (
        NtStatus.CANNOT_DELETE
    )
    m, _ = op(fs, "Docs\\report.txt", Access.FULL, MAXIMUM_ALLOWED)
    assert not m.granted & FILE_WRITE_DATA
    m.set_basic(attributes=FILE_ATTRIBUTE_NORMAL, **kw)
    m.close()
    assert (root / "Docs" / "report.txt").stat().st_mode & 0o200
    assert_unchanged(root, {**before, "Docs/report.txt": snapshot(root)["Docs/report.txt"]})


def test_set_times(fs: ShareFS, root: Path) -> None:
    h, _ = op(fs, "Docs\\report.txt")
    when = ns_to_filetime(1_600_000_000 * 10**9)
    h.set_basic(creation=None, last_access=when, last_write=when, change=None, attributes=None)
    assert h.info().last_write_time == when
    h.close()
    assert (root / "Docs" / "report.txt").stat().st_mtime_ns == 1_600_000_000 * 10**9
    assert filetime_to_ns(ns_to_filetime(123_400)) == 123_400


def test_info_fields(fs: ShareFS, root: Path) -> None:
    h, _ = op(fs, "Docs\\report.txt", desired=FILE_READ_ATTRIBUTES)
    info = h.info()
    st_ = (root / "Docs" / "report.txt").stat()
    assert info.name == "report.txt" and info.size == 11 and not info.is_dir
    assert info.file_id == st_.st_ino and info.nlink == 1
    assert info.allocation_size == st_.st_blocks * 512
    assert info.attributes == FILE_ATTRIBUTE_ARCHIVE
    assert info.last_write_time == ns_to_filetime(st_.st_mtime_ns)
    assert info.creation_time <= info.last_write_time
    h.close()
    (root / ".DS_Store").write_bytes(b"")
    d, _ = op(fs, "", desired=FILE_READ_DATA)
    by_name = {e.name: e for e in d.list("*")}
    assert by_name[".DS_Store"].attributes & FILE_ATTRIBUTE_HIDDEN
    assert by_name["Docs"].attributes == FILE_ATTRIBUTE_DIRECTORY and by_name["Docs"].size == 0
    d.close()


# -- share modes and delete -------------------------------------------------------


def test_sharing_violation(fs: ShareFS) -> None:
    a, _ = op(fs, "Docs\\report.txt", desired=FILE_READ_DATA, share=FILE_SHARE_READ)
    assert nt(op, fs, "Docs\\report.txt", desired=FILE_WRITE_DATA) == NtStatus.SHARING_VIOLATION
    # Denying write sharing while a writer exists conflicts too.
    b, _ = op(fs, "Docs\\report.txt", desired=FILE_READ_DATA, share=FILE_SHARE_READ)
    # Attribute-only opens never conflict.
    c, _ = op(fs, "Docs\\report.txt", desired=FILE_READ_ATTRIBUTES, share=0)
    a.close()
    b.close()
    c.close()
    w, _ = op(fs, "Docs\\report.txt", desired=FILE_WRITE_DATA, share=FILE_SHARE_ALL)
    assert (
        nt(op, fs, "Docs\\report.txt", desired=FILE_READ_DATA, share=FILE_SHARE_READ)
        == NtStatus.SHARING_VIOLATION
    )
    x, _ = op(
        fs, "Docs\\report.txt", desired=FILE_READ_DATA, share=FILE_SHARE_READ | FILE_SHARE_WRITE
    )
    assert nt(op, fs, "Docs\\report.txt", desired=DELETE) == NtStatus.SHARING_VIOLATION
    w.close()
    x.close()
    op(fs, "Docs\\report.txt", desired=DELETE)[0].close()


def test_delete_on_close_at_last_close(fs: ShareFS, root: Path) -> None:
    a, _ = op(fs, "Docs\\report.txt", desired=FILE_READ_DATA | DELETE)
    b, _ = op(fs, "Docs\\report.txt", desired=FILE_READ_DATA)
    a.set_delete_on_close(True)
    assert a.delete_pending and b.delete_pending
    assert nt(op, fs, "Docs\\report.txt", desired=FILE_READ_DATA) == NtStatus.DELETE_PENDING
    a.close()
    assert (root / "Docs" / "report.txt").exists()
    b.close()
    assert not (root / "Docs" / "report.txt").exists()


def test_delete_on_close_can_be_cleared(fs: ShareFS, root: Path) -> None:
    a, _ = op(fs, "Docs\\report.txt", desired=DELETE)
    a.set_delete_on_close(True)
    a.set_delete_on_close(False)
    a.close()
    assert (root / "Docs" / "report.txt").exists()


def test_delete_on_close_create_option(fs: ShareFS, root: Path) -> None:
    h, _ = op(
        fs, "tmp.txt", desired=RW | DELETE, disposition=FILE_CREATE, options=FILE_DELETE_ON_CLOSE
    )
    h.write(0, b"x")
    h.close()
    assert not (root / "tmp.txt").exists()
    assert (
        nt(op, fs, "tmp2.txt", desired=RW, disposition=FILE_CREATE, options=FILE_DELETE_ON_CLOSE)
        == NtStatus.INVALID_PARAMETER
    )


def test_directory_delete(fs: ShareFS, root: Path) -> None:
    d, _ = op(fs, "Docs", desired=DELETE | FILE_READ_DATA)
    assert nt(d.set_delete_on_close, True) == NtStatus.DIRECTORY_NOT_EMPTY
    d.close()
    assert (
        nt(op, fs, "Docs", desired=DELETE, options=FILE_DELETE_ON_CLOSE | FILE_DIRECTORY_FILE)
        == NtStatus.DIRECTORY_NOT_EMPTY
    )
    e, _ = op(fs, "empty", desired=DELETE, options=FILE_DELETE_ON_CLOSE | FILE_DIRECTORY_FILE)
    e.close()
    assert not (root / "empty").exists()
    (root / "empty").mkdir()
    e, _ = op(fs, "empty", desired=DELETE, options=FILE_DIRECTORY_FILE)
    e.set_delete_on_close(True)
    assert nt(op, fs, "empty\\x", disposition=FILE_CREATE) == NtStatus.DELETE_PENDING
    e.close()
    assert not (root / "empty").exists()


def test_delete_never_removes_a_replacement(fs: ShareFS, root: Path) -> None:
    a, _ = op(fs, "Docs\\report.txt", desired=DELETE)
    a.set_delete_on_close(True)
    (root / "Docs" / "report.txt").rename(root / "Docs" / "old.txt")
    (root / "Docs" / "report.txt").write_bytes(b"someone else's")
    a.close()
    assert (root / "Docs" / "report.txt").read_bytes() == b"someone else's"


# -- rename ----------------------------------------------------------------------


def test_rename_basic_and_collisions(fs: ShareFS, root: Path) -> None:
    (root / "other.txt").write_bytes(b"other")
    h, _ = op(fs, "Docs\\report.txt", desired=DELETE | FILE_READ_DATA)
    h.rename("Docs\\renamed.txt", False)
    assert h.path == "Docs\\renamed.txt"
    assert (root / "Docs" / "renamed.txt").read_bytes() == b"hello world"
    assert nt(h.rename, "other.txt", False) == NtStatus.OBJECT_NAME_COLLISION
    assert nt(h.rename, "OTHER.TXT", False) == NtStatus.OBJECT_NAME_COLLISION
    assert nt(h.rename, "nope\\x.txt", False) == NtStatus.OBJECT_PATH_NOT_FOUND
    assert nt(h.rename, "..\\x.txt", False) == NtStatus.OBJECT_PATH_SYNTAX_BAD
    assert nt(h.rename, "\\\\srv\\x", False) == NtStatus.OBJECT_NAME_INVALID
    assert nt(h.rename, "x.txt:stream", False) == NtStatus.OBJECT_NAME_INVALID
    assert nt(h.rename, "Docs", True) == NtStatus.ACCESS_DENIED  # cannot replace a folder
    h.rename("\\other.txt", True)
    assert (root / "other.txt").read_bytes() == b"hello world"
    assert h.read(0, 5) == b"hello"
    h.rename("Other.TXT", False)  # case-only rename of itself
    assert sorted(p.name for p in root.iterdir() if p.is_file()) == ["Other.TXT"]
    h.rename("other.txt", False)
    h.close()


def test_rename_open_file_and_share_delete(fs: ShareFS, root: Path) -> None:
    reader, _ = op(fs, "Docs\\report.txt", desired=FILE_READ_DATA)
    h, _ = op(fs, "Docs\\report.txt", desired=DELETE)
    h.rename("moved.txt", False)  # Finder renames files that are open
    assert reader.read(0, 5) == b"hello"
    assert reader.path == "moved.txt"
    h.close()
    reader.close()
    locker, _ = op(fs, "moved.txt", desired=FILE_READ_ATTRIBUTES, share=FILE_SHARE_READ)
    h, _ = op(fs, "moved.txt", desired=DELETE)
    assert nt(h.rename, "again.txt", False) == NtStatus.SHARING_VIOLATION
    h.close()
    locker.close()


def test_rename_replacing_an_open_file_is_denied(fs: ShareFS, root: Path) -> None:
    (root / "b.txt").write_bytes(b"b")
    busy, _ = op(fs, "b.txt", desired=FILE_READ_DATA)
    h, _ = op(fs, "Docs\\report.txt", desired=DELETE)
    assert nt(h.rename, "b.txt", True) == NtStatus.ACCESS_DENIED
    busy.close()
    h.close()


def test_rename_directory_keeps_handles_below_working(fs: ShareFS, root: Path) -> None:
    child, _ = op(fs, "Docs\\Sub\\deep.txt")
    d, _ = op(fs, "Docs", desired=DELETE | FILE_READ_DATA)
    d.rename("Papers", False)
    assert d.path == "Papers" and child.path == "Papers\\Sub\\deep.txt"
    assert nt(d.rename, "Papers\\Sub\\Inner", False) == NtStatus.INVALID_PARAMETER
    child.write(0, b"DEEP")
    d.close()
    child.close()
    assert (root / "Papers" / "Sub" / "deep.txt").read_bytes() == b"DEEP"
    x, _ = op(fs, "papers\\sub\\deep.txt", desired=DELETE)
    x.set_delete_on_close(True)
    x.close()
    assert not (root / "Papers" / "Sub" / "deep.txt").exists()


# -- listing ---------------------------------------------------------------------


def test_list_patterns(fs: ShareFS, root: Path) -> None:
    for n in ("a.txt", "B.TXT", "c.doc", "noext", "x.tar.gz"):
        (root / n).write_bytes(b"")
    d, _ = op(fs, "", desired=FILE_READ_DATA)

    def names(p: str) -> list[str]:
        return [e.name for e in d.list(p)]

    assert names("*")[:2] == [".", ".."]
    assert set(names("*")) >= {"a.txt", "B.TXT", "Docs", "empty", "noext"}
    assert names("*.txt") == ["a.txt", "B.TXT"]
    assert names("?.TXT") == ["a.txt", "B.TXT"]
    assert names("b.txt") == ["B.TXT"]
    assert names("missing.txt") == []
    assert names("<.txt") == ["a.txt", "B.TXT"]
    assert "noext" in names('*"')  # DOS_DOT: "a dot or nothing at the end"
    d.close()
    f, _ = op(fs, "a.txt", desired=FILE_READ_DATA)
    assert nt(f.list, "*") == NtStatus.INVALID_PARAMETER
    f.close()


def test_list_hides_what_cannot_be_served(fs: ShareFS, root: Path) -> None:
    (root / "etc").symlink_to("/etc")
    (root / "inlink").symlink_to("Docs")
    (root / "bad:name").write_bytes(b"")
    (root / "trailing.").write_bytes(b"")
    (root / "con").write_bytes(b"")
    os.mkfifo(root / "fifo")
    d, _ = op(fs, "", desired=FILE_READ_DATA)
    got = {e.name: e for e in d.list("*")}
    d.close()
    assert "etc" not in got and "bad:name" not in got and "fifo" not in got
    assert "trailing." not in got and "con" not in got
    assert got["inlink"].is_dir
    assert nt(op, fs, "fifo", desired=FILE_READ_DATA) == NtStatus.ACCESS_DENIED


def test_listing_work_is_bounded(fs: ShareFS, root: Path) -> None:
    """[files] max_listing_work: a listing whose matching would examine more name
    characters fails whole, rather than keep a worker busy for one client."""
    for i in range(50):
        (root / f"{i:02d}{'a' * 100}").write_bytes(b"")
    d, _ = op(fs, "", desired=FILE_READ_DATA)
    hostile = "*a" * 120 + "b"
    assert [e.name for e in d.list(hostile, max_work=100_000)] == []
    assert nt(d.list, hostile, max_work=1_000) == NtStatus.INSUFFICIENT_RESOURCES
    # Star-only patterns cost nothing to match, so the bound never refuses them.
    assert len(d.list("*", max_work=1)) >= 52


# -- escapes and hostile trees ---------------------------------------------------------


def test_symlink_to_etc_inside_share(fs: ShareFS, root: Path) -> None:
    (root / "etc").symlink_to("/etc")
    (root / "out").symlink_to(root.parent / "outside")
    (root / "pw").symlink_to("/etc/passwd")
    outside = snapshot(root.parent / "outside")
    for path in ("etc\\passwd", "pw", "out\\secret.txt", "OUT\\new.txt"):
        for disp in (FILE_OPEN, FILE_OPEN_IF, FILE_OVERWRITE_IF):
            assert nt(op, fs, path, disposition=disp) == NtStatus.ACCESS_DENIED, path
    h, _ = op(fs, "Docs\\report.txt", desired=DELETE)
    assert nt(h.rename, "out\\stolen.txt", False) == NtStatus.ACCESS_DENIED
    h.close()
    assert_unchanged(root.parent / "outside", outside)


def test_directory_swapped_for_symlink_after_open(fs: ShareFS, root: Path) -> None:
    """An open handle keeps its file; new opens through the swapped link are refused."""
    outside = snapshot(root.parent / "outside")
    h, _ = op(fs, "Docs\\Sub\\deep.txt", desired=RW | DELETE)
    (root / "Docs").rename(root / "Docs.moved")
    (root / "Docs").symlink_to(root.parent / "outside")
    h.write(0, b"still inside")
    assert nt(op, fs, "Docs\\secret.txt", desired=FILE_READ_DATA) == NtStatus.ACCESS_DENIED
    assert nt(op, fs, "Docs\\Sub\\deep.txt") == NtStatus.ACCESS_DENIED
    h.set_delete_on_close(True)
    h.close()  # the re-walk at close meets the link: nothing outside is deleted
    assert_unchanged(root.parent / "outside", outside)
    assert (root / "Docs.moved" / "Sub" / "deep.txt").read_bytes() == b"still inside"


def test_unmapped_os_errors_become_nt_status() -> None:
    assert map_os_error(OSError(errno.ENOSPC, "full")).status == NtStatus.DISK_FULL
    assert map_os_error(OSError(errno.EDQUOT, "quota")).status == NtStatus.DISK_FULL
    assert map_os_error(OSError(errno.EACCES, "no")).status == NtStatus.ACCESS_DENIED
    assert map_os_error(OSError(errno.ENAMETOOLONG, "x")).status == NtStatus.OBJECT_NAME_INVALID
    assert map_os_error(OSError(errno.EHOSTDOWN, "x")).status == NtStatus.INTERNAL_ERROR


def test_disk_full_on_write(fs: ShareFS, monkeypatch: pytest.MonkeyPatch) -> None:
    # The machine's edge: the kernel saying ENOSPC. Real full disks are in the root tests.
    h, _ = op(fs, "f.bin", disposition=FILE_CREATE)

    def full(*_a: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", full)
    assert nt(h.write, 0, b"x") == NtStatus.DISK_FULL
    monkeypatch.undo()
    h.close()


def test_fs_size(fs: ShareFS) -> None:
    size = fs.fs_size()
    assert size.total_bytes >= size.free_bytes >= size.avail_bytes >= 0
    assert size.block_size > 0


HOSTILE = st.lists(
    st.one_of(
        st.sampled_from(["..", ".", "\\", "/", ":", "etc", "out", "Docs", "passwd", "x", "é"]),
        st.text(max_size=8),
    ),
    max_size=12,
).map("".join)


@given(path=st.one_of(HOSTILE, st.text(max_size=60)))
@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_hostile_opens_never_escape(root: Path, path: str) -> None:
    for name, target in (("etc", "/etc"), ("out", "../outside")):
        if not (root / name).is_symlink():
            (root / name).symlink_to(target)
    outside = root.parent / "outside"
    before = snapshot(outside)
    store = ShareFS(root)
    try:
        try:
            h, _ = op(store, path, disposition=FILE_OPEN_IF)
        except NtStatusError:
            pass
        else:
            real = Path(f"/proc/self/fd/{h._fd}").readlink()
            h.close()
            assert real == root.resolve() or root.resolve() in real.parents
    finally:
        store.close()
    assert_unchanged(outside, before)


def test_close_waits_for_calls_in_flight(fs: ShareFS) -> None:
    """A close racing a worker-thread read must not free the descriptor number under it."""
    h, _ = op(fs, "Docs\\report.txt", desired=FILE_READ_DATA)
    with h._using() as fd:
        h.close()
        assert os.pread(fd, 5, 0) == b"hello"  # still our file
    with pytest.raises(OSError):
        os.fstat(fd)
    assert nt(h.read, 0, 1) == NtStatus.FILE_CLOSED
    assert nt(h.info) == NtStatus.FILE_CLOSED


@pytest.mark.parametrize(
    ("dir_access", "dir_share", "expect"),
    [
        (FILE_READ_DATA, FILE_SHARE_ALL, None),
        (FILE_READ_DATA | DELETE, FILE_SHARE_ALL, NtStatus.SHARING_VIOLATION),
        (FILE_READ_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE, NtStatus.SHARING_VIOLATION),
        (FILE_READ_DATA | DELETE, 0, NtStatus.SHARING_VIOLATION),
    ],
)
def test_rename_respects_opens_of_the_parent_folder(
    fs: ShareFS, root: Path, dir_access: int, dir_share: int, expect: NtStatus | None
) -> None:
    """As Windows does (smbtorture smb2.rename.*delete_access*)."""
    d, _ = op(fs, "Docs", desired=dir_access, share=dir_share, options=FILE_DIRECTORY_FILE)
    h, _ = op(fs, "Docs\\report.txt", desired=DELETE, share=0)
    try:
        if expect is None:
            h.rename("Docs\\new.txt", False)
            assert (root / "Docs" / "new.txt").exists()
        else:
            before = snapshot(root)
            assert nt(h.rename, "Docs\\new.txt", False) == expect
            assert_unchanged(root, before)
    finally:
        h.close()
        d.close()


def test_rename_ignores_attribute_only_opens_of_the_folder(fs: ShareFS, root: Path) -> None:
    """Word's save sequence (smbtorture smb2.rename.msword)."""
    h, _ = op(fs, "Docs\\report.txt", desired=DELETE | FILE_READ_DATA, share=0)
    d, _ = op(fs, "Docs", desired=FILE_READ_ATTRIBUTES, share=0, options=FILE_DIRECTORY_FILE)
    h.rename("Docs\\new.txt", False)
    d.close()
    h.close()
    assert (root / "Docs" / "new.txt").exists()
