"""One client TCP connection: framing, credits, signing, compounding, async replies.

The read loop parses NetBIOS frames and checks credits in arrival order, then
serves each frame (a single request or a compound chain) in its own task so a
long request (CHANGE_NOTIFY, a blocking lock) never stalls the others. A
request still running after ``PENDING_AFTER`` seconds gets an interim
STATUS_PENDING response and its final answer later, as MS-SMB2 3.3.4.2 allows;
CANCEL finds it by AsyncId or MessageId.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from peerwork.proto.ntstatus import NtStatus, NtStatusError
from peerwork.proto.smb2_header import (
    ERROR_BODY,
    FLAGS_ASYNC_COMMAND,
    FLAGS_SERVER_TO_REDIR,
    HEADER_SIZE,
    NETBIOS_KEEPALIVE,
    SMB1_PROTOCOL_ID,
    MalformedPacket,
    Smb2Header,
    parse_netbios_header,
    split_compound,
)
from peerwork.proto.smb2_keys import preauth_update
from peerwork.proto.smb2_negctx import Cipher, SigningAlgorithm
from peerwork.proto.smb2_negotiate import DIALECT_210
from peerwork.proto.smb2_signing import Signer
from peerwork.proto.smb2_transform import TRANSFORM_PROTOCOL_ID, Sealer

from . import api, cmd_session, cmd_tree, protection
from .budget import Account
from .credits import CreditWindow, charge_problem
from .outcome import Body, DropConnection, Outcome
from .sender import Buffer, Reply, ReplySender
from .session import Session

if TYPE_CHECKING:
    from .server import SmbServer

log = logging.getLogger(__name__)

# A connection with no logged-on session this long after connecting (or its last
# logoff) is dropped, whatever it sends meanwhile: probes, half-open, keepalive floods.
PREAUTH_TIMEOUT = 30.0
# A logged-on connection with nothing open and nothing in progress, silent this long, is
# closed (as Windows' autodisconnect does); clients reconnect transparently.
IDLE_TIMEOUT = 15 * 60.0
# Once a frame's length arrived, its bytes must follow within this time.
FRAME_TIMEOUT = 60.0
PENDING_AFTER = 0.5
MAX_FRAME = 16 * 1024 * 1024
MAX_IN_FLIGHT = 64
# What a reply other than READ's is assumed to need before it exists (its real size
# is counted once it does).
REPLY_BOUND = 64 * 1024


@dataclass(slots=True)
class _Chain:
    """What a related compound command inherits from the one before it."""

    session_id: int = 0
    tree_id: int = 0
    file_id: bytes | None = None
    create_error: int = 0
    # False until a command found its session: a related command then has nothing to
    # inherit (first in the chain, or after a session failure) and is INVALID_PARAMETER.
    valid: bool = False
    # The session the frame came encrypted for (None: it came in the clear), and what
    # seals the replies: taken when the frame arrived, so a LOGOFF's answer is sealed too.
    encrypted: Session | None = None
    sealer: Sealer | None = None
    # What signs the current command's reply, once its session checked its signature.
    signer: Signer | None = None


def _pieces(body: Body) -> list[Buffer]:
    if isinstance(body, list):
        return [p for p in body if len(p)]
    return [body] if len(body) else []


class Connection:
    def __init__(
        self, server: SmbServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.credits = CreditWindow()
        self.dialect: int | None = None
        self.client_security_mode = 0
        self.client_capabilities = 0
        self.client_guid = b"\x00" * 16
        self.server_security_mode = 0
        self.server_capabilities = 0
        # SMB 3.x: the negotiated cipher (None: no encryption) and signing algorithm
        # (3.1.1 context), and the connection's preauth integrity hash (3.1.1).
        self.cipher: Cipher | None = None
        self.signing_algorithm: SigningAlgorithm | None = None
        self.preauth = b""
        self.max_read = self.max_write = self.max_transact = 65536
        self.sessions: dict[int, Session] = {}
        # Sessions logged off lately, kept only to open what a client still seals for
        # them and answer USER_SESSION_DELETED (sealed) instead of ending the connection.
        self.ended: dict[int, Session] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending_async: dict[int, asyncio.Task[Outcome]] = {}
        self._pending_msg: dict[int, asyncio.Task[Outcome]] = {}
        self._async_ids = itertools.count(1)
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._closed = False
        loop = asyncio.get_running_loop()
        # When a request last arrived or a response left (event-loop time): idle timeouts.
        # NetBIOS keepalives do not count: they are not use.
        self._last_activity = loop.time()
        # This connection's bytes in the server's ByteBudget, and what each frame task holds.
        self.account = Account()
        self._reserved: dict[asyncio.Task[None], int] = {}
        # Since when no session of this connection is logged on (None: one is). The
        # logon deadline counts from here, whatever the client sends meanwhile.
        self._unauth_since: float | None = loop.time()
        # Done once the connection is ending: the read loop stops waiting for room.
        self._gone: asyncio.Future[None] = loop.create_future()
        self._deadline = loop.call_later(server.preauth_timeout, self._check_logon)
        self.sender = ReplySender(
            writer,
            self.credits,
            server.budget,
            self.account,
            server.limits.stall_timeout,
            on_stall=self._stalled,
        )

    # --- reading -------------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._read_loop()
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        except (MalformedPacket, DropConnection) as exc:
            log.info("SMB client %s dropped: %s", self.peer, exc)
        except Exception:
            log.exception("SMB connection %s failed", self.peer)
        finally:
            await self.close()

    async def _read_loop(self) -> None:
        while not self._closed:
            head = await self._read_head()
            kind, length = parse_netbios_header(head)
            if kind == NETBIOS_KEEPALIVE:
                continue
            if length < 4 or length > MAX_FRAME:
                raise MalformedPacket(f"frame of {length} bytes")
            data: bytes | bytearray = await asyncio.wait_for(
                self.reader.readexactly(length), FRAME_TIMEOUT
            )
            self._last_activity = asyncio.get_running_loop().time()
            encrypted = None
            if data[:4] == TRANSFORM_PROTOCOL_ID:
                data, encrypted = protection.open_frame(self, bytes(data))
            coro, reply_bound = self._accept(data, encrypted)
            # Back-pressure: no new frame while this client's (or everyone's) bytes are
            # over the limit; the client's requests wait in the socket meanwhile.
            reserve = len(data) + reply_bound
            try:
                admitted = await self.server.budget.admit(self.account, reserve, self._gone)
                if admitted:
                    await self._slots.acquire()
            except BaseException:
                coro.close()
                raise
            if not admitted:
                coro.close()
                return
            task = asyncio.create_task(coro)
            self._tasks.add(task)
            self._reserved[task] = reserve
            task.add_done_callback(self._task_done)

    async def _read_head(self) -> bytes:
        """The next frame's 4-byte length; TimeoutError once the connection has been
        silent for longer than :meth:`_silence_allowed` lets it (re-checked as it changes:
        a logon completing, the last file closing)."""
        loop = asyncio.get_running_loop()
        while True:
            limit = self._silence_allowed()
            if limit is None:
                wait = self.server.idle_timeout
            else:
                wait = max(0.01, limit - (loop.time() - self._last_activity))
            try:
                # Cancelling readexactly consumes nothing, so waiting again is safe.
                return await asyncio.wait_for(self.reader.readexactly(4), wait)
            except TimeoutError:
                limit = self._silence_allowed()
                if limit is not None and loop.time() - self._last_activity >= limit:
                    raise

    def _silence_allowed(self) -> float | None:
        """How long the next frame may take to start arriving (None: no limit)."""
        if not self._logged_on():
            return None  # the logon deadline (_check_logon) applies instead
        busy = self._tasks or any(
            tree.opens for s in self.sessions.values() for tree in s.trees.values()
        )
        # Open files or a pending request (a CHANGE_NOTIFY, a blocking lock): the client
        # is using us even while silent; TCP keepalive notices if it is gone.
        return None if busy else self.server.idle_timeout

    def _stalled(self) -> None:
        self.server.throttle.log(
            "stalled",
            logging.INFO,
            "SMB client %s dropped: took no reply for %gs",
            self.peer,
            self.server.limits.stall_timeout,
        )
        self._abort(hard=True)

    def _logged_on(self) -> bool:
        return any(s.authenticated for s in self.sessions.values())

    def _note_logons(self) -> None:
        """Start or stop the logon deadline's clock as the last session comes or goes."""
        if self._logged_on():
            self._unauth_since = None
        elif self._unauth_since is None:
            self._unauth_since = asyncio.get_running_loop().time()

    def _check_logon(self) -> None:
        """Drop the connection once it has gone ``preauth_timeout`` seconds without a
        logged-on session: an absolute deadline, not reset by keepalives or requests."""
        loop = asyncio.get_running_loop()
        now, limit = loop.time(), self.server.preauth_timeout
        if self._closed:
            return
        self._note_logons()  # sessions can also end without a LOGOFF (a failed re-logon)
        if self._unauth_since is not None and now - self._unauth_since >= limit:
            self.server.throttle.log(
                "no-logon",
                logging.INFO,
                "SMB client %s dropped: no logon within %gs",
                self.peer,
                limit,
            )
            self._abort(hard=True)
            return
        since = now if self._unauth_since is None else self._unauth_since
        self._deadline = loop.call_at(since + limit, self._check_logon)

    @staticmethod
    def open_count(session: Session) -> int:
        return sum(len(tree.opens) for tree in session.trees.values())

    def open_count_all(self) -> int:
        return sum(self.open_count(s) for s in self.sessions.values())

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()
        self.server.budget.release(self.account, self._reserved.pop(task, 0))
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            if isinstance(exc, DropConnection | MalformedPacket):
                log.info("SMB client %s dropped: %s", self.peer, exc)
            elif not isinstance(exc, ConnectionError):
                log.error("SMB request from %s failed", self.peer, exc_info=exc)
            self._abort()

    def _accept(
        self, data: bytes | bytearray, encrypted: Session | None = None
    ) -> tuple[Coroutine[Any, Any, None], int]:
        """Check the frame (synchronously, in arrival order); return the coroutine serving
        it and a bound on its replies' size: a READ's Length (at most the negotiated
        maximum), :data:`REPLY_BOUND` for any other command."""
        if data[:4] == SMB1_PROTOCOL_ID:
            if self.dialect is not None or not self.credits.consume(0, 1):
                raise DropConnection("SMB1 message after negotiation")
            return cmd_session.smb1_negotiate(self, bytes(data)), REPLY_BOUND
        parts = split_compound(memoryview(data))
        bound = 0
        for hdr, msg in parts:
            if hdr.is_response:
                raise MalformedPacket("a response sent to the server")
            if hdr.command == api.CANCEL:
                continue
            # 2.0.2 has no CreditCharge (every request costs one); from 2.1 on it counts.
            charge = hdr.credit_charge if self._multi_credit() else 1
            if not self.credits.consume(hdr.message_id, charge):
                raise DropConnection(f"MessageId {hdr.message_id} outside the credit window")
            if hdr.command == api.READ and len(msg) >= HEADER_SIZE + 8:
                length = int.from_bytes(msg[HEADER_SIZE + 4 : HEADER_SIZE + 8], "little")
                bound += HEADER_SIZE + 16 + min(length, self.max_read)
            else:
                bound += REPLY_BOUND
        parts = [(h, m) for h, m in parts if h.command != api.CANCEL or self._cancel(h)]
        return self._serve(parts, encrypted), bound

    def _multi_credit(self) -> bool:
        return self.dialect is not None and self.dialect >= DIALECT_210

    def hash_negotiate_response(self, pieces: list[Buffer]) -> None:
        self.preauth = preauth_update(self.preauth, b"".join(pieces))

    def _cancel(self, hdr: Smb2Header) -> bool:
        """CANCEL gets no response; returns False so the chain drops it."""
        if hdr.is_async:
            task = self._pending_async.get(hdr.async_id)
        else:
            task = self._pending_msg.get(hdr.message_id)
        if task is not None:
            task.cancel()
        return False

    # --- serving --------------------------------------------------------------------

    async def _serve(
        self, parts: list[tuple[Smb2Header, memoryview]], encrypted: Session | None = None
    ) -> None:
        if not parts:
            return
        chain = _Chain(encrypted=encrypted, sealer=encrypted.sealer if encrypted else None)
        if len(parts) == 1 and parts[0][0].command not in (api.NEGOTIATE, api.SESSION_SETUP):
            await self._serve_single(parts[0][0], parts[0][1], chain)
            return
        out: list[tuple[Smb2Header, Outcome]] = []
        for hdr, msg in parts:
            outcome = await self._one(hdr, msg, chain)
            out.append((hdr, outcome))
        await self._send([self._response(h, o) for h, o in out], chain.sealer)

    async def _serve_single(self, hdr: Smb2Header, msg: memoryview, chain: _Chain) -> None:
        task = asyncio.create_task(self._one(hdr, msg, chain))
        self._pending_msg[hdr.message_id] = task
        try:
            done, _ = await asyncio.wait({task}, timeout=PENDING_AFTER)
            if done:
                outcome = _outcome_of(task)
                await self._send([self._response(hdr, outcome)], chain.sealer)
                return
            async_id = next(self._async_ids)
            self._pending_async[async_id] = task
            interim = hdr.response(
                status=NtStatus.PENDING,
                flags=FLAGS_SERVER_TO_REDIR | FLAGS_ASYNC_COMMAND,
                async_id=async_id,
            )
            await self._send([Reply(interim.pack(), [ERROR_BODY], None, hdr.credits)], chain.sealer)
            # Not suppressed: cancelled here means the connection is closing, and the
            # command may still be running; the finally below cancels and reaps it.
            # (CANCEL from the client cancels the command's task, not this one: wait
            # then returns normally with the task cancelled.)
            await asyncio.wait({task})
            outcome = _outcome_of(task)
            final = hdr.response(
                flags=FLAGS_SERVER_TO_REDIR | FLAGS_ASYNC_COMMAND, async_id=async_id
            )
            await self._send([self._response(final, outcome, async_final=True)], chain.sealer)
            self._pending_async.pop(async_id, None)
        finally:
            self._pending_msg.pop(hdr.message_id, None)
            # Cancelled mid-way (connection closing): the command may already have
            # failed, and nobody will ask it why. Ask now, so the garbage collector never
            # reports it later from some unrelated frame (CPython 3.11 formats that report
            # with ast.parse, which corrupts a concurrent parse: "AST constructor recursion
            # depth mismatch").
            if task.done():
                _reap(task)
            else:
                task.cancel()
                task.add_done_callback(_reap)

    async def _send(self, responses: list[Reply | bytes], sealer: Sealer | None = None) -> None:
        """Send responses as one frame (a compound if several, encrypted by ``sealer``
        if given); see ReplySender."""
        await self.sender.send(responses, sealer)
        self._last_activity = asyncio.get_running_loop().time()

    def _response(self, hdr: Smb2Header, outcome: Outcome, *, async_final: bool = False) -> Reply:
        base = hdr if async_final else hdr.response()
        rh = replace(
            base,
            status=outcome.status,
            credit_charge=hdr.credit_charge,
            tree_id=outcome.tree_id,
            session_id=outcome.session_id,
        )
        body = _pieces(outcome.body)
        if not body and outcome.status != NtStatus.SUCCESS:
            body = [ERROR_BODY]
        credits = None if async_final else hdr.credits
        return Reply(rh.pack(), body, outcome.signer, credits, outcome.on_sent)

    async def _one(self, hdr: Smb2Header, msg: memoryview, chain: _Chain) -> Outcome:
        chain.signer = None
        try:
            out = await self._dispatch(hdr, msg, chain)
        except NtStatusError as exc:
            out = Outcome(exc.status, session_id=hdr.session_id, tree_id=hdr.tree_id)
            out.signer = chain.signer  # SMB 3 clients drop a session's unsigned errors
        except MalformedPacket as exc:
            log.info("malformed %s from %s: %s", api.command_name(hdr.command), self.peer, exc)
            out = Outcome(NtStatus.INVALID_PARAMETER, session_id=hdr.session_id)
            out.signer = chain.signer
        if hdr.command == api.CREATE and out.status != NtStatus.SUCCESS and not chain.create_error:
            # Raised or returned, a failed CREATE fails the related commands after it:
            # otherwise their all-ones FileId would still name a file an earlier CREATE
            # of the chain opened, and a WRITE meant for the new file would land there.
            chain.create_error = out.status
        return out

    async def _dispatch(self, hdr: Smb2Header, msg: memoryview, chain: _Chain) -> Outcome:
        cmd = hdr.command
        body = msg[HEADER_SIZE:]
        if cmd == api.NEGOTIATE:
            if self.dialect is not None:
                raise DropConnection("second NEGOTIATE on a connection")
            return cmd_session.negotiate(self, msg)
        if self.dialect is None:
            raise DropConnection(f"{api.command_name(cmd)} before NEGOTIATE")
        related = hdr.is_related
        if related:
            # MS-SMB2 3.3.5.2.7.2: inherit session, tree and file from the previous command.
            if not chain.valid:
                return Outcome(NtStatus.INVALID_PARAMETER, session_id=hdr.session_id)
            sid, tid = chain.session_id, chain.tree_id
            if chain.create_error:
                return Outcome(chain.create_error, session_id=sid, tree_id=tid)
        else:
            sid, tid = hdr.session_id, hdr.tree_id
            chain.file_id, chain.create_error, chain.valid = None, 0, False
        if cmd == api.SESSION_SETUP:
            refused = protection.check_reauth(self, hdr, msg, sid, chain.encrypted)
            if refused is not None:
                return Outcome(refused, session_id=sid)
            outcome = await cmd_session.session_setup(self, hdr, msg, sid)
            chain.session_id = outcome.session_id
            self._note_logons()
            return outcome
        chain.valid = False
        session = self.sessions.get(sid)
        if session is None or not session.authenticated:
            if cmd == api.ECHO:
                return Outcome(NtStatus.SUCCESS, cmd_session.EMPTY)
            return Outcome(NtStatus.USER_SESSION_DELETED, session_id=sid)
        verdict = protection.check_request(self, session, hdr, msg, chain.encrypted)
        if verdict.refusal is not None:
            return Outcome(verdict.refusal, session_id=sid, signer=verdict.signer)
        chain.session_id, chain.valid, chain.signer = sid, True, verdict.signer
        out = await self._session_command(cmd, hdr, body, session, tid, chain)
        out.session_id = sid
        out.signer = verdict.signer
        return out

    async def _session_command(
        self,
        cmd: int,
        hdr: Smb2Header,
        body: memoryview,
        session: Session,
        tid: int,
        chain: _Chain,
    ) -> Outcome:
        if cmd == api.LOGOFF:
            out = cmd_session.logoff(self, session, body)
            self._note_logons()
            return out
        if cmd == api.ECHO:
            return Outcome(NtStatus.SUCCESS, cmd_session.EMPTY)
        if cmd == api.TREE_CONNECT:
            out = cmd_tree.tree_connect(self, session, body)
            chain.tree_id = out.tree_id
            return out
        tree = session.trees.get(tid)
        if tree is None:
            return Outcome(NtStatus.NETWORK_NAME_DELETED)
        chain.tree_id = tid
        status = self.server.refresh_tree(session, tree)
        if status is not None:
            return Outcome(status, tree_id=tid)
        if chain.encrypted is None and tree.share is not None and tree.share.encrypt:
            protection.refuse_clear(self, cmd)
            return Outcome(NtStatus.ACCESS_DENIED, tree_id=tid)
        if cmd == api.TREE_DISCONNECT:
            return cmd_tree.tree_disconnect(session, tid, body)
        handler = api.HANDLERS.get(cmd)
        if handler is None:
            status = (
                NtStatus.NOT_SUPPORTED if cmd <= api.OPLOCK_BREAK else NtStatus.INVALID_PARAMETER
            )
            return Outcome(status, tree_id=tid)
        status = charge_problem(
            cmd, body, hdr.credit_charge, self.max_read, self.max_write, self._multi_credit()
        )
        if status is not None:
            return Outcome(status, tree_id=tid)
        if cmd == api.CREATE and not self.server.may_open(self, session):
            # What Samba answers when a client's open table is full; the client
            # (Windows, smbclient) reports "insufficient system resources".
            return Outcome(NtStatus.INSUFFICIENT_RESOURCES, tree_id=tid)
        req = api.Request(
            command=cmd,
            message_id=hdr.message_id,
            flags=hdr.flags,
            body=body,
            session=session.view,
            tree=tree,
            compound_file_id=chain.file_id if hdr.is_related else None,
            dialect=self.dialect or 0,
            max_read=self.max_read,
            max_write=self.max_write,
            max_transact=self.max_transact,
            server=self,
        )
        try:
            reply = await handler(req)
        except (NtStatusError, MalformedPacket, DropConnection, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("%s handler failed for %s", api.command_name(cmd), self.peer)
            return Outcome(NtStatus.INTERNAL_ERROR, tree_id=tid)
        if reply.file_id is not None:
            chain.file_id = reply.file_id
        return Outcome(reply.status, reply.body, tree_id=tid)

    # --- closing ---------------------------------------------------------------------

    def _abort(self, *, hard: bool = False) -> None:
        """End the connection; ``hard`` discards replies still queued (the client is not
        taking them, or is being thrown out)."""
        if not self._gone.done():
            self._gone.set_result(None)
        if hard:
            self.writer.transport.abort()
        elif not self._closed:
            self.writer.close()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.sender.closed = True
        self._deadline.cancel()
        if not self._gone.done():
            self._gone.set_result(None)
        for task in list(self._tasks):
            task.cancel()
        for session in self.sessions.values():
            cmd_session.refresh_grants(self, session)
            session.close_all()
        self.sessions.clear()
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), 2.0)
        # Replies the client never took would keep the socket (and their bytes) forever.
        self.writer.transport.abort()
        self.server.budget.release_all(self.account)
        self.server.forget(self)


def _outcome_of(task: asyncio.Task[Outcome]) -> Outcome:
    if task.cancelled():
        return Outcome(NtStatus.CANCELLED)
    exc = task.exception()
    if exc is not None:
        raise exc
    return task.result()


def _reap(task: asyncio.Task[Outcome]) -> None:
    """Collect the outcome of a command whose answer is no longer wanted."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None and not isinstance(exc, DropConnection | MalformedPacket | ConnectionError):
        log.info("abandoned SMB command failed: %r", exc)
