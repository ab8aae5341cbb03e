"""NEGOTIATE (SMB2 and the SMB1 upgrade), SESSION_SETUP, LOGOFF for the connection core."""

from __future__ import annotations

import logging
import os
import time
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
from peerwork.proto.smb2_negotiate import (
    CAP_LARGE_MTU,
    DIALECT_202,
    DIALECT_210,
    DIALECT_WILDCARD,
    SIGNING_ENABLED,
    SIGNING_REQUIRED,
    NegotiateRequest,
    NegotiateResponse,
    choose_dialect,
)
from peerwork.proto.smb2_session import (
    SESSION_FLAG_IS_NULL,
    SessionSetupRequest,
    SessionSetupResponse,
)
from peerwork.proto.spnego_server import SpnegoServer, neg_token_init_hint
from peerwork.shares import Access

from .session import Session

if TYPE_CHECKING:
    from .connection import Connection, Outcome

log = logging.getLogger(__name__)

EMPTY = EMPTY_RESPONSE
SMALL_MAX = 64 * 1024
LARGE_MAX = 8 * 1024 * 1024
_FILETIME_EPOCH = 116444736000000000


def filetime_now() -> int:
    return _FILETIME_EPOCH + time.time_ns() // 100


def _outcome(status: int, body: bytes = b"", session_id: int = 0) -> Outcome:
    from .connection import Outcome

    return Outcome(status, body, session_id=session_id)


def _negotiate_body(conn: Connection, dialect: int) -> bytes:
    large = dialect == DIALECT_210
    size = LARGE_MAX if large else SMALL_MAX
    mode = SIGNING_ENABLED | (SIGNING_REQUIRED if conn.server.require_signing else 0)
    caps = CAP_LARGE_MTU if large else 0
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
    ).pack()


def negotiate(conn: Connection, body: memoryview) -> Outcome:
    req = NegotiateRequest.parse(body)
    dialect = choose_dialect(req.dialects)
    if dialect is None:
        log.info("SMB client %s offers only dialects %s", conn.peer, [hex(d) for d in req.dialects])
        return _outcome(NtStatus.NOT_SUPPORTED)
    conn.client_security_mode = req.security_mode
    conn.client_capabilities = req.capabilities
    conn.client_guid = req.client_guid
    return _outcome(NtStatus.SUCCESS, _negotiate_body(conn, dialect))


async def smb1_negotiate(conn: Connection, data: bytes) -> None:
    """Answer an SMB1 NEGOTIATE that offers SMB2 with an SMB2 NEGOTIATE response."""
    dialects = parse_smb1_negotiate(data)
    if "SMB 2.???" in dialects:
        dialect = DIALECT_WILDCARD
    elif "SMB 2.002" in dialects:
        dialect = DIALECT_202
    else:
        from .connection import DropConnection

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
    if session.spnego is None:
        ntlm = NtlmServer(
            server_challenge=os.urandom(8),
            now_filetime=filetime_now(),
            server_name=server.server_name,
            domain_name=server.workgroup,
        )
        session.spnego = SpnegoServer(ntlm, server.accounts.nt_hash_of)
    sid = session.session_id
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
        return _outcome(NtStatus.MORE_PROCESSING_REQUIRED, _ss_body(0, step.token), sid)
    result = step.result
    session.spnego = None
    if result.anonymous:
        if not _anonymous_allowed(conn):
            log.info("anonymous SMB logon from %s refused: no share grants anonymous", conn.peer)
            _drop_session(conn, session)
            return _outcome(NtStatus.ACCESS_DENIED, session_id=sid)
        session.authenticated, session.anonymous, session.account = True, True, None
        log.info("anonymous SMB session from %s", conn.peer)
        return _outcome(NtStatus.SUCCESS, _ss_body(SESSION_FLAG_IS_NULL, step.token), sid)
    guard.succeeded(result.user)
    session.authenticated = True
    session.anonymous = False
    session.account = result.user.lower()
    session.signing_key = result.session_key[:16].ljust(16, b"\x00")
    session.signing_required = bool(
        server.require_signing
        or req.security_mode & SIGNING_REQUIRED
        or conn.client_security_mode & SIGNING_REQUIRED
    )
    log.info("SMB logon of %s from %s", session.account, conn.peer)
    out = _outcome(NtStatus.SUCCESS, _ss_body(0, step.token), sid)
    if session.signing_required or hdr.is_signed:
        out.sign_key = session.signing_key
    return out


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
    return _outcome(NtStatus.SUCCESS, EMPTY, session.session_id)
