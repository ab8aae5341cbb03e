"""NEGOTIATE (SMB2 and the SMB1 upgrade), SESSION_SETUP, LOGOFF for the connection core."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from peerwork.proto.ntlm_server import AuthError, NtlmServer
from peerwork.proto.ntstatus import NtStatus
from peerwork.proto.smb2_header import (
    EMPTY_RESPONSE,
    FLAGS_SERVER_TO_REDIR,
    MalformedPacket,
    Smb2Header,
    parse_smb1_negotiate,
    simple_body,
)
from peerwork.proto.smb2_keys import PREAUTH_ZERO, preauth_update
from peerwork.proto.smb2_negctx import (
    HASH_SHA512,
    Cipher,
    ClientOffer,
    NegotiateContext,
    encryption_context,
    preauth_context,
    signing_context,
)
from peerwork.proto.smb2_negotiate import (
    CAP_ENCRYPTION,
    CAP_LARGE_MTU,
    DIALECT_202,
    DIALECT_300,
    DIALECT_302,
    DIALECT_311,
    DIALECT_WILDCARD,
    SIGNING_ENABLED,
    SIGNING_REQUIRED,
    NegotiateRequest,
    NegotiateResponse,
    choose_dialect,
    is_smb3,
)
from peerwork.proto.smb2_session import (
    SESSION_FLAG_BINDING,
    SESSION_FLAG_ENCRYPT_DATA,
    SESSION_FLAG_IS_NULL,
    SessionSetupRequest,
    SessionSetupResponse,
)
from peerwork.proto.spnego_server import SpnegoServer, neg_token_init_hint
from peerwork.shares import Access

from . import protection
from .outcome import DropConnection, Outcome
from .sender import Buffer
from .session import Session

if TYPE_CHECKING:
    from .connection import Connection

log = logging.getLogger(__name__)

EMPTY = EMPTY_RESPONSE
SMALL_MAX = 64 * 1024
LARGE_MAX = 8 * 1024 * 1024
_FILETIME_EPOCH = 116444736000000000


def filetime_now() -> int:
    return _FILETIME_EPOCH + time.time_ns() // 100


def _outcome(status: int, body: bytes = b"", session_id: int = 0) -> Outcome:
    return Outcome(status, body, session_id=session_id)


def _negotiate_body(
    conn: Connection, dialect: int, contexts: tuple[NegotiateContext, ...] = ()
) -> bytes:
    large = dialect not in (DIALECT_202, DIALECT_WILDCARD)
    size = LARGE_MAX if large else SMALL_MAX
    mode = SIGNING_ENABLED | (SIGNING_REQUIRED if conn.server.require_signing else 0)
    caps = CAP_LARGE_MTU if large else 0
    if dialect in (DIALECT_300, DIALECT_302) and conn.cipher is not None:
        caps |= CAP_ENCRYPTION
    if dialect != DIALECT_WILDCARD:
        conn.dialect = dialect
        conn.max_read = conn.max_write = conn.max_transact = size
        conn.server_security_mode = mode
        conn.server_capabilities = caps
    return NegotiateResponse(
        security_mode=mode,
        dialect=dialect,
        server_guid=conn.server.guid,
        capabilities=caps,
        max_transact=size,
        max_read=size,
        max_write=size,
        system_time=filetime_now(),
        server_start_time=0,
        security_buffer=neg_token_init_hint(),
        contexts=contexts,
    ).pack()


def negotiate(conn: Connection, msg: memoryview) -> Outcome:
    req = NegotiateRequest.parse(msg[64:])
    dialect = choose_dialect(req.dialects)
    if dialect is None:
        log.info("SMB client %s offers only dialects %s", conn.peer, [hex(d) for d in req.dialects])
        return _outcome(NtStatus.NOT_SUPPORTED)
    contexts: tuple[NegotiateContext, ...] = ()
    if dialect == DIALECT_311:
        offer = ClientOffer.from_contexts(req.contexts)
        if HASH_SHA512 not in offer.hash_algorithms:
            return _outcome(NtStatus.NO_PREAUTH_INTEGRITY_HASH_OVERLAP)
        conn.cipher = offer.cipher()
        conn.signing_algorithm = offer.signing_algorithm()
        contexts = (preauth_context(os.urandom(32)),)
        if conn.cipher is not None:
            contexts += (encryption_context(conn.cipher),)
        if conn.signing_algorithm is not None:
            contexts += (signing_context(conn.signing_algorithm),)
    elif dialect in (DIALECT_300, DIALECT_302) and req.capabilities & CAP_ENCRYPTION:
        conn.cipher = Cipher.AES_128_CCM
    conn.client_security_mode = req.security_mode
    conn.client_capabilities = req.capabilities
    conn.client_guid = req.client_guid
    out = _outcome(NtStatus.SUCCESS, _negotiate_body(conn, dialect, contexts))
    if dialect == DIALECT_311:
        # The preauth integrity hash covers this NEGOTIATE and its response as sent.
        conn.preauth = preauth_update(PREAUTH_ZERO, msg)
        out.on_sent = conn.hash_negotiate_response
    return out


async def smb1_negotiate(conn: Connection, data: bytes) -> None:
    """Answer an SMB1 NEGOTIATE that offers SMB2 with an SMB2 NEGOTIATE response."""
    dialects = parse_smb1_negotiate(data)
    if "SMB 2.???" in dialects:
        dialect = DIALECT_WILDCARD
    elif "SMB 2.002" in dialects:
        dialect = DIALECT_202
    else:
        raise DropConnection("SMB1-only client (this server speaks SMB2)")
    hdr = Smb2Header(command=0, message_id=0, flags=FLAGS_SERVER_TO_REDIR, credits=1)
    body = _negotiate_body(conn, dialect)
    conn.credits.grant(1)
    await conn._send([hdr.pack() + body])


def _anonymous_allowed(conn: Connection) -> bool:
    return any(share.anonymous > Access.NONE for share in conn.server.shares.all())


def _client_address(conn: Connection) -> str:
    # Failures are counted per host, not per source port (a new connection per guess
    # must not start over).
    host, sep, _port = conn.peer.rpartition(":")
    return host if sep else conn.peer


async def session_setup(conn: Connection, hdr: Smb2Header, msg: memoryview, sid: int) -> Outcome:
    req = SessionSetupRequest.parse(msg[64:])
    server = conn.server
    guard = server.logons
    if req.flags & SESSION_FLAG_BINDING and conn.dialect != DIALECT_202:
        # Binding a session to a second connection is multichannel, which this server
        # does not offer (no CAP_MULTI_CHANNEL): smbd answers the same.
        log.info("SMB client %s tried to bind a session (multichannel): refused", conn.peer)
        return _outcome(NtStatus.REQUEST_NOT_ACCEPTED, session_id=sid)
    session = conn.sessions.get(sid) if sid else None
    if sid and (session is None or session.failing):
        return _outcome(NtStatus.USER_SESSION_DELETED, session_id=sid)
    if session is None:
        refused, expired = guard.admit(conn.sessions.values(), conn.peer)
        if expired:
            log.debug("SMB client %s: %d unfinished logons expired", conn.peer, len(expired))
        for old in expired:
            _drop_session(conn, old)
        if refused is not None:
            return _outcome(refused)
        session = Session(server.new_session_id(), started=guard.clock())
        conn.sessions[session.session_id] = session
    hashing = conn.dialect == DIALECT_311 and session.signer is None
    if session.spnego is None:
        if hashing:
            # Every logon exchange hashes from the connection's NEGOTIATE on (an
            # anonymous session logging on as someone is a new exchange, as in smbd).
            session.preauth = conn.preauth
        ntlm = NtlmServer(
            server_challenge=os.urandom(8),
            now_filetime=filetime_now(),
            server_name=server.server_name,
            domain_name=server.workgroup,
        )
        session.spnego = SpnegoServer(ntlm, server.accounts.nt_hash_of)
    sid = session.session_id
    if hashing:
        session.preauth = preauth_update(session.preauth, msg)
    try:
        step = session.spnego.step(req.security_buffer)
    except AuthError as exc:
        # Unusable at once (a failed re-logon must not keep the old logon's rights
        # while its answer is held back), dropped once answered.
        session.spnego, session.failing, session.authenticated = None, True, False
        try:
            await guard.failed(exc.account, _client_address(conn), exc.message)
        finally:
            _drop_session(conn, session)
        return _outcome(NtStatus.LOGON_FAILURE, session_id=sid)
    except MalformedPacket as exc:
        log.info("SMB logon from %s: malformed token: %s", conn.peer, exc)
        _drop_session(conn, session)
        return _outcome(NtStatus.INVALID_PARAMETER, session_id=sid)
    if step.result is None:
        out = _outcome(NtStatus.MORE_PROCESSING_REQUIRED, _ss_body(0, step.token), sid)
        if hashing:
            out.on_sent = _preauth_hasher(session)
        return out
    result = step.result
    session.spnego = None
    if result.anonymous:
        if server.require_encryption:
            log.info("anonymous SMB logon from %s refused: encryption is required", conn.peer)
            _drop_session(conn, session)
            return _outcome(NtStatus.ACCESS_DENIED, session_id=sid)
        if not _anonymous_allowed(conn):
            log.info("anonymous SMB logon from %s refused: no share grants anonymous", conn.peer)
            _drop_session(conn, session)
            return _outcome(NtStatus.ACCESS_DENIED, session_id=sid)
        session.authenticated, session.anonymous, session.account = True, True, None
        log.info("anonymous SMB session from %s", conn.peer)
        return _outcome(NtStatus.SUCCESS, _ss_body(SESSION_FLAG_IS_NULL, step.token), sid)
    protection.establish_keys(conn, session, result.session_key)
    if server.require_encryption and not protection.can_encrypt(session):
        log.info(
            "SMB logon of %s from %s refused: encryption is required and the client "
            "negotiated none (dialect 0x%04x)",
            result.user,
            conn.peer,
            conn.dialect or 0,
        )
        session.spnego, session.failing, session.authenticated = None, True, False
        _drop_session(conn, session)
        return _outcome(NtStatus.ACCESS_DENIED, session_id=sid)
    guard.succeeded(result.user)
    session.authenticated = True
    session.anonymous = False
    session.account = result.user.lower()
    session.encrypt_data = server.require_encryption
    session.signing_required = bool(
        server.require_signing
        or req.security_mode & SIGNING_REQUIRED
        or conn.client_security_mode & SIGNING_REQUIRED
    )
    log.info("SMB logon of %s from %s", session.account, conn.peer)
    flags = SESSION_FLAG_ENCRYPT_DATA if session.encrypt_data else 0
    out = _outcome(NtStatus.SUCCESS, _ss_body(flags, step.token), sid)
    # SMB 3.x always signs the final response: it proves the server derived the same
    # keys from the same (3.1.1: unaltered) exchange.
    if session.signing_required or hdr.is_signed or is_smb3(conn.dialect):
        out.signer = session.signer
    return out


def _preauth_hasher(session: Session) -> Callable[[list[Buffer]], None]:
    def update(pieces: list[Buffer]) -> None:
        session.preauth = preauth_update(session.preauth, b"".join(pieces))

    return update


def refresh_grants(conn: Connection, session: Session) -> None:
    """Bring every tree's grant up to date before its opens are closed (a grant lowered
    since the last request decides whether their pending deletes happen)."""
    for tree in list(session.trees.values()):
        conn.server.refresh_tree(session, tree)


def _ss_body(flags: int, token: bytes) -> bytes:
    return SessionSetupResponse(flags, token).pack()


def _drop_session(conn: Connection, session: Session) -> None:
    refresh_grants(conn, session)
    session.close_all()
    conn.sessions.pop(session.session_id, None)


def logoff(conn: Connection, session: Session, body: memoryview) -> Outcome:
    simple_body(body, "LOGOFF")
    _drop_session(conn, session)
    protection.remember_ended(conn, session)
    return _outcome(NtStatus.SUCCESS, EMPTY, session.session_id)
