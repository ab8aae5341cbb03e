"""smbclient against peerwork's own SMB2 server: file commands and share-level permissions.

One server per protocol variant, one share "docs" with per-account grants:
alice=full, carol=change, bob=read, dave=none (everyone=none). Every test
looks at the real folder on disk, not only at what smbclient prints. Each test
runs three times: SMB 2.0.2 unsigned, SMB 3.1.1 signed, SMB 3.1.1 encrypted
(the permission and escape rules must not depend on the dialect).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from peerwork.shares import Access, Share
from tests.helpers.smbserver_runner import smb_server, smbclient

pytestmark = pytest.mark.skipif(shutil.which("smbclient") is None, reason="smbclient missing")

USERS = {"alice": Access.FULL, "carol": Access.CHANGE, "bob": Access.READ, "dave": Access.NONE}


# (max protocol, --client-protection) per variant.
VARIANTS = {"smb2": ("SMB2_02", "off"), "smb3-sign": ("SMB3_11", "sign"),
            "smb3-encrypt": ("SMB3_11", "encrypt")}  # fmt: skip


class Env:
    def __init__(
        self, root: Path, outside: Path, local: Path, port: int, variant: tuple[str, str]
    ) -> None:
        self.root, self.outside, self.local, self.port = root, outside, local, port
        self.variant = variant

    def run(self, user: str, commands: str) -> str:
        dialect, protection = self.variant
        r = smbclient(
            self.port,
            "//127.0.0.1/docs",
            "-U",
            f"{user}%secret",
            "-m",
            dialect,
            f"--client-protection={protection}",
            "-c",
            commands,
        )
        return r.stdout + r.stderr


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    base = tmp_path_factory.mktemp("smbfiles")
    root, outside, local = base / "docs", base / "outside", base / "local"
    for d in (root, outside, local):
        d.mkdir()
    (outside / "secret.txt").write_text("outside the share\n")
    users = dict.fromkeys(USERS, "secret")
    shares = [Share("docs", root, grants={**USERS, "everyone": Access.NONE})]
    with smb_server(base, users=users, shares=shares) as smb:
        yield Env(root, outside, local, smb.port, VARIANTS[request.param])


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


def test_ls_put_get_round_trip(env: Env) -> None:
    src = env.local / "hello.txt"
    src.write_bytes(b"hello, peerwork\r\n" * 100)
    out = env.run("alice", f"lcd {env.local}; put hello.txt; ls; get hello.txt back.txt")
    assert "hello.txt" in out and "NT_STATUS" not in out, out
    assert (env.root / "hello.txt").read_bytes() == src.read_bytes()
    assert (env.local / "back.txt").read_bytes() == src.read_bytes()


def test_mkdir_rename_rm_rmdir_with_change_grant(env: Env) -> None:
    (env.local / "a.txt").write_text("a")
    out = env.run(
        "carol", f"lcd {env.local}; mkdir sub; put a.txt sub\\a.txt; rename sub\\a.txt sub\\b.txt"
    )
    assert "NT_STATUS" not in out, out
    assert (env.root / "sub" / "b.txt").read_text() == "a"
    assert not (env.root / "sub" / "a.txt").exists()
    out = env.run("carol", "rm sub\\b.txt; rmdir sub")
    assert "NT_STATUS" not in out, out
    assert not (env.root / "sub").exists()


def test_allinfo_and_setmode(env: Env) -> None:
    f = env.root / "attr.txt"
    f.write_text("x")
    out = env.run("alice", "allinfo attr.txt")
    assert "attributes: A" in out and "stream: [::$DATA], 1 bytes" in out, out
    out = env.run("alice", "setmode attr.txt +r; allinfo attr.txt")
    assert "attributes: RA" in out, out
    assert f.stat().st_mode & 0o222 == 0
    env.run("alice", "setmode attr.txt -r")
    assert f.stat().st_mode & 0o200


def test_setmode_needs_full_grant(env: Env) -> None:
    f = env.root / "attr2.txt"
    f.write_text("x")
    before = f.stat().st_mode
    out = env.run("carol", "setmode attr2.txt +r")
    assert "NT_STATUS_ACCESS_DENIED" in out, out
    assert f.stat().st_mode == before


@pytest.mark.slow
def test_20_mb_put_get(env: Env) -> None:
    data = os.urandom(20 * 1024 * 1024)
    (env.local / "big.bin").write_bytes(data)
    out = env.run("alice", f"lcd {env.local}; put big.bin; get big.bin big-back.bin")
    assert "NT_STATUS" not in out, out
    assert (env.root / "big.bin").read_bytes() == data
    assert (env.local / "big-back.bin").read_bytes() == data


def test_listing_a_folder_of_1000_files(env: Env) -> None:
    many = env.root / "many"
    many.mkdir()
    for i in range(1000):
        (many / f"file{i:04}.txt").write_text(str(i))
    out = env.run("bob", "ls many\\*")
    names = {line.split()[0] for line in out.splitlines() if line.strip().startswith("file")}
    assert len(names) == 1000, out[-500:]
    out = env.run("bob", "ls many\\file0?9?.txt")
    assert sum(1 for line in out.splitlines() if "file0" in line) == 100, out


def test_read_grant_changes_nothing(env: Env) -> None:
    (env.root / "keep.txt").write_text("keep")
    (env.root / "keepdir").mkdir(exist_ok=True)
    (env.local / "new.txt").write_text("new")
    before = snapshot(env.root)
    attempts = {
        "put": f"lcd {env.local}; put new.txt",
        "overwrite": f"lcd {env.local}; put new.txt keep.txt",
        "rm": "rm keep.txt",
        "mkdir": "mkdir newdir",
        "rename": "rename keep.txt renamed.txt",
        "rmdir": "rmdir keepdir",
        "setmode": "setmode keep.txt +r",
    }
    for what, cmd in attempts.items():
        out = env.run("bob", cmd)
        assert "NT_STATUS_ACCESS_DENIED" in out, f"{what}: {out}"
    assert snapshot(env.root) == before
    out = env.run("bob", f"lcd {env.local}; get keep.txt keep-copy.txt")
    assert (env.local / "keep-copy.txt").read_text() == "keep", out


def test_none_grant_cannot_connect(env: Env) -> None:
    out = env.run("dave", "ls")
    assert "NT_STATUS_ACCESS_DENIED" in out or "NT_STATUS_BAD_NETWORK_NAME" in out, out
    assert "keep.txt" not in out


def test_escapes_are_refused(env: Env) -> None:
    (env.root / "file.txt").write_text("inside")
    (env.root / "link-out").symlink_to(env.outside)
    (env.root / "link-secret.txt").symlink_to(env.outside / "secret.txt")
    outside_before = snapshot(env.outside)
    gets = [
        "../../etc/passwd",
        "..\\..\\etc\\passwd",
        "..\\outside\\secret.txt",
        "link-out\\secret.txt",
        "link-secret.txt",
        "file.txt:stream",
        "CON",
        "aux.txt",
    ]
    for i, name in enumerate(gets):
        target = env.local / f"escape{i}"
        out = env.run("alice", f'get "{name}" {target}')
        assert "NT_STATUS_" in out, f"{name}: {out}"
        got = target.read_bytes() if target.exists() else b""
        assert b"outside the share" not in got and b"root:" not in got, name
    (env.local / "x.txt").write_text("x")
    for name in ("link-out\\planted.txt", "file.txt:stream", "NUL"):
        out = env.run("alice", f'lcd {env.local}; put x.txt "{name}"')
        assert "NT_STATUS_" in out, f"{name}: {out}"
    # smbclient folds a leading ".." into the share root itself: whatever it sends,
    # nothing may land beside the share.
    env.run("alice", f'lcd {env.local}; put x.txt "..\\escaped.txt"')
    assert snapshot(env.outside) == outside_before
    assert not (env.root.parent / "escaped.txt").exists()
    assert (env.outside / "secret.txt").read_text() == "outside the share\n"
