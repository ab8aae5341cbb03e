"""smbclient against ``peerwork agent`` as a user starts it: every dialect (SMB2_02 …
SMB3_11) x every client protection (off, sign, encrypt), and encryption required per
share (``peerwork share --encrypt``) and for the whole service (``[files]
require_encryption``). Each combination lists, puts, gets, renames and deletes, and
the test looks at the real folder on disk.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomlkit

from tests.helpers.agent import AgentProcess, init_home, peerwork
from tests.helpers.smbserver_runner import smbclient

pytestmark = pytest.mark.skipif(shutil.which("smbclient") is None, reason="smbclient missing")

DIALECTS = ["SMB2_02", "SMB2_10", "SMB3_00", "SMB3_02", "SMB3_11"]
PROTECTIONS = ["off", "sign", "encrypt"]
SMB3 = {"SMB3_00", "SMB3_02", "SMB3_11"}
# smbclient's own refusal: SMB 2.x has no encryption, whatever the server.
NO_SMB2_ENCRYPTION = "doesn't support SMB3 encryption"


class Office:
    def __init__(self, agent: AgentProcess, folders: dict[str, Path], local: Path) -> None:
        self.agent, self.folders, self.local = agent, folders, local
        self.port = agent.smb_port()

    def run(self, share: str, dialect: str, protection: str, commands: str) -> tuple[int, str]:
        r = smbclient(
            self.port,
            f"//127.0.0.1/{share}",
            "-U",
            "alice%secret",
            "-m",
            dialect,
            f"--client-protection={protection}",
            "-c",
            commands,
        )
        return r.returncode, r.stdout + r.stderr


def _start_office(base: Path, *, require_encryption: bool = False) -> tuple[AgentProcess, Path]:
    home = base / "home"
    init_home(home, owner="alice")
    if require_encryption:
        path = home / "peerwork.toml"
        doc = tomlkit.parse(path.read_text())
        doc["files"]["require_encryption"] = True  # type: ignore[index]
        path.write_text(tomlkit.dumps(doc))
    peerwork(home, "user", "add", "alice", "--password-stdin", input="secret\n")
    return AgentProcess(home), home


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    base = tmp_path_factory.mktemp("smb3matrix")
    local = base / "local"
    local.mkdir()
    folders = {"plain": base / "plain", "sealed": base / "sealed"}
    for folder in folders.values():
        folder.mkdir()
    agent, home = _start_office(base)
    with agent:
        peerwork(home, "share", str(folders["plain"]), "--grant", "alice=full")
        peerwork(home, "share", str(folders["sealed"]), "--grant", "alice=full", "--encrypt")
        listed = peerwork(home, "shares").stdout
        assert "sealed" in listed and "(encrypted)" in listed, listed
        status = peerwork(home, "status").stdout
        assert "encryption required on: sealed" in status, status
        yield Office(agent, folders, local)


def _round_trip(office: Office, share: str, dialect: str, protection: str) -> None:
    """put, ls, get, rename, rm through smbclient; checked on disk at every step."""
    root = office.folders[share]
    stem = f"{dialect}-{protection}"
    data = (stem.encode() + b"\r\n") * 20_000  # several READ/WRITE requests' worth
    src = office.local / f"{stem}.bin"
    src.write_bytes(data)
    code, out = office.run(
        share,
        dialect,
        protection,
        f"lcd {office.local}; put {stem}.bin; ls; get {stem}.bin {stem}.back; "
        f"rename {stem}.bin {stem}.moved",
    )
    assert code == 0 and "NT_STATUS" not in out, out
    assert f"{stem}.bin" in out  # the listing showed it before the rename
    assert (office.local / f"{stem}.back").read_bytes() == data
    assert (root / f"{stem}.moved").read_bytes() == data
    assert not (root / f"{stem}.bin").exists()
    code, out = office.run(share, dialect, protection, f"rm {stem}.moved; ls")
    assert code == 0 and "NT_STATUS" not in out, out
    assert not (root / f"{stem}.moved").exists()
    # An error answer is signed (or sealed) like any other: SMB 3 clients drop the
    # connection on an unsigned one, so a missing file must read as missing.
    code, out = office.run(share, dialect, protection, f"get {stem}.gone {stem}.x; ls")
    assert "NT_STATUS_OBJECT_NAME_NOT_FOUND" in out and "blocks available" in out, out


@pytest.mark.parametrize("protection", PROTECTIONS)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_dialect_and_protection(office: Office, dialect: str, protection: str) -> None:
    if protection == "encrypt" and dialect not in SMB3:
        code, out = office.run("plain", dialect, protection, "ls")
        assert code != 0 and NO_SMB2_ENCRYPTION in out, out
        return
    _round_trip(office, "plain", dialect, protection)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_encrypted_share(office: Office, dialect: str) -> None:
    """SMB 3 clients encrypt once the tree connect says so, even unasked; SMB 2 clients
    cannot and are refused at the tree connect (ACCESS_DENIED, as smbd answers)."""
    if dialect in SMB3:
        _round_trip(office, "sealed", dialect, "off")
        return
    before = sorted(p.name for p in office.folders["sealed"].iterdir())
    (office.local / "x.txt").write_text("x")
    code, out = office.run("sealed", dialect, "sign", f"lcd {office.local}; put x.txt")
    assert code != 0 and "NT_STATUS_ACCESS_DENIED" in out, out
    assert sorted(p.name for p in office.folders["sealed"].iterdir()) == before


def test_require_encryption_refuses_smb2_logons(tmp_path: Path) -> None:
    agent, home = _start_office(tmp_path, require_encryption=True)
    folder = tmp_path / "docs"
    folder.mkdir()
    with agent:
        assert agent.service("files")["details"]["require_encryption"] is True
        status = peerwork(home, "status").stdout
        assert "encryption: required for every session" in status, status
        peerwork(home, "share", str(folder), "--grant", "alice=full")
        office = Office(agent, {"docs": folder}, tmp_path)
        for dialect in ("SMB2_02", "SMB2_10"):
            code, out = office.run("docs", dialect, "sign", "ls")
            assert code != 0 and "NT_STATUS_ACCESS_DENIED" in out, out
        _round_trip(office, "docs", "SMB3_11", "sign")
        _round_trip(office, "docs", "SMB3_00", "off")


def test_share_set_turns_encryption_on_and_off(office: Office, tmp_path: Path) -> None:
    """``peerwork share-set NAME --encrypt`` applies at once and is kept in peerwork.toml;
    ``--no-encrypt`` undoes it."""
    home = office.agent.home
    folder = tmp_path / "toggled"
    folder.mkdir()
    (folder / "t.txt").write_text("t")
    peerwork(home, "share", str(folder), "--grant", "alice=full")
    office.folders["toggled"] = folder
    assert office.run("toggled", "SMB2_10", "sign", "ls")[0] == 0
    out = peerwork(home, "share-set", "toggled", "--encrypt").stdout
    assert "(encrypted)" in out, out
    doc = tomlkit.parse((home / "peerwork.toml").read_text())
    entry = next(s for s in doc["share"] if s["name"] == "toggled")  # type: ignore[union-attr]
    assert entry["encrypt"] is True
    code, out = office.run("toggled", "SMB2_10", "sign", "ls")
    assert code != 0 and "NT_STATUS_ACCESS_DENIED" in out, out
    _round_trip(office, "toggled", "SMB3_11", "sign")
    peerwork(home, "share-set", "toggled", "--no-encrypt")
    assert office.run("toggled", "SMB2_10", "sign", "ls")[0] == 0


@pytest.mark.parametrize(
    ("protection", "option"),
    [
        ("encrypt", "client smb3 encryption algorithms=AES-128-GCM"),
        ("encrypt", "client smb3 encryption algorithms=AES-128-CCM"),
        ("encrypt", "client smb3 encryption algorithms=AES-256-GCM"),
        ("encrypt", "client smb3 encryption algorithms=AES-256-CCM"),
        ("sign", "client smb3 signing algorithms=AES-128-GMAC"),
        ("sign", "client smb3 signing algorithms=AES-128-CMAC"),
        ("sign", "client smb3 signing algorithms=HMAC-SHA256"),
    ],
    ids=lambda v: v.rsplit("=", 1)[-1],
)
def test_every_algorithm(office: Office, protection: str, option: str) -> None:
    """smbclient offering one cipher or signing algorithm only (so the server must pick
    it) over 3.1.1: put, get and rm of a file."""
    stem = option.rsplit("=", 1)[-1]
    data = stem * 1000
    (office.local / f"{stem}.txt").write_text(data)
    r = smbclient(
        office.port,
        "//127.0.0.1/plain",
        "-U",
        "alice%secret",
        "-m",
        "SMB3_11",
        f"--client-protection={protection}",
        f"--option={option}",
        "-c",
        f"lcd {office.local}; put {stem}.txt; get {stem}.txt {stem}.back; rm {stem}.txt",
    )
    assert r.returncode == 0 and "NT_STATUS" not in r.stdout, r.stdout + r.stderr
    assert (office.local / f"{stem}.back").read_text() == data
    assert not (office.folders["plain"] / f"{stem}.txt").exists()
