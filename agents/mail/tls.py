"""The TLS context of STARTTLS (SMTP) and STLS (POP3): this PC's peer certificate."""

from __future__ import annotations

import ssl
from pathlib import Path

from peerwork.identity import CERT_FILE, KEY_FILE


def mail_tls_context(identity_folder: Path) -> ssl.SSLContext:
    """Server side only; clients see the self-signed peer certificate (Ed25519)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(identity_folder / CERT_FILE, identity_folder / KEY_FILE)
    return ctx
