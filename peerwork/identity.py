"""A peer's identity: an Ed25519 key pair, its peer id, and a self-signed TLS certificate.

The peer id is the base32 of the first 20 bytes of SHA-256 over the raw public
key (32 lowercase characters, no padding): short enough for a TXT record and
for people to compare by eye, long enough not to collide.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import NameOID

from peerwork.atomic import atomic_write_bytes
from peerwork.errors import ConfigError
from peerwork.proto.peer_record import PeerRecord

KEY_FILE = "peer.key"
CERT_FILE = "peer.crt"
CERT_DAYS = 3650


def peer_id_of(public_raw: bytes) -> str:
    digest = hashlib.sha256(public_raw).digest()[:20]
    return base64.b32encode(digest).decode("ascii").lower()


def verify_signature(public_raw: bytes, signature: bytes, data: bytes) -> bool:
    """True if ``signature`` is ``data`` signed by the Ed25519 key ``public_raw``."""
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


def record_problem(record: PeerRecord) -> str:
    """Why a received ``_peerwork._tcp`` record does not verify; empty when it does.

    Verified means: well-formed, ``id`` names ``pk``, and ``sig`` signs the
    record's signed bytes (every key, addresses, ports and sequence number
    included) with ``pk``.
    """
    if record.problem:
        return record.problem
    ann = record.announcement
    if peer_id_of(ann.public_key) != ann.peer_id:
        return "peer id does not match its public key"
    if record.signature is None or not verify_signature(
        ann.public_key, record.signature, record.signed
    ):
        return "signature does not verify"
    return ""


@dataclass(frozen=True, slots=True)
class Identity:
    key: Ed25519PrivateKey
    cert_pem: bytes

    @property
    def public_raw(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def peer_id(self) -> str:
        return peer_id_of(self.public_raw)

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data)

    @classmethod
    def generate(cls, common_name: str) -> Identity:
        key = Ed25519PrivateKey.generate()
        return cls(key, _self_signed(key, common_name))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder.chmod(0o700)
        pem = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        atomic_write_bytes(folder / KEY_FILE, pem, mode=0o600)
        atomic_write_bytes(folder / CERT_FILE, self.cert_pem, mode=0o644)

    @classmethod
    def load(cls, folder: Path) -> Identity:
        try:
            key = serialization.load_pem_private_key((folder / KEY_FILE).read_bytes(), None)
            cert = (folder / CERT_FILE).read_bytes()
        except FileNotFoundError as exc:
            raise ConfigError(
                f"peer identity missing ({exc.filename}); run 'peerwork init'"
            ) from None
        except ValueError as exc:
            raise ConfigError(f"peer key in {folder} is unreadable: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"peer key in {folder} is not an Ed25519 key")
        return cls(key, cert)


def _self_signed(key: Ed25519PrivateKey, common_name: str) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, None)
    )
    return cert.public_bytes(serialization.Encoding.PEM)
