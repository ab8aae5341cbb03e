"""TLS to another PC of the workgroup, trusting exactly that PC's peer key.

Every agent serves STARTTLS (mail) and IPPS (printers) with its self-signed
peer certificate, so no CA can vouch for it and the host name we dial names
nothing in it. A client pins instead: the peer id from the PC's signed
``_peerwork._tcp`` record (the mail home route and the printer list pass it
on), checked against the key the handshake proved the server holds — before
a password is sent.
"""

from __future__ import annotations

import ssl

from peerwork.channel_cert import ChannelCertError, peer_id_of_certificate
from peerwork.errors import PeerworkError


class PinMismatch(PeerworkError):
    """The server's certificate is not the one of the PC we meant to reach."""

    code = "tls-pin-mismatch"


def peer_key_context() -> ssl.SSLContext:
    """A client context that lets any certificate through the handshake: use it only
    with :func:`check_peer_key` before anything is sent."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # checked by key below: no CA signs peer certificates
    return ctx


def check_peer_key(sock: ssl.SSLSocket, peer_id: str, where: str) -> None:
    """Raise :class:`PinMismatch` unless the server's key is the one ``peer_id`` names."""
    try:
        actual = peer_id_of_certificate(sock.getpeercert(binary_form=True))
    except ChannelCertError as exc:
        raise PinMismatch(f"{where} is not the PC expected: {exc}") from None
    if actual != peer_id:
        raise PinMismatch(
            f"{where} presented the key of peer {actual}, not of {peer_id}: "
            "another machine may be answering at that address; nothing was sent"
        )
