"""Certificates for the agent-to-agent channel, and the peer id a certificate names.

Python's ``ssl`` has no verify callback: with ``CERT_REQUIRED`` OpenSSL checks
a chain against trust anchors and nothing else, and without it a server does
not even ask for a client certificate. So every agent presents, for its own
Ed25519 peer key, a leaf certificate issued by one fixed *public* "peerwork
channel CA" whose private key is derived from a published constant. Anyone
can issue such a certificate, so the chain check proves nothing by itself and
peerwork never treats it as trust: it only lets OpenSSL run the handshake,
whose CertificateVerify proves that the other side holds the private key of
the leaf's public key. After the handshake each side maps that leaf key to a
peer id (:func:`peer_id_of_certificate`) and compares it with the peer id it
expected (client) or asks its policy (server). Possession of the peer key is
what counts, exactly as for the signed ``_peerwork._tcp`` record.

Both certificates are deterministic (Ed25519 signatures are, and the dates and
serials are fixed), so every agent builds byte-identical ones without files,
and their long validity makes PC clocks that disagree harmless.
"""

from __future__ import annotations

import datetime
import functools
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from peerwork.errors import PeerworkError
from peerwork.identity import Identity, peer_id_of

# Public on purpose: see the module docstring. Changing it splits the channel in two.
CA_SEED = b"peerwork channel CA v1: public, never a trust root"
_NOT_BEFORE = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
_NOT_AFTER = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.UTC)
_CA_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "peerwork channel CA (public)")])


class ChannelCertError(PeerworkError):
    """A certificate from the other end names no peerwork peer id."""

    code = "channel-certificate"


@functools.cache
def _ca_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(CA_SEED).digest())


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


@functools.cache
def channel_ca_pem() -> str:
    """The public CA certificate both sides load as their only trust anchor."""
    key = _ca_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_CA_NAME)
        .issuer_name(_CA_NAME)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, None)
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def channel_certificate(identity: Identity) -> bytes:
    """PEM of the leaf certificate for ``identity``'s peer key (CN = its peer id)."""
    ca = _ca_key()
    public = identity.key.public_key()
    serial = int.from_bytes(hashlib.sha256(identity.public_raw).digest()[:16], "big") >> 1
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identity.peer_id)]))
        .issuer_name(_CA_NAME)
        .public_key(public)
        .serial_number(serial or 1)
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key()), critical=False
        )
        .sign(ca, None)
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def peer_id_of_certificate(der: bytes | None) -> str:
    """The peer id named by the public key of a DER certificate.

    Only the key counts (the CN is informational): the TLS handshake proved
    the other side holds that key's private half.
    """
    if not der:
        raise ChannelCertError("the other end presented no certificate")
    try:
        cert = x509.load_der_x509_certificate(der)
        public = cert.public_key()
    except ValueError as exc:
        raise ChannelCertError(f"unreadable certificate: {exc}") from None
    if not isinstance(public, Ed25519PublicKey):
        raise ChannelCertError("the certificate's key is not an Ed25519 peer key")
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return peer_id_of(raw)
