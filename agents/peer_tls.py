"""The server TLS context of STARTTLS (SMTP), STLS (POP3) and IPPS: this PC's peer certificate."""

from __future__ import annotations

import ssl
from pathlib import Path

from peerwork.identity import CERT_FILE, KEY_FILE


def peer_tls_context(identity_folder: Path) -> ssl.SSLContext:
    """Server side only; clients see the self-signed peer certificate (Ed25519)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # No TLS 1.3 session tickets: CUPS' GnuTLS client (ipptool, cupsd's ipp backend)
    # takes a ticket arriving after its request as the end of the answer and hangs up.
    ctx.num_tickets = 0
    ctx.load_cert_chain(identity_folder / CERT_FILE, identity_folder / KEY_FILE)
    return ctx
