"""Secure dialect negotiation: smbclient over SMB 3.0/3.0.2 with signing sends
FSCTL_VALIDATE_NEGOTIATE_INFO after the tree connect. A relay that alters the
NEGOTIATE on its way (drops the best dialect to force an older one, or changes the
client's capabilities) is caught there: the connection ends, nothing is served, and
the server keeps serving everyone else. Binding a session (multichannel) is refused.
"""

from __future__ import annotations

import shutil
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from impacket.smb3structs import SMB2_DIALECT_30

from peerwork.shares import Access, Share
from tests.helpers.rawsmb import SESSION_SETUP, RawSmb
from tests.helpers.smbserver_runner import SmbLab, smb_server, smbclient
from tests.helpers.tamper_relay import TamperRelay

pytestmark = pytest.mark.skipif(shutil.which("smbclient") is None, reason="smbclient missing")

IOCTL = 0x0B
ECHO = 0x0D
FSCTL_VALIDATE_NEGOTIATE_INFO = 0x00140204
NEGOTIATE_BODY = 64  # the NEGOTIATE body follows the 64-byte header


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[SmbLab, Path]]:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.txt").write_text("hello")
    shares = [Share("docs", root, grants={"alice": Access.FULL})]
    with smb_server(tmp_path, users={"alice": "secret"}, shares=shares) as smb:
        yield smb, root


def _smbclient(port: int, dialect: str, tmp: Path) -> tuple[int, str]:
    r = smbclient(
        port,
        "//127.0.0.1/docs",
        "-U",
        "alice%secret",
        "-m",
        dialect,
        "--client-protection=sign",
        "-c",
        f"get a.txt {tmp / 'got.txt'}",
        timeout=30,
    )
    return r.returncode, r.stdout + r.stderr


def _dialects(frame: bytearray) -> tuple[int, int]:
    """(position, count) of the NEGOTIATE request's dialect list."""
    count = struct.unpack_from("<H", frame, NEGOTIATE_BODY + 2)[0]
    return NEGOTIATE_BODY + 36, count


def _drop_dialect(dialect: int) -> Callable[[int, bytearray], None]:
    """Replace ``dialect`` in the client's NEGOTIATE by 2.0.2 (a downgrade)."""

    def edit(index: int, frame: bytearray) -> None:
        if index != 0:
            return
        pos, count = _dialects(frame)
        for i in range(count):
            if struct.unpack_from("<H", frame, pos + 2 * i)[0] == dialect:
                struct.pack_into("<H", frame, pos + 2 * i, 0x0202)

    return edit


def _flip_capability(index: int, frame: bytearray) -> None:
    if index == 0:
        frame[NEGOTIATE_BODY + 8] ^= 0x01  # SMB2_GLOBAL_CAP_DFS


def _sent_validate_negotiate(relay: TamperRelay) -> bool:
    return any(
        struct.unpack_from("<H", f, 12)[0] == IOCTL for f in relay.frames if f[:4] == b"\xfeSMB"
    )


@pytest.mark.parametrize("dialect", ["SMB3_00", "SMB3_02"])
def test_unaltered_negotiate_validates(
    lab: tuple[SmbLab, Path], tmp_path: Path, dialect: str
) -> None:
    smb, _ = lab
    with TamperRelay(smb.port) as relay:
        code, out = _smbclient(relay.port, dialect, tmp_path)
        assert code == 0 and "NT_STATUS" not in out, out
        assert _sent_validate_negotiate(relay)
    assert (tmp_path / "got.txt").read_text() == "hello"


@pytest.mark.parametrize(
    ("dialect", "edit"),
    [
        ("SMB3_02", _drop_dialect(0x0302)),  # 3.0.2 offered, 3.0 forced
        ("SMB3_00", _flip_capability),
    ],
    ids=["downgrade-3.0.2-to-3.0", "capabilities-altered"],
)
def test_altered_negotiate_is_caught(
    lab: tuple[SmbLab, Path],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    dialect: str,
    edit: Callable[[int, bytearray], None],
) -> None:
    smb, root = lab
    with TamperRelay(smb.port, edit=edit) as relay:
        code, out = _smbclient(relay.port, dialect, tmp_path)
    assert code != 0, out
    assert not (tmp_path / "got.txt").exists()
    assert "VALIDATE_NEGOTIATE_INFO does not match" in caplog.text
    # Everyone else (and this client, not tampered with) is still served.
    code, out = _smbclient(smb.port, dialect, tmp_path)
    assert code == 0 and (tmp_path / "got.txt").read_text() == "hello", out
    assert sorted(p.name for p in root.iterdir()) == ["a.txt"]


def test_session_binding_is_refused(lab: tuple[SmbLab, Path]) -> None:
    """SESSION_SETUP with the BINDING flag on an SMB 3 connection: REQUEST_NOT_ACCEPTED
    (no multichannel, as smbd answers without it), and the connection keeps working."""
    smb, _ = lab
    raw = RawSmb(smb.port, "alice", "secret", dialect=SMB2_DIALECT_30)
    try:
        # Flags BINDING, SecurityMode signing enabled, an empty security buffer.
        bind = struct.pack("<HBBIIHHQ", 25, 0x01, 0x01, 0, 0, 0, 0, 0)
        answer = raw.one(SESSION_SETUP, bind)
        assert answer.status == 0xC00000D0  # REQUEST_NOT_ACCEPTED
        assert raw.one(ECHO, struct.pack("<HH", 4, 0)).status == 0
        assert raw.tree_connect("docs").status == 0
    finally:
        raw.close()
