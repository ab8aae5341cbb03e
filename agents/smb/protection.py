"""Signing and encryption state of a connection's sessions: keys at logon, opening
encrypted frames, and who must encrypt.

The connection core asks here; the codecs (smb2_keys, smb2_signing,
smb2_transform) do the arithmetic. A frame that does not open (unknown session,
altered, truncated, wrong key) ends the connection, as MS-SMB2 3.3.5.2.1.1 and
smbd do: nothing in it is executed, and other connections are not affected.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from peerwork.proto import smb2_keys
from peerwork.proto.ntstatus import NtStatus
from peerwork.proto.smb2_header import MalformedPacket, Smb2Header
from peerwork.proto.smb2_negotiate import is_smb3
from peerwork.proto.smb2_signing import Signer
from peerwork.proto.smb2_transform import Opener, Sealer, TransformHeader

from . import api
from .session import Session

if TYPE_CHECKING:
    from .connection import Connection

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a request on a session may be served, and what signs its reply."""

    refusal: int | None  # the NTSTATUS to answer instead (None: serve it)
    signer: Signer | None


def establish_keys(conn: Connection, session: Session, session_key: bytes) -> None:
    """Give a freshly logged-on session its signing (and, on 3.x with a cipher,
    encryption) keys. A re-authentication keeps the keys it has (as Windows and
    smbd do): the client keeps signing with them."""
    dialect = conn.dialect or 0
    if not is_smb3(dialect):
        session.signer = Signer(session_key[:16].ljust(16, b"\x00"))
        return
    if session.signer is not None:
        return
    keys = smb2_keys.derive(dialect, session_key, session.preauth, conn.cipher)
    session.preauth = b""
    algorithm = smb2_keys.signing_algorithm(dialect, conn.signing_algorithm)
    session.signer = Signer(keys.signing, algorithm)
    cipher = conn.cipher
    if cipher is not None:
        prefix = os.urandom(cipher.nonce_size - 8)
        session.sealer = Sealer(cipher, keys.encryption, session.session_id, prefix)
        session.opener = Opener(cipher, keys.decryption, session.session_id)


# Logged-off sessions whose keys a connection keeps (see remember_ended).
ENDED_KEPT = 8


def remember_ended(conn: Connection, session: Session) -> None:
    """Keep a logged-off session's keys a little: a client may still seal a request
    for it (smbtorture's connect does), which then opens and is answered
    USER_SESSION_DELETED like a clear one, instead of ending the connection. The
    session is in ``conn.ended`` only, so nothing it asks for is served."""
    if session.opener is None:
        return
    conn.ended[session.session_id] = session
    while len(conn.ended) > ENDED_KEPT:
        del conn.ended[next(iter(conn.ended))]


def can_encrypt(session: Session) -> bool:
    return session.sealer is not None


def open_frame(conn: Connection, data: bytes) -> tuple[bytearray, Session]:
    """Decrypt a frame that starts with a transform header; the plaintext and the
    session it was sealed for. Raises MalformedPacket (the connection ends) when
    it does not open."""
    tf = TransformHeader.parse(data)
    if not is_smb3(conn.dialect):
        raise MalformedPacket("encrypted message on a connection without SMB 3")
    session = conn.sessions.get(tf.session_id) or conn.ended.get(tf.session_id)
    if session is None or session.opener is None:
        raise MalformedPacket(f"encrypted message for unknown session 0x{tf.session_id:x}")
    return session.opener.open(data), session


def check_request(
    conn: Connection,
    session: Session,
    hdr: Smb2Header,
    msg: memoryview,
    encrypted: Session | None,
) -> Verdict:
    """Signature and encryption rules for a request on a logged-on ``session``
    (``encrypted``: the session its frame was sealed for, None if it came clear)."""
    if encrypted is not None:
        # Sealed for one session, a message may not act for another (the AEAD
        # authenticated the transform's SessionId, not the inner header's).
        if encrypted is not session:
            return Verdict(NtStatus.ACCESS_DENIED, None)
        return Verdict(None, None)
    signer = None
    if session.can_sign:
        if hdr.is_signed:
            if session.signer is None or not session.signer.verify(msg):
                _bad_signature(conn, hdr.command)
                return Verdict(NtStatus.ACCESS_DENIED, None)
            signer = session.signer
        elif session.signing_required:
            return Verdict(NtStatus.ACCESS_DENIED, None)
    if session.encrypt_data:
        refuse_clear(conn, hdr.command)
        return Verdict(NtStatus.ACCESS_DENIED, signer)
    return Verdict(None, signer)


def check_reauth(
    conn: Connection, hdr: Smb2Header, msg: memoryview, sid: int, encrypted: Session | None
) -> int | None:
    """A SESSION_SETUP on a logged-on session (re-authentication) must be sealed if
    the session encrypts and signed right if signed; returns the NTSTATUS refusing
    it, or None."""
    session = conn.sessions.get(sid)
    if session is None or not session.authenticated or encrypted is not None:
        return None
    if session.encrypt_data:
        refuse_clear(conn, hdr.command)
        return NtStatus.ACCESS_DENIED
    if hdr.is_signed and (session.signer is None or not session.signer.verify(msg)):
        _bad_signature(conn, hdr.command)
        return NtStatus.ACCESS_DENIED
    return None


def _bad_signature(conn: Connection, cmd: int) -> None:
    _log_refusal(conn, "bad-signature", logging.WARNING, "bad signature", cmd)


def refuse_clear(conn: Connection, cmd: int) -> None:
    what = "unencrypted where encryption is required"
    _log_refusal(conn, "clear-request", logging.INFO, what, cmd)


def _log_refusal(conn: Connection, key: str, level: int, what: str, cmd: int) -> None:
    # Through the server's throttle: a client repeating it is logged once a minute.
    conn.server.throttle.log(
        key, level, "SMB client %s: %s on %s: refused", conn.peer, what, api.command_name(cmd)
    )
