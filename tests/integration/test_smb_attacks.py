"""A hostile client against peerwork's SMB service: share-level permissions and the share folder.

Every attack here is sent over the wire (tests/helpers/rawsmb.py: impacket logs on,
the requests are hand-packed) and every test asserts two things: the server
refused, and the disk did not change (tests/helpers/tree_snapshot.py over the
whole test world: the share, a second share, and a folder outside both).

The world::

    world/outside/secret.txt         never reachable
    world/docs/                      share "docs": alice=change, bob=read, carol=full
        data.txt  sub/inner.txt  ro.txt (read-only attribute)
        link-out -> ../outside       link-secret -> ../outside/secret.txt
        dangling-out -> ../outside/nothing-yet
    world/other/                     share "other": alice=read, carol=change
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from impacket.smb3structs import SMB2_DIALECT_21, SMB2_DIALECT_30
from impacket.smbconnection import SessionError

from peerwork.proto.ntstatus import NtStatus
from peerwork.shares import Access, Share
from tests.helpers import rawsmb as r
from tests.helpers.smbserver_runner import ServerThread, ShareTable, smb_server
from tests.helpers.tree_snapshot import Snapshot, assert_unchanged, snapshot

OK = NtStatus.SUCCESS

# FSCTLs that change a file (MS-FSCC 2.3); none may work on a read-only tree.
WRITING_FSCTLS = {
    "SET_SPARSE": 0x000900C4,
    "SET_ZERO_DATA": 0x000980C8,
    "SET_REPARSE_POINT": 0x000900A4,
    "DELETE_REPARSE_POINT": 0x000900AC,
    "SET_COMPRESSION": 0x0009C040,
    "SET_OBJECT_ID": 0x00090098,
    "DUPLICATE_EXTENTS_TO_FILE": 0x00098344,
    "SET_INTEGRITY_INFORMATION": 0x0009C280,
    "FILE_LEVEL_TRIM": 0x00098208,
    "OFFLOAD_WRITE": 0x00098268,
    "SRV_COPYCHUNK": 0x001440F2,
    "SRV_COPYCHUNK_WRITE": 0x001480F2,
    "SRV_REQUEST_RESUME_KEY": 0x00140078,
    "PIPE_TRANSCEIVE": 0x0011C017,
}


@dataclass
class World:
    srv: ServerThread
    table: ShareTable
    root: Path  # everything the server could possibly touch
    docs: Path
    other: Path
    outside: Path

    @property
    def port(self) -> int:
        return self.srv.port

    def snap(self) -> Snapshot:
        return snapshot(self.root)

    def client(
        self, user: str, password: str, share: str | None = "docs", dialect: str = SMB2_DIALECT_21
    ) -> r.RawSmb:
        c = r.RawSmb(self.port, user, password, dialect=dialect)
        if share is not None:
            assert c.tree_connect(share).status == OK
        return c


PASSWORDS = {"alice": "secret", "bob": "hunter2", "carol": "carolpw", "dave": "davepw"}


def _make_world(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    root = tmp_path / "world"
    outside, docs, other = root / "outside", root / "docs", root / "other"
    for d in (outside, docs, other, docs / "sub"):
        d.mkdir(parents=True)
    (outside / "secret.txt").write_text("outside the share\n")
    (docs / "data.txt").write_text("0123456789")
    (docs / "sub" / "inner.txt").write_text("inner")
    (docs / "ro.txt").write_text("read-only attribute")
    (docs / "ro.txt").chmod(0o444)
    (docs / "link-out").symlink_to("../outside")
    (docs / "link-secret").symlink_to("../outside/secret.txt")
    (docs / "dangling-out").symlink_to("../outside/nothing-yet")
    (other / "other.txt").write_text("in the other share")
    return root, docs, other, outside


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    root, docs, other, outside = _make_world(tmp_path)
    grants = {"alice": Access.CHANGE, "bob": Access.READ, "carol": Access.FULL}
    shares = [
        Share("docs", docs, "", grants),
        Share("other", other, "", {"alice": Access.READ, "carol": Access.CHANGE}),
    ]
    with smb_server(tmp_path, users=PASSWORDS, shares=shares) as smb:
        yield World(smb.server, smb.table, root, docs, other, outside)


def refused(status: int) -> bool:
    return status != OK


# --- a read-only tree ------------------------------------------------------------------


def test_read_grant_handle_cannot_change_anything(world: World) -> None:
    before = world.snap()
    bob = world.client("bob", PASSWORDS["bob"])
    try:
        status, fid = bob.create("data.txt", r.READ_ACCESS)
        assert status == OK
        attempts = {
            "rename": bob.set_info(fid, r.RENAME, r.rename_info("renamed.txt")),
            "rename-replace": bob.set_info(fid, r.RENAME, r.rename_info("ro.txt", True)),
            "hard link": bob.set_info(fid, r.LINK, r.rename_info("linked.txt")),
            "disposition": bob.set_info(fid, r.DISPOSITION, b"\x01"),
            "end of file": bob.set_info(fid, r.END_OF_FILE, struct.pack("<Q", 0)),
            "allocation": bob.set_info(fid, r.ALLOCATION, struct.pack("<Q", 0)),
            "times": bob.set_info(fid, r.BASIC, r.basic_info((1, 1, 1, 1))),
            "read-only attr": bob.set_info(fid, r.BASIC, r.basic_info(attributes=0x1)),
            "hidden attr": bob.set_info(fid, r.BASIC, r.basic_info(attributes=0x2)),
            "security": bob.set_info(fid, 0, _everyone_full_sd(), r.INFO_SECURITY, 0x4),
            "write": bob.write(fid, b"pwned"),
            "write at end": bob.write(fid, b"pwned", 10),
            "flush": bob.one(r.FLUSH, r.flush_body(fid)).status,
        }
        for name, code in WRITING_FSCTLS.items():
            attempts[f"fsctl {name}"] = bob.ioctl(fid, code, b"\0" * 32)
        # Every other file info class, with a rename-shaped payload (RenameEx is 65,
        # LinkEx 72, DispositionEx 64, ShortName 40, ValidDataLength 39...). Position
        # and mode are the open's own state, not the disk's.
        payload = r.rename_info("..\\outside\\x.txt", True) + b"\0" * 32
        for klass in range(1, 80):
            if klass not in (14, 16):
                attempts[f"class {klass}"] = bob.set_info(fid, klass, payload)
        allowed = {k: hex(v) for k, v in attempts.items() if not refused(v)}
        assert not allowed, allowed
        assert bob.close_file(fid) == OK
    finally:
        bob.close()
    assert_unchanged(world.root, before)


def _everyone_full_sd() -> bytes:
    """A self-relative security descriptor: DACL granting Everyone full control."""
    sid = bytes([1, 1, 0, 0, 0, 0, 0, 1]) + struct.pack("<I", 0)
    ace = struct.pack("<BBHI", 0, 0, 8 + len(sid), 0x1F01FF) + sid
    acl = struct.pack("<BBHHH", 2, 0, 8 + len(ace), 1, 0) + ace
    return struct.pack("<BBHIIII", 1, 0, 0x8004, 0, 0, 0, 20) + acl


# (name, access, disposition, options, attributes)
_READ_GRANT_CREATES = [
    (name, access, disp, opts)
    for name in ("data.txt", "brand-new.txt")
    for access, disp, opts in [
        (r.READ_ACCESS, r.SUPERSEDE, 0),
        (r.READ_ACCESS, r.CREATE_NEW, 0),
        (r.READ_ACCESS, r.OVERWRITE, 0),
        (r.READ_ACCESS, r.OVERWRITE_IF, 0),
        (r.READ_ACCESS | r.DELETE, r.OPEN, r.DELETE_ON_CLOSE),
        (r.READ_ACCESS | r.DELETE, r.OPEN_IF, r.DELETE_ON_CLOSE),
        (r.GENERIC_ALL, r.OPEN, 0),
        (r.GENERIC_WRITE, r.OPEN, 0),
        (r.GENERIC_ALL | r.MAXIMUM_ALLOWED, r.OPEN_IF, 0),
        (r.WRITE_DATA, r.OPEN_IF, 0),
        (r.APPEND_DATA, r.OPEN, 0),
        (r.WRITE_ATTRIBUTES, r.OPEN, 0),
        (r.WRITE_EA, r.OPEN, 0),
        (r.DELETE, r.OPEN, 0),
        (r.WRITE_DAC, r.OPEN, 0),
        (r.WRITE_OWNER, r.OPEN, 0),
        (r.ACCESS_SYSTEM_SECURITY, r.OPEN, 0),
    ]
] + [
    ("new-dir", r.READ_ACCESS, r.CREATE_NEW, r.DIRECTORY_FILE),
    ("new-dir", r.READ_ACCESS, r.OPEN_IF, r.DIRECTORY_FILE),
    ("brand-new.txt", r.READ_ACCESS, r.OPEN_IF, 0),
    ("brand-new.txt", r.MAXIMUM_ALLOWED, r.OPEN_IF, 0),
    ("sub", r.READ_ACCESS | r.DELETE, r.OPEN, r.DIRECTORY_FILE | r.DELETE_ON_CLOSE),
    ("", r.READ_ACCESS | r.DELETE, r.OPEN, r.DIRECTORY_FILE | r.DELETE_ON_CLOSE),
]


def test_read_grant_creates_that_would_write_are_refused(world: World) -> None:
    before = world.snap()
    bob = world.client("bob", PASSWORDS["bob"])
    try:
        allowed = []
        for name, access, disp, opts in _READ_GRANT_CREATES:
            status, fid = bob.create(name, access, disp, opts)
            if status == OK:
                allowed.append((name, hex(access), disp, hex(opts)))
                bob.close_file(fid)
        assert not allowed, allowed
    finally:
        bob.close()
    assert_unchanged(world.root, before)


def test_read_grant_maximum_allowed_and_open_if_grant_only_reading(world: World) -> None:
    before = world.snap()
    bob = world.client("bob", PASSWORDS["bob"])
    try:
        for access, disp in [
            (r.MAXIMUM_ALLOWED, r.OPEN),
            (r.MAXIMUM_ALLOWED, r.OPEN_IF),
            (r.READ_ACCESS, r.OPEN_IF),
        ]:
            status, fid = bob.create("data.txt", access, disp)
            assert status == OK, hex(status)
            assert bob.read(fid, 10).body[16:] == b"0123456789"
            assert bob.write(fid, b"pwned") == NtStatus.ACCESS_DENIED
            assert bob.set_info(fid, r.END_OF_FILE, struct.pack("<Q", 1)) == NtStatus.ACCESS_DENIED
            assert bob.set_info(fid, r.DISPOSITION, b"\x01") == NtStatus.ACCESS_DENIED
            assert bob.close_file(fid) == OK
    finally:
        bob.close()
    assert_unchanged(world.root, before)


def test_maximum_allowed_on_a_read_only_file_opens_it_for_reading(world: World) -> None:
    """A change grant and a file with the READONLY attribute: MAXIMUM_ALLOWED gets a
    read-only open (as on Windows), and writing through it is still refused."""
    before = world.snap()
    alice = world.client("alice", PASSWORDS["alice"])
    try:
        status, fid = alice.create("ro.txt", r.MAXIMUM_ALLOWED, r.OPEN)
        assert status == OK, hex(status)
        assert alice.read(fid, 9).body[16:] == b"read-only"
        assert alice.write(fid, b"pwned") == NtStatus.ACCESS_DENIED
        assert alice.close_file(fid) == OK
    finally:
        alice.close()
    assert_unchanged(world.root, before)


# --- FileIds, TreeIds and SessionIds that are not yours ---------------------------------


def test_file_id_of_another_tree_is_not_found(world: World) -> None:
    before = world.snap()
    alice = world.client("alice", PASSWORDS["alice"])
    try:
        docs_tid = alice.tid
        other_tid = alice.tree_connect("other").tree_id  # alice: read on "other"
        # A writable open of docs, presented on the read-only tree, and the reverse.
        status, docs_fid = alice.create(
            "data.txt", r.READ_ACCESS | r.WRITE_DATA | r.DELETE, tid=docs_tid
        )
        assert status == OK
        status, other_fid = alice.create("other.txt", r.READ_ACCESS, tid=other_tid)
        assert status == OK
        for fid, tid in ((docs_fid, other_tid), (other_fid, docs_tid)):
            assert alice.write(fid, b"pwned", tid=tid) == NtStatus.FILE_CLOSED
            assert alice.set_info(fid, r.DISPOSITION, b"\x01", tid=tid) == NtStatus.FILE_CLOSED
            assert (
                alice.set_info(fid, r.RENAME, r.rename_info("moved.txt"), tid=tid)
                == NtStatus.FILE_CLOSED
            )
            assert alice.close_file(fid, tid=tid) == NtStatus.FILE_CLOSED
        # The right volatile half with a forged persistent half names nothing.
        forged = docs_fid[:8] + b"\x09" * 8
        assert alice.write(forged, b"pwned", tid=docs_tid) == NtStatus.FILE_CLOSED
        # Share paths opened on IPC$ are pipe names, never files.
        ipc = alice.tree_connect("IPC$", tid=0).tree_id
        for name in ("..\\docs\\data.txt", "docs\\data.txt", "srvsvc\\..\\..\\docs\\data.txt"):
            status, _ = alice.create(name, r.READ_ACCESS | r.WRITE_DATA, r.OPEN_IF, tid=ipc)
            assert status == NtStatus.OBJECT_NAME_NOT_FOUND, name
        # A TreeId nobody connected.
        assert alice.create("data.txt", r.READ_ACCESS, tid=99)[0] == NtStatus.NETWORK_NAME_DELETED
    finally:
        alice.close()
    assert_unchanged(world.root, before)


def test_ids_of_another_session_and_connection_are_refused(world: World) -> None:
    before = world.snap()
    alice = world.client("alice", PASSWORDS["alice"])
    bob = world.client("bob", PASSWORDS["bob"])
    stranger = r.RawSmb(world.port, None)  # negotiated, never logged on
    try:
        status, fid = alice.create("data.txt", r.READ_ACCESS | r.WRITE_DATA | r.DELETE)
        assert status == OK
        # Alice's FileId on Bob's (read-only) tree of the same share.
        assert bob.write(fid, b"pwned") == NtStatus.FILE_CLOSED
        assert bob.set_info(fid, r.DISPOSITION, b"\x01") == NtStatus.FILE_CLOSED
        # Alice's SessionId (and TreeId) on Bob's connection and on a stranger's.
        for c in (bob, stranger):
            ids = {"sid": alice.sid, "tid": alice.tid}
            assert c.write(fid, b"pwned", **ids) == NtStatus.USER_SESSION_DELETED
            assert c.create("new.txt", r.READ_ACCESS, r.CREATE_NEW, **ids)[0] == (
                NtStatus.USER_SESSION_DELETED
            )
            assert c.tree_connect("docs", sid=alice.sid).status == NtStatus.USER_SESSION_DELETED
        # Binding alice's session to another connection (SESSION_SETUP with her id).
        setup = struct.pack("<HBBIIHHQ", 25, 0x01, 1, 0, 0, 88, 0, 0) + b"\0"
        answer = stranger.one(r.SESSION_SETUP, setup, sid=alice.sid)
        assert answer.status != OK
        # A TreeId alice has, on bob's session which never connected that number.
        assert bob.create("data.txt", r.READ_ACCESS, tid=alice.tid + 7)[0] == (
            NtStatus.NETWORK_NAME_DELETED
        )
        # Alice still owns her open and her session.
        assert alice.close_file(fid) == OK
    finally:
        for c in (alice, bob, stranger):
            c.close()
    assert_unchanged(world.root, before)


def test_file_id_after_tree_disconnect_and_logoff(world: World) -> None:
    before = world.snap()
    alice = world.client("alice", PASSWORDS["alice"])
    try:
        status, fid = alice.create("data.txt", r.READ_ACCESS | r.WRITE_DATA)
        assert status == OK
        old_tid = alice.tid
        assert alice.one(r.TREE_DISCONNECT, struct.pack("<HH", 4, 0)).status == OK
        assert alice.write(fid, b"pwned") == NtStatus.NETWORK_NAME_DELETED
        assert alice.tree_connect("docs").status == OK
        assert alice.tid != old_tid
        assert alice.write(fid, b"pwned") == NtStatus.FILE_CLOSED
        status, fid = alice.create("data.txt", r.READ_ACCESS | r.WRITE_DATA)
        assert status == OK
        old_sid, tid = alice.sid, alice.tid
        assert alice.one(r.LOGOFF, struct.pack("<HH", 4, 0)).status == OK
        assert alice.write(fid, b"pwned", sid=old_sid, tid=tid) == NtStatus.USER_SESSION_DELETED
    finally:
        alice.close()
    assert_unchanged(world.root, before)


def test_compound_previous_file_id_without_a_previous_create(world: World) -> None:
    before = world.snap()
    bob = world.client("bob", PASSWORDS["bob"])
    alice = world.client("alice", PASSWORDS["alice"])
    try:
        write = r.write_body(r.COMPOUND_FID, b"pwned", 0)
        dispose = r.set_info_body(r.COMPOUND_FID, r.INFO_FILE, r.DISPOSITION, b"\x01")
        # Alone, or unrelated: all-ones names no open.
        assert alice.one(r.WRITE, write).status == NtStatus.FILE_CLOSED
        # Related as the first of a chain: nothing to inherit.
        first = alice.call(
            (r.WRITE, write, r.RELATED), (r.CLOSE, r.close_body(r.COMPOUND_FID), r.RELATED)
        )
        assert [a.status for a in first] == [NtStatus.INVALID_PARAMETER] * 2
        # After a CREATE that failed: the chain gets the CREATE's error.
        bad = r.create_body(
            "missing.txt", r.READ_ACCESS | r.WRITE_DATA, r.OPEN, 0, r.SHARE_ALL, 0x80
        )
        failed = alice.call((r.CREATE, bad, 0), (r.WRITE, write, r.RELATED))
        assert failed[0].status == NtStatus.OBJECT_NAME_NOT_FOUND
        assert failed[1].status == NtStatus.OBJECT_NAME_NOT_FOUND
        # A CREATE that worked, then a related one that failed: the WRITE after them
        # must fail too, not land in the first file (MS-SMB2 3.3.5.2.7.2).
        good = r.create_body("data.txt", r.READ_ACCESS | r.WRITE_DATA, r.OPEN, 0, r.SHARE_ALL, 0x80)
        two = alice.call(
            (r.CREATE, good, 0), (r.CREATE, bad, r.RELATED), (r.WRITE, write, r.RELATED)
        )
        assert two[0].status == OK
        assert [a.status for a in two[1:]] == [NtStatus.OBJECT_NAME_NOT_FOUND] * 2
        alice.close_file(two[0].body[64:80])
        # A successful CREATE then an *unrelated* WRITE: all-ones is not inherited.
        unrelated = alice.call((r.CREATE, good, 0), (r.WRITE, write, 0))
        assert unrelated[0].status == OK and unrelated[1].status == NtStatus.FILE_CLOSED
        alice.close_file(unrelated[0].body[64:80])
        # On a read-only tree: the CREATE works, what it chains must still be refused.
        ro = r.create_body("data.txt", r.READ_ACCESS | r.DELETE, r.OPEN, 0, r.SHARE_ALL, 0x80)
        ro_read = r.create_body("data.txt", r.READ_ACCESS, r.OPEN, 0, r.SHARE_ALL, 0x80)
        assert bob.call((r.CREATE, ro, 0))[0].status == NtStatus.ACCESS_DENIED
        chain = bob.call(
            (r.CREATE, ro_read, 0),
            (r.WRITE, write, r.RELATED),
            (r.SET_INFO, dispose, r.RELATED),
            (r.CLOSE, r.close_body(r.COMPOUND_FID), r.RELATED),
        )
        assert [a.status for a in chain] == [
            OK, NtStatus.ACCESS_DENIED, NtStatus.ACCESS_DENIED, OK,
        ]  # fmt: skip
        # A related TREE_CONNECT switches the chain's tree: alice's docs open is not
        # found on her (read-only) "other" tree.
        other = r.tree_connect_body("other")
        switch = alice.call(
            (r.CREATE, good, 0), (r.TREE_CONNECT, other, r.RELATED), (r.WRITE, write, r.RELATED)
        )
        assert switch[0].status == OK and switch[1].status == OK
        assert switch[2].status == NtStatus.FILE_CLOSED
        alice.close_file(switch[0].body[64:80])
    finally:
        bob.close()
        alice.close()
    assert_unchanged(world.root, before)


# --- out of the share: rename targets, create names, directory patterns -----------------

_RENAME_TARGETS = [
    "..\\outside\\escaped.txt",
    "..\\escaped.txt",
    "\\..\\escaped.txt",
    "sub\\..\\..\\escaped.txt",
    "sub/../../escaped.txt",
    "/tmp/escaped.txt",
    "C:\\escaped.txt",
    "\\\\127.0.0.1\\other\\escaped.txt",
    "\\\\PEERTEST\\other\\escaped.txt",
    "\\??\\C:\\escaped.txt",
    "..\\other\\escaped.txt",
    "link-out\\escaped.txt",
    "link-out",
    "link-secret",
    "dangling-out",
    "escaped.txt:stream",
    "escaped.txt:stream:$DATA",
    "sub:$I30:$INDEX_ALLOCATION",
    "CON",
    "nul.txt",
    "escaped.txt.",
    "escaped.txt ",
    "sub\\\\escaped.txt",
    "*.txt",
    "escaped?.txt",
    "x" * 300,
    "",
    "\\",
    ".",
    "..",
]


@pytest.mark.parametrize("replace", [False, True])
def test_rename_targets_outside_or_invalid_are_refused(world: World, replace: bool) -> None:
    before = world.snap()
    alice = world.client("alice", PASSWORDS["alice"])
    try:
        status, fid = alice.create("data.txt", r.READ_ACCESS | r.DELETE)
        assert status == OK
        status, dfid = alice.create("sub", r.READ_ACCESS | r.DELETE, options=r.DIRECTORY_FILE)
        assert status == OK
        allowed = [
            (target[:40], which)
            for target in _RENAME_TARGETS
            for which, handle in (("file", fid), ("folder", dfid))
            if alice.set_info(handle, r.RENAME, r.rename_info(target, replace)) == OK
        ]
        assert not allowed, allowed
        # RootDirectory must be 0 for SMB2 (MS-SMB2 2.2.39): a handle-relative rename.
        rel = r.rename_info("escaped.txt", replace, root=int.from_bytes(dfid[:8], "little"))
        assert alice.set_info(fid, r.RENAME, rel) != OK
        # A hard link is never made over SMB (it could tie the share to a file elsewhere),
        # nor does the Ex form of rename or link (classes 65, 72) take another path.
        for target in ("linked.txt", "..\\outside\\linked.txt"):
            for klass in (r.LINK, 65, 72):
                info = r.rename_info(target, replace)
                assert alice.set_info(fid, klass, info) != OK, (klass, target)
        # A folder into itself, however spelled.
        for target in ("sub\\inner", "SUB\\inner", "sub\\inner.txt\\x", "Sub\\new"):
            assert alice.set_info(dfid, r.RENAME, r.rename_info(target, replace)) != OK
        for handle in (fid, dfid):
            assert alice.close_file(handle) == OK
    finally:
        alice.close()
    assert_unchanged(world.root, before)


def test_the_share_folder_itself_cannot_be_renamed_or_deleted(world: World) -> None:
    before = world.snap()
    carol = world.client("carol", PASSWORDS["carol"])  # full grant
    try:
        status, root = carol.create("", r.READ_ACCESS | r.DELETE, options=r.DIRECTORY_FILE)
        assert status == OK
        for target in ("renamed-root", "..\\renamed-root", "sub\\root"):
            assert carol.set_info(root, r.RENAME, r.rename_info(target, True)) != OK
        assert carol.set_info(root, r.DISPOSITION, b"\x01") != OK
        assert carol.close_file(root) == OK
        opts = r.DIRECTORY_FILE | r.DELETE_ON_CLOSE
        assert carol.create("", r.READ_ACCESS | r.DELETE, r.OPEN, opts)[0] != OK
        # The root opened as a file, or overwritten: refused.
        assert carol.create("", r.READ_ACCESS, r.OPEN, r.NON_DIRECTORY_FILE)[0] != OK
        assert carol.create("", r.READ_ACCESS | r.WRITE_DATA, r.OVERWRITE_IF)[0] != OK
        assert carol.create("", r.READ_ACCESS, r.SUPERSEDE)[0] != OK
    finally:
        carol.close()
    assert_unchanged(world.root, before)


_CREATE_NAMES = [
    "..\\outside\\planted.txt",
    "..\\planted.txt",
    "sub\\..\\..\\planted.txt",
    "sub/../../planted.txt",
    "\\planted.txt",
    "/planted.txt",
    "/tmp/planted.txt",
    "C:\\planted.txt",
    "C:planted.txt",
    "\\\\127.0.0.1\\other\\planted.txt",
    "\\??\\C:\\planted.txt",
    "link-out\\planted.txt",
    "link-out\\secret.txt",
    "link-secret",
    "dangling-out",
    "link-out\\..\\docs\\planted.txt",
    "data.txt:ads",
    "data.txt:ads:$DATA",
    "data.txt:$I30",
    "sub:$I30:$INDEX_ALLOCATION",
    "sub::$INDEX_ALLOCATION",
    "planted.txt.",
    "planted.txt ",
    "sub\\\\planted.txt",
    "*",
    "planted?.txt",
    "planted<.txt",
    'planted".txt',
    "planted|.txt",
    "planted\x01.txt",
    "planted\x00.txt",
    "CON",
    "con",
    "lpt1.txt",
    "COM1 .txt",
    "CONIN$",
    "sub\\aux",
    "x" * 256,
    "sub\\" + "y" * 300,
    "planted\ud800.txt",
    ".",
    "..",
    "...",
    "sub\\.",
]


def test_create_names_that_leave_the_share_or_are_not_ntfs_names(world: World) -> None:
    before = world.snap()
    alice = world.client("alice", PASSWORDS["alice"])
    try:
        allowed = []
        for name in _CREATE_NAMES:
            for disp, opts in ((r.OPEN_IF, 0), (r.CREATE_NEW, r.DIRECTORY_FILE), (r.OPEN, 0)):
                status, fid = alice.create(name, r.READ_ACCESS | r.WRITE_DATA, disp, opts)
                if status == OK:
                    allowed.append((name[:40], disp))
                    alice.close_file(fid)
        assert not allowed, allowed
        # Reading through a link that leaves the share is refused the same way.
        status, _ = alice.create("link-secret", r.READ_ACCESS)
        assert status == NtStatus.ACCESS_DENIED
        status, _ = alice.create("link-out", r.READ_ACCESS, options=r.DIRECTORY_FILE)
        assert status == NtStatus.ACCESS_DENIED
    finally:
        alice.close()
    assert_unchanged(world.root, before)


def test_names_that_are_the_same_file_stay_inside(world: World) -> None:
    """Case, NFC/NFD and the default-stream suffix name the same file; device names
    and look-alikes never become something else."""
    (world.docs / "Caf\u00e9.txt").write_text("cafe")
    before = world.snap()
    bob = world.client("bob", PASSWORDS["bob"])
    try:
        for name in ("CAF\u00c9.TXT", "cafe\u0301.txt", "Caf\u00e9.txt::$DATA", "caf\u00e9.TXT"):
            status, fid = bob.create(name, r.READ_ACCESS)
            assert status == OK, name
            assert bob.read(fid, 10).body[16:] == b"cafe"
            assert bob.write(fid, b"pwned") == NtStatus.ACCESS_DENIED
            bob.close_file(fid)
        for name in ("DATA.TXT", "Data.Txt", "data.txt::$DATA"):
            status, fid = bob.create(name, r.READ_ACCESS | r.DELETE, r.OPEN, r.DELETE_ON_CLOSE)
            assert status == NtStatus.ACCESS_DENIED, name
            status, fid = bob.create(name, r.READ_ACCESS, r.OVERWRITE_IF)
            assert status == NtStatus.ACCESS_DENIED, name
    finally:
        bob.close()
    assert_unchanged(world.root, before)


_PATTERNS = [
    "..",
    "..\\*",
    "..\\outside\\*",
    "..\\outside\\secret.txt",
    "\\*",
    "/*",
    "/etc/*",
    "C:\\*",
    "link-out\\*",
    "link-out\\secret.txt",
    "sub\\..\\..\\*",
    "link-out",
    "link-secret",
    "secret.txt",
    "*",
    "<",
    "*\\*",
]


def test_directory_patterns_show_nothing_outside(world: World) -> None:
    before = world.snap()
    bob = world.client("bob", PASSWORDS["bob"])
    inside = {".", "..", "data.txt", "sub", "ro.txt"}
    try:
        for folder in ("", "sub"):
            status, dfid = bob.create(folder, r.READ_ACCESS, options=r.DIRECTORY_FILE)
            assert status == OK
            for pattern in _PATTERNS:
                status, names = bob.list_dir(dfid, pattern)
                assert set(names) <= inside | {"inner.txt"}, (folder, pattern, names)
                assert "secret.txt" not in names and "link-out" not in names
            bob.close_file(dfid)
    finally:
        bob.close()
    assert_unchanged(world.root, before)


# --- a local user changing the folder between (and during) requests --------------------


def test_folder_swapped_for_a_symlink_between_requests(world: World) -> None:
    alice = world.client("alice", PASSWORDS["alice"])
    try:
        status, dfid = alice.create("sub", r.READ_ACCESS | r.DELETE, options=r.DIRECTORY_FILE)
        assert status == OK
        status, fid = alice.create("sub\\inner.txt", r.READ_ACCESS | r.WRITE_DATA | r.DELETE)
        assert status == OK
        # A local user moves the folder away and plants a link to outside in its place.
        (world.docs / "sub").rename(world.docs / "sub.moved")
        (world.docs / "sub").symlink_to("../outside")
        (world.outside / "inner.txt").write_text("the outside twin of sub\\inner.txt")
        before = world.snap()
        for name, disp in (("sub\\planted.txt", r.OPEN_IF), ("sub\\secret.txt", r.OPEN)):
            assert alice.create(name, r.READ_ACCESS | r.WRITE_DATA, disp)[0] != OK
        assert alice.create("sub", r.READ_ACCESS, options=r.DIRECTORY_FILE)[0] != OK
        # The handles opened before the swap rename and delete by name: refused now.
        assert alice.set_info(dfid, r.RENAME, r.rename_info("renamed", True)) != OK
        assert alice.set_info(fid, r.RENAME, r.rename_info("sub\\moved.txt", True)) != OK
        status, names = alice.list_dir(dfid, "*")
        assert "secret.txt" not in names  # the open folder is still sub.moved
        alice.set_info(fid, r.DISPOSITION, b"\x01")
        alice.set_info(dfid, r.DISPOSITION, b"\x01")
        alice.close_file(fid)
        alice.close_file(dfid)
        # Whatever was marked for deletion, the link and what it points to stay.
        assert_unchanged(world.root, before)
    finally:
        alice.close()


def test_file_moved_outside_by_a_local_user_while_open(world: World) -> None:
    """The open follows the file (as on Windows and smbd); names are never re-used to
    reach it: rename and delete-on-close by the old name touch nothing outside."""
    alice = world.client("alice", PASSWORDS["alice"])
    try:
        status, fid = alice.create("data.txt", r.READ_ACCESS | r.DELETE)
        assert status == OK
        (world.docs / "data.txt").rename(world.outside / "data.txt")
        (world.docs / "data.txt").write_text("a new file with the old name")
        before = world.snap()
        assert alice.set_info(fid, r.RENAME, r.rename_info("renamed.txt")) != OK
        alice.set_info(fid, r.DISPOSITION, b"\x01")
        assert alice.close_file(fid) == OK
        assert_unchanged(world.root, before)
    finally:
        alice.close()


def test_hard_link_planted_by_a_local_user(world: World) -> None:
    """Known limit (pathsafety docstring): a hard link a local user put in the share is
    served like any file, since it *is* that file. What SMB can do with it stays
    bounded: deleting or renaming acts on the link's name only, a read grant still
    cannot write, and no new hard link can be made over the wire."""
    os.link(world.outside / "secret.txt", world.docs / "hardlink.txt")
    before = world.snap()
    bob = world.client("bob", PASSWORDS["bob"])
    alice = world.client("alice", PASSWORDS["alice"])
    try:
        status, fid = bob.create("hardlink.txt", r.READ_ACCESS)
        assert status == OK
        assert bob.write(fid, b"pwned") == NtStatus.ACCESS_DENIED
        bob.close_file(fid)
        status, fid = alice.create("hardlink.txt", r.READ_ACCESS | r.DELETE)
        assert status == OK
        assert alice.set_info(fid, r.LINK, r.rename_info("another-link.txt")) != OK
        assert alice.set_info(fid, r.RENAME, r.rename_info("..\\outside\\x.txt")) != OK
        assert_unchanged(world.root, before)
        assert alice.set_info(fid, r.DISPOSITION, b"\x01") == OK
        assert alice.close_file(fid) == OK
    finally:
        bob.close()
        alice.close()
    assert not (world.docs / "hardlink.txt").exists()
    assert (world.outside / "secret.txt").read_text() == "outside the share\n"
    # Only the link's name went (and with it the share folder's mtime).
    after = snapshot(world.root)
    gone = {"docs/hardlink.txt", "docs"}
    assert {k: v for k, v in after.items() if k not in gone} == {
        k: v for k, v in before.items() if k not in gone
    }


# --- sessions, tree connects, grants that change -------------------------------------------


def test_tree_connect_name_variants(world: World) -> None:
    before = world.snap()
    bob = world.client("bob", PASSWORDS["bob"], share=None)
    try:
        for name in ("docs ", " docs", "docs$", "docs.", "docs\\sub", "docs\\..", "..", "*"):
            answer = bob.tree_connect(name, tid=0)
            assert answer.status == NtStatus.BAD_NETWORK_NAME, name
        assert bob.tree_connect("\\\\127.0.0.1\\docs\\..\\other", tid=0).status == (
            NtStatus.ACCESS_DENIED  # that names "other", where bob has no grant
        )
        # Case only: the same share, with bob's own (read) grant.
        for name in ("DOCS", "Docs"):
            answer = bob.tree_connect(name)
            assert answer.status == OK
            assert bob.create("planted.txt", r.READ_ACCESS, r.CREATE_NEW)[0] == (
                NtStatus.ACCESS_DENIED
            )
            status, fid = bob.create("data.txt", r.READ_ACCESS)
            assert status == OK and bob.write(fid, b"pwned") == NtStatus.ACCESS_DENIED
    finally:
        bob.close()
    assert_unchanged(world.root, before)


def test_user_name_spellings_get_the_accounts_own_grant(world: World) -> None:
    """bob=read must hold however bob spells his name at logon (the everyone default
    of "team" is change)."""
    world.table.add(Share("team", world.other, "", {"everyone": Access.CHANGE, "bob": Access.READ}))
    before = world.snap()
    for user, domain in (("BOB", ""), ("Bob", "OFFICE"), ("bob", "ANOTHER-DOMAIN")):
        c = r.RawSmb(world.port, user, PASSWORDS["bob"], domain)
        try:
            assert c.tree_connect("team").status == OK
            assert c.create("planted.txt", r.READ_ACCESS, r.OPEN_IF)[0] == NtStatus.ACCESS_DENIED
            status, fid = c.create("other.txt", r.MAXIMUM_ALLOWED)
            assert status == OK and c.write(fid, b"pwned") == NtStatus.ACCESS_DENIED
        finally:
            c.close()
    for user in (" bob", "bob ", "bob\u200b", "everyone", "guest", "anonymous"):
        with pytest.raises(SessionError):
            r.RawSmb(world.port, user, PASSWORDS["bob"])
    assert_unchanged(world.root, before)


@pytest.mark.parametrize("dialect", [SMB2_DIALECT_21, SMB2_DIALECT_30])
def test_reauthenticating_as_another_user_does_not_keep_the_first_users_grant(
    world: World, dialect: str
) -> None:
    """Over 2.1 and 3.0 (where a re-authentication keeps the session's SMB 3 keys)."""
    before = world.snap()
    alice = world.client("alice", PASSWORDS["alice"], dialect=dialect)  # change on docs
    try:
        status, fid = alice.create("data.txt", r.READ_ACCESS | r.WRITE_DATA | r.DELETE)
        assert status == OK
        alice.relogon("bob", PASSWORDS["bob"])  # same SessionId, now bob (read on docs)
        assert alice.write(fid, b"pwned") == NtStatus.ACCESS_DENIED
        assert alice.set_info(fid, r.END_OF_FILE, struct.pack("<Q", 0)) == NtStatus.ACCESS_DENIED
        assert alice.set_info(fid, r.RENAME, r.rename_info("moved.txt")) == NtStatus.ACCESS_DENIED
        assert alice.set_info(fid, r.DISPOSITION, b"\x01") == NtStatus.ACCESS_DENIED
        status, _ = alice.create("planted.txt", r.READ_ACCESS | r.WRITE_DATA, r.CREATE_NEW)
        assert status == NtStatus.ACCESS_DENIED
        status, _ = alice.create("data.txt", r.READ_ACCESS | r.WRITE_DATA)
        assert status == NtStatus.ACCESS_DENIED
        alice.close_file(fid)
    finally:
        alice.close()
    assert_unchanged(world.root, before)


def test_grant_lowered_while_a_file_is_open(world: World) -> None:
    before = world.snap()
    alice = world.client("alice", PASSWORDS["alice"])
    try:
        status, fid = alice.create("data.txt", r.READ_ACCESS | r.WRITE_DATA | r.DELETE)
        assert status == OK
        status, doomed = alice.create(
            "ro-doomed.txt", r.READ_ACCESS | r.DELETE, r.CREATE_NEW, r.DELETE_ON_CLOSE
        )
        assert status == OK
        status, marked = alice.create("sub\\inner.txt", r.READ_ACCESS | r.DELETE)
        assert status == OK
        assert alice.set_info(marked, r.DISPOSITION, b"\x01") == OK
        before = world.snap()  # with the new, delete-on-close file in it
        share = world.table.get("docs")
        assert share is not None
        world.table.add(share.with_grants({"alice": Access.READ}))
        assert alice.write(fid, b"pwned") == NtStatus.ACCESS_DENIED
        assert alice.set_info(fid, r.END_OF_FILE, struct.pack("<Q", 0)) == NtStatus.ACCESS_DENIED
        assert alice.set_info(fid, r.RENAME, r.rename_info("moved.txt")) == NtStatus.ACCESS_DENIED
        assert alice.set_info(fid, r.DISPOSITION, b"\x01") == NtStatus.ACCESS_DENIED
        assert alice.set_info(fid, r.BASIC, r.basic_info((1, 1, 1, 1))) == NtStatus.ACCESS_DENIED
        # Delete-on-close asked for while alice could delete: a read grant no longer can.
        assert alice.close_file(doomed) == OK
        assert alice.close_file(marked) == OK
        assert alice.close_file(fid) == OK
        assert_unchanged(world.root, before)
        # Lowered to none: every request on the tree is refused, and closing the
        # connection (which closes its opens) deletes nothing either.
        status, doomed = _reopen_doomed(world, alice)
        world.table.add(share.with_grants({"alice": Access.NONE}))
        assert alice.write(doomed, b"pwned") == NtStatus.ACCESS_DENIED
        assert alice.create("data.txt", r.READ_ACCESS)[0] == NtStatus.ACCESS_DENIED
    finally:
        alice.close()
    _wait_for_close(world)
    assert_unchanged(world.root, before)


def _reopen_doomed(world: World, c: r.RawSmb) -> tuple[int, bytes]:
    """Back to change, reopen ro-doomed.txt delete-on-close (the caller lowers again)."""
    share = world.table.get("docs")
    assert share is not None
    world.table.add(share.with_grants({"alice": Access.CHANGE}))
    status, fid = c.create("ro-doomed.txt", r.READ_ACCESS | r.DELETE, r.OPEN, r.DELETE_ON_CLOSE)
    assert status == OK
    return status, fid


def _wait_for_close(world: World, timeout: float = 5.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while world.srv.server.connection_count() and time.monotonic() < deadline:
        time.sleep(0.02)


# --- anonymous ------------------------------------------------------------------------------


def test_anonymous_gets_nothing_when_no_share_grants_anonymous(world: World) -> None:
    # `everyone` is every account that logs on; it opens nothing to a logon without one.
    world.table.add(Share("team", world.other, "", {"everyone": Access.CHANGE}))
    before = world.snap()
    with pytest.raises(SessionError) as refused_logon:
        r.RawSmb(world.port, "", "")
    assert refused_logon.value.getErrorCode() == NtStatus.ACCESS_DENIED
    # Nor with a user name but no password, nor a known name with an empty one.
    for user in ("alice", "nobody"):
        with pytest.raises(SessionError):
            r.RawSmb(world.port, user, "")
    # A connection that never logged on reaches no tree, not even IPC$.
    stranger = r.RawSmb(world.port, None)
    try:
        for share in ("IPC$", "docs"):
            assert stranger.tree_connect(share, sid=0).status == NtStatus.USER_SESSION_DELETED
    finally:
        stranger.close()
    assert_unchanged(world.root, before)


def test_anonymous_reaches_only_what_anonymous_may(world: World) -> None:
    pub = world.root / "pub"
    pub.mkdir()
    (pub / "notice.txt").write_text("for everyone")
    world.table.add(Share("pub", pub, "", {"anonymous": Access.READ}))
    # Shares open to every account that logs on stay closed to anonymous.
    world.table.add(Share("other", world.other, "", {"everyone": Access.CHANGE}))
    before = world.snap()
    anon = r.RawSmb(world.port, "", "")
    try:
        for share in ("docs", "other", "DOCS"):
            assert anon.tree_connect(share, tid=0).status == NtStatus.ACCESS_DENIED, share
        assert anon.tree_connect("pub").status == OK
        status, fid = anon.create("notice.txt", r.MAXIMUM_ALLOWED)
        assert status == OK
        assert anon.write(fid, b"pwned") == NtStatus.ACCESS_DENIED
        assert anon.set_info(fid, r.DISPOSITION, b"\x01") == NtStatus.ACCESS_DENIED
        assert anon.set_info(fid, r.RENAME, r.rename_info("moved.txt")) == NtStatus.ACCESS_DENIED
        for disp in (r.CREATE_NEW, r.OPEN_IF, r.OVERWRITE_IF, r.SUPERSEDE):
            assert anon.create("planted.txt", r.READ_ACCESS, disp)[0] == NtStatus.ACCESS_DENIED
        assert anon.create("..\\docs\\data.txt", r.READ_ACCESS)[0] != OK
        # The share list (srvsvc over IPC$) shows what anonymous may use, and only that.
        names = {s["shi1_netname"][:-1] for s in anon.conn.listShares()}
        assert names == {"pub", "IPC$"}, names
    finally:
        anon.close()
    assert_unchanged(world.root, before)
