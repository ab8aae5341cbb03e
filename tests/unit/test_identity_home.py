import stat
from pathlib import Path

import pytest

from peerwork.errors import ConfigError, HomeLocked
from peerwork.home import HomeLock, resolve_home
from peerwork.identity import Identity, peer_id_of, verify_signature


def test_identity_round_trip_and_modes(tmp_path: Path) -> None:
    ident = Identity.generate("pc1.office.peerwork")
    ident.save(tmp_path / "identity")
    assert stat.S_IMODE((tmp_path / "identity" / "peer.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "identity").stat().st_mode) == 0o700
    loaded = Identity.load(tmp_path / "identity")
    assert loaded.peer_id == ident.peer_id == peer_id_of(ident.public_raw)
    assert len(ident.peer_id) == 32
    sig = loaded.sign(b"hello")
    assert verify_signature(ident.public_raw, sig, b"hello")
    assert not verify_signature(ident.public_raw, sig, b"hellO")
    assert not verify_signature(b"short", sig, b"hello")


def test_cert_is_self_signed_ed25519(tmp_path: Path) -> None:
    from cryptography import x509

    ident = Identity.generate("pc1")
    cert = x509.load_pem_x509_certificate(ident.cert_pem)
    assert cert.subject == cert.issuer
    cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes)  # type: ignore[call-arg]


def test_missing_identity(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="peerwork init"):
        Identity.load(tmp_path)


def test_lock_is_exclusive(tmp_path: Path) -> None:
    first = HomeLock(tmp_path / "agent.lock")
    first.acquire()
    with pytest.raises(HomeLocked, match="already using"):
        HomeLock(tmp_path / "agent.lock").acquire()
    first.release()
    with HomeLock(tmp_path / "agent.lock"):
        pass


def test_resolve_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PEERWORK_HOME", str(tmp_path / "env"))
    assert resolve_home(None) == tmp_path / "env"
    assert resolve_home(tmp_path / "x") == tmp_path / "x"
