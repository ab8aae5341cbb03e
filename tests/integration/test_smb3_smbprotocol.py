"""smbprotocol (SMB 3.1.1) against peerwork's server: with ``require_encryption`` and
with signing only, write and read back 20 MB, list, stat, rename, delete; a request
whose AEAD tag or signature was altered on the wire (a relay flips one byte) is
refused, changes nothing on disk, and the server keeps serving.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from peerwork.shares import Access, Share
from tests.helpers import smbprotocol_client
from tests.helpers.smbserver_runner import SmbLab, smb_server
from tests.helpers.tamper_relay import Tamper, TamperRelay, flip_near_end

smbprotocol_exceptions = pytest.importorskip("smbprotocol.exceptions")
smbclient = smbprotocol_client.load()

TWENTY_MB = 20 * 1024 * 1024
TRANSFORM = b"\xfdSMB"
SMB2 = b"\xfeSMB"
FLAGS_SIGNED = 0x08


@pytest.fixture(params=["require_encryption", "signing"])
def lab(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[SmbLab, Path, str]]:
    root = tmp_path / "docs"
    root.mkdir()
    share = Share("docs", root, grants={"alice": Access.FULL})
    mode = str(request.param)
    with smb_server(
        tmp_path,
        users={"alice": "secret"},
        shares=[share],
        require_encryption=mode == "require_encryption",
        require_signing=True,
    ) as smb:
        yield smb, root, mode


def _session(port: int, cache: dict[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"port": port, "connection_cache": cache}
    smbclient.register_session(
        "127.0.0.1", username="alice", password="secret", require_signing=True, **kwargs
    )
    return kwargs


def _reset(cache: dict[str, Any]) -> None:
    smbclient.reset_connection_cache(connection_cache=cache)


def _check_wire(relay: TamperRelay, mode: str) -> None:
    """After the logon, every request was sealed (encryption) or signed (signing)."""
    # Frames 0-2: NEGOTIATE and the two SESSION_SETUP legs (unsigned by design).
    later = relay.frames[3:]
    assert later
    if mode == "require_encryption":
        assert all(f[:4] == TRANSFORM for f in later), [f[:4] for f in later]
    else:
        assert all(f[:4] == SMB2 for f in later)
        assert all(int.from_bytes(f[16:20], "little") & FLAGS_SIGNED for f in later)


def test_20mb_round_trip_list_stat_rename_delete(lab: tuple[SmbLab, Path, str]) -> None:
    smb, root, mode = lab
    data = os.urandom(TWENTY_MB)
    unc = r"\\127.0.0.1\docs"
    cache: dict[str, Any] = {}
    with TamperRelay(smb.port) as relay:
        kw = _session(relay.port, cache)
        try:
            conn = next(iter(cache.values()))
            assert conn.dialect == 0x0311
            with smbclient.open_file(rf"{unc}\big.bin", mode="wb", **kw) as f:
                f.write(data)
            assert (root / "big.bin").read_bytes() == data
            with smbclient.open_file(rf"{unc}\big.bin", mode="rb", **kw) as f:
                assert f.read() == data
            smbclient.mkdir(rf"{unc}\sub", **kw)
            assert sorted(smbclient.listdir(unc, **kw)) == ["big.bin", "sub"]
            assert smbclient.stat(rf"{unc}\big.bin", **kw).st_size == TWENTY_MB
            smbclient.rename(rf"{unc}\big.bin", rf"{unc}\sub\moved.bin", **kw)
            assert (root / "sub" / "moved.bin").stat().st_size == TWENTY_MB
            smbclient.remove(rf"{unc}\sub\moved.bin", **kw)
            smbclient.rmdir(rf"{unc}\sub", **kw)
            assert list(root.iterdir()) == []
        finally:
            _reset(cache)
        _check_wire(relay, mode)


def _wrong_session(frame: bytearray, previous: bytes) -> bytearray:
    # The SessionId: in the transform header (sealed) or the SMB2 header (signed).
    at = 44 if frame[:4] == TRANSFORM else 40
    frame[at] ^= 0x01
    return frame


def _truncated(frame: bytearray, previous: bytes) -> bytearray:
    del frame[-10:]
    return frame


def _replayed(frame: bytearray, previous: bytes) -> bytearray:
    # The client's previous request (its nonce or signature as it was) instead of this one.
    return bytearray(previous)


def _unsigned(frame: bytearray, previous: bytes) -> bytearray:
    if frame[:4] == SMB2:
        flags = int.from_bytes(frame[16:20], "little") & ~FLAGS_SIGNED
        frame[16:20] = flags.to_bytes(4, "little")
        frame[48:64] = bytes(16)
    else:  # a sealed request cannot be unsealed by the relay: alter its tag instead
        frame[4] ^= 0x01
    return frame


TAMPERS: dict[str, Tamper] = {
    "flipped-byte": flip_near_end,
    "wrong-session": _wrong_session,
    "truncated": _truncated,
    "replayed": _replayed,
    "unsigned-or-bad-tag": _unsigned,
}


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_altered_request_is_refused_and_changes_nothing(
    lab: tuple[SmbLab, Path, str], tamper: str
) -> None:
    smb, root, _mode = lab
    original = b"original contents\n" * 10_000
    (root / "doc.txt").write_bytes(original)
    unc = r"\\127.0.0.1\docs"
    cache: dict[str, Any] = {}
    with TamperRelay(smb.port) as relay:
        kw = _session(relay.port, cache)
        try:
            # Unbuffered: a buffered file would send the refused bytes again (unaltered)
            # when it is closed, which is the client's right but not what is tested.
            with smbclient.open_file(rf"{unc}\doc.txt", mode="r+b", buffering=0, **kw) as f:
                # The WRITE is the only frame this large: its last bytes are file data.
                relay.arm(min_size=60_000, how=TAMPERS[tamper])
                with pytest.raises((smbprotocol_exceptions.SMBException, OSError, ValueError)):
                    f.write(b"X" * 65536)
        except (smbprotocol_exceptions.SMBException, OSError, ValueError):
            pass  # closing what the server refused or dropped may fail too
        finally:
            _reset(cache)
        assert relay.tampered == 1
    assert (root / "doc.txt").read_bytes() == original
    # Others (and the same client, anew) keep being served.
    cache = {}
    kw = _session(smb.port, cache)
    try:
        with smbclient.open_file(rf"{unc}\doc.txt", mode="rb", **kw) as f:
            assert f.read() == original
    finally:
        _reset(cache)
