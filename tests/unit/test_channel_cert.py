"""Channel certificates and TLS contexts, checked with in-memory handshakes (no sockets)."""

from __future__ import annotations

import contextlib
import datetime
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from peerwork.agents.channel.tls import channel_context
from peerwork.channel_cert import (
    ChannelCertError,
    channel_ca_pem,
    channel_certificate,
    peer_id_of_certificate,
)
from peerwork.identity import Identity
from tests.helpers.channel_probe import self_signed_context

A = Identity.generate("a")
B = Identity.generate("b")


def handshake(
    client: ssl.SSLContext, server: ssl.SSLContext
) -> tuple[ssl.SSLObject, ssl.SSLObject]:
    """Run a TLS handshake between two contexts over memory BIOs."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    c = client.wrap_bio(c_in, c_out, server_side=False)
    s = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"c": False, "s": False}
    for _ in range(20):
        for name, obj in (("c", c), ("s", s)):
            if not done[name]:
                try:
                    obj.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            # TLS 1.3: the server checks the client's certificate after the client is done.
            with contextlib.suppress(ssl.SSLWantReadError):
                s.read(1)
            return c, s
    raise AssertionError("handshake did not finish")


def test_certificates_are_deterministic_and_name_the_peer_key() -> None:
    assert channel_certificate(A) == channel_certificate(A)
    assert channel_ca_pem() == channel_ca_pem()
    cert = x509.load_pem_x509_certificate(channel_certificate(A))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == A.peer_id
    der = cert.public_bytes(serialization.Encoding.DER)
    assert peer_id_of_certificate(der) == A.peer_id


def test_a_mutual_handshake_proves_both_peer_ids() -> None:
    c, s = handshake(channel_context(B, server=False), channel_context(A, server=True))
    assert c.version() == "TLSv1.3"
    assert peer_id_of_certificate(c.getpeercert(binary_form=True)) == A.peer_id
    assert peer_id_of_certificate(s.getpeercert(binary_form=True)) == B.peer_id


def test_contexts_refuse_anything_below_tls13() -> None:
    for server in (True, False):
        ctx = channel_context(A, server=server)
        assert ctx.minimum_version is ssl.TLSVersion.TLSv1_3
        assert ctx.verify_mode is ssl.CERT_REQUIRED
    assert channel_context(A, server=True).num_tickets == 0  # no resumption without a cert


def test_a_self_made_certificate_claiming_a_peer_id_fails_the_handshake() -> None:
    with pytest.raises(ssl.SSLError):
        handshake(self_signed_context(B.peer_id), channel_context(A, server=True))


@pytest.mark.parametrize("der", [None, b"", b"\x30\x03\x02\x01\x00", b"garbage"])
def test_unreadable_certificates_name_no_peer(der: bytes | None) -> None:
    with pytest.raises(ChannelCertError):
        peer_id_of_certificate(der)


def test_a_certificate_with_another_key_type_names_no_peer() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, A.peer_id)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(ChannelCertError, match="Ed25519"):
        peer_id_of_certificate(cert.public_bytes(serialization.Encoding.DER))
