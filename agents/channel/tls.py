"""TLS 1.3 contexts for the channel: our leaf for the peer key, the public CA as anchor.

See :mod:`peerwork.channel_cert` for why the chain check is only a formality
and the peer id check after the handshake is the real one.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from peerwork.channel_cert import channel_ca_pem, channel_certificate
from peerwork.identity import Identity


def channel_context(identity: Identity, *, server: bool) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    # Peers are named by key, not by host name: the peer id check replaces it.
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=channel_ca_pem())
    if server:
        # No session tickets: every connection proves the client's key afresh
        # (a resumed session would carry a certificate from an earlier handshake).
        ctx.num_tickets = 0
    _load_identity(ctx, identity)
    return ctx


def _load_identity(ctx: ssl.SSLContext, identity: Identity) -> None:
    # ssl loads keys only from files: a private 0700 folder that lives for this call.
    key_pem = identity.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with tempfile.TemporaryDirectory(prefix="peerwork-tls-") as folder:
        cert_path = Path(folder) / "channel.crt"
        key_path = Path(folder) / "channel.key"
        cert_path.write_bytes(channel_certificate(identity))
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key_pem)
        ctx.load_cert_chain(cert_path, key_path)
