"""The SMTP listener: aiosmtpd for the dialogue, our own DATA path so nothing is held whole.

aiosmtpd collects a message in memory before its DATA hook runs; :class:`MailSMTP`
replaces only ``smtp_DATA`` to decode the dot-stuffed stream chunk by chunk
(:mod:`peerwork.proto.dotstuff`) straight into the queue's incoming file, counting
the size as it goes. The reply 250 is sent only after the queue has the message
fsynced. Recipients are checked at RCPT by :class:`MailHandler`: a name of
ours must be an account (or alias); an address of another domain is accepted
only with a smarthost configured, from an authenticated session, from a
client on the LAN (:mod:`.lan`) — never an open relay.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from peerwork.accounts import AccountStore
from peerwork.password_logon import PasswordLogon
from peerwork.proto.dotstuff import DataDecoder

from .folder_sync import FolderSync
from .lan import LanCheck
from .queue_state import QueueEntry
from .settings import MailSettings
from .spool import Incoming, Spool, new_id

log = logging.getLogger("peerwork.mail.smtp")
# aiosmtpd logs every command and connection at INFO: ~8 lines per message, which
# floods the journal and cost ~5% of the agent's time accepting a stream of mail.
logging.getLogger("mail.log").setLevel(logging.WARNING)
CHUNK = 1 << 16


class MailHandler:
    """The post office's decisions: who may receive, where accepted mail goes."""

    def __init__(
        self,
        settings: MailSettings,
        accounts: AccountStore,
        spool: Spool,
        on_queued: Callable[[QueueEntry], None],
        logon: PasswordLogon,
        clock: Callable[[], float] = time.time,
        lan: Callable[[str], bool] | None = None,
    ) -> None:
        """``lan``: whether a client address is on the LAN (may relay once logged on)."""
        self.settings = settings
        self.lan = lan or LanCheck()
        self.logon = logon
        self.accounts = accounts
        self.spool = spool
        self.folders = FolderSync(spool.folders)
        self.on_queued = on_queued
        self.clock = clock
        self.connections = 0
        self.accepted = 0

    def local_account(self, address: str) -> str | None:
        """The account ``address`` (already known to be in our domain) delivers to."""
        local = address.rsplit("@", 1)[0].lower()
        local = self.settings.aliases.get(local, local)
        return local if self.accounts.get(local) is not None else None

    def resident(self, address: str) -> str | None:
        """The account of ours ``address`` delivers to, or None (another domain, or no one)."""
        return self.local_account(address) if self.in_domain(address) else None

    def in_domain(self, address: str) -> bool:
        return "@" in address and address.rsplit("@", 1)[1].lower() == self.settings.domain

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        # aiosmtpd reads commands one by one, so pipelined ones are served in order.
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if len(envelope.rcpt_tos) >= self.settings.max_recipients:
            return "452 4.5.3 Too many recipients"
        if "@" not in address:
            return f"553 5.1.3 <{address}>: a whole address (name@domain) is needed"
        if not self.in_domain(address):
            refusal = self.relay_refusal(session, address)
            if refusal:
                return refusal
        elif self.local_account(address) is None:
            return f"550 5.1.1 <{address}>: no such mailbox in this workgroup"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    def relay_refusal(self, session: Session, address: str) -> str:
        """Why mail for ``address`` (another domain) may not be relayed, or ""."""
        if self.settings.smarthost is None:
            return (
                f"550 5.7.1 <{address}>: this post office delivers only to @{self.settings.domain}"
                " (mail to other domains needs a smarthost, not configured)"
            )
        if not session.authenticated:
            return (
                f"554 5.7.1 <{address}>: relay access denied; log on (AUTH) to send"
                f" outside @{self.settings.domain}"
            )
        peer = session.peer
        if not isinstance(peer, tuple) or not self.lan(str(peer[0])):
            return f"554 5.7.1 <{address}>: relay access denied from outside the LAN"
        return ""

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """AUTH PLAIN/LOGIN (aiosmtpd offers them only after STARTTLS) against the accounts.
        A failure's delay is left on the session for :meth:`MailSMTP.smtp_AUTH` to wait."""
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        peer = session.peer
        address = str(peer[0]) if isinstance(peer, tuple) else "local"
        result = self.logon.check(
            data.login.decode("utf-8", "replace"),
            data.password.decode("utf-8", "replace"),
            address,
            "smtp",
        )
        if result.account is None:
            session.auth_delay = result.delay  # type: ignore[attr-defined]
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=result.account)

    def open_incoming(self) -> Incoming:
        return self.spool.receive(new_id(self.clock()))

    async def commit(self, incoming: Incoming, envelope: Envelope) -> str:
        """Make the received message durable, then (and only then) answer 250."""
        recipients: list[str] = []
        for address in envelope.rcpt_tos:
            # Ours by account name; another domain's by address (it leaves by the smarthost).
            target = self.local_account(address) if self.in_domain(address) else address
            if target is not None and target not in recipients:
                recipients.append(target)
        if not recipients:  # every recipient's account went away since RCPT
            incoming.abort()
            return "554 5.1.1 No valid recipients left"
        entry = QueueEntry(
            incoming.id, envelope.mail_from or "", tuple(recipients), created=self.clock()
        )

        def store() -> None:
            incoming.finish()
            self.spool.stage(incoming, entry)

        try:
            await asyncio.to_thread(store)  # one thread trip for the file work
            await self.folders.sync()  # shared with the sessions finishing meanwhile
        except OSError as exc:
            incoming.abort()
            log.error("mail: cannot queue a message: %s", exc)
            return "452 4.3.1 Insufficient storage; try again later"
        self.accepted += 1
        self.on_queued(entry)
        return f"250 2.0.0 OK queued as {entry.id}"


class MailSMTP(SMTP):
    """aiosmtpd's SMTP with a streaming DATA and a cap on connections."""

    def __init__(self, handler: MailHandler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.handler = handler
        self._counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None
        super().connection_made(transport)
        if not first:
            return  # the same connection after STARTTLS
        if self.handler.connections >= self.handler.settings.max_connections:
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(b"421 4.7.0 Too many connections; try again later\r\n")
            transport.close()
            return
        self.handler.connections += 1
        self._counted = True

    def connection_lost(self, error: Exception | None) -> None:
        if self._counted:
            self.handler.connections -= 1
            self._counted = False
        super().connection_lost(error)

    async def smtp_AUTH(self, arg: str) -> None:
        await super().smtp_AUTH(arg)
        assert self.session is not None
        # Commands of one connection are served in turn: this holds back its next guess.
        delay = getattr(self.session, "auth_delay", 0.0)
        if delay:
            self.session.auth_delay = 0.0  # type: ignore[attr-defined]
            await asyncio.sleep(delay)

    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        if arg:
            await self.push("501 5.5.4 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            incoming = self.handler.open_incoming()
        except OSError as exc:
            log.error("mail: cannot open a queue file: %s", exc)
            await self.push("452 4.3.1 Cannot store the message now; try again later")
            if self.transport is not None:
                self.transport.close()
            return
        try:
            status = await self._receive(incoming)
        except BaseException:
            incoming.abort()  # cut off mid-DATA: nothing half-stored
            raise
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push(status)

    async def _receive(self, incoming: Incoming) -> str:
        decoder = DataDecoder()
        limit = self.handler.settings.max_size
        # Once refused (too big, disk full) the rest is read and dropped: the reply
        # comes after the final dot, where the client listens for it (RFC 5321 4.2.5).
        refusal = ""
        while not decoder.done:
            chunk = await self._reader.read(CHUNK)
            if not chunk:
                raise ConnectionResetError("connection closed during DATA")
            self._reset_timeout()  # idle time, not message time, is limited
            out = decoder.feed(chunk)
            if refusal:
                continue
            if incoming.size + len(out) > limit:
                refusal = f"552 5.3.4 Message exceeds the size limit of {limit} bytes"
                incoming.abort()
                continue
            try:
                incoming.write(out)
            except OSError as exc:
                log.error("mail: cannot store an incoming message: %s", exc)
                refusal = "452 4.3.1 Insufficient storage; try again later"
                incoming.abort()
        if decoder.rest:
            # Pipelined commands after the final dot: back to the reader for the command loop.
            buffer = self._reader._buffer  # type: ignore[attr-defined]
            buffer[:0] = decoder.rest
        if refusal:
            return refusal
        assert self.envelope is not None
        return await self.handler.commit(incoming, self.envelope)


async def start_smtp(
    handler: MailHandler, host: str, port: int, hostname: str, tls: ssl.SSLContext | None
) -> asyncio.AbstractServer:
    loop = asyncio.get_running_loop()
    settings = handler.settings

    def factory() -> MailSMTP:
        return MailSMTP(
            handler,
            data_size_limit=settings.max_size,
            enable_SMTPUTF8=True,
            hostname=hostname,
            ident="peerwork post office",
            timeout=settings.idle_timeout,
            tls_context=tls,
            auth_require_tls=True,
            authenticator=handler.authenticate,
            loop=loop,
        )

    return await loop.create_server(factory, host, port)
