"""The ``mail`` service: SMTP listener, durable queue and its runner, POP3 pickup.

While it runs it gives this PC the ``mail`` role and publishes the ``smtp``
and ``pop3`` ports on the board; ``peerwork status --json`` shows the ports
really bound. Layout under the home: ``mail/queue/`` (see :mod:`.spool`) and
``mail/<account>/Maildir``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from peerwork.accounts import AccountStore
from peerwork.config.mail import MAIL
from peerwork.password_logon import PasswordLogon

from ..adverts import ServiceAdvert
from ..peer_tls import peer_tls_context
from ..service import EventSink, Route, Service, no_events
from .pop3 import Pop3Server
from .queue_state import QueueEntry
from .routes import mail_routes
from .runner import QueueRunner
from .settings import MailSettings, mail_settings
from .smtp import MailHandler, start_smtp
from .spool import Spool

if TYPE_CHECKING:
    from ..context import ServiceContext


class MailService(Service):
    name = "mail"
    section = MAIL

    def __init__(
        self,
        *,
        settings: MailSettings,
        accounts: AccountStore,
        home: Path,
        hostname: str,
        identity_folder: Path | None = None,
        emit: EventSink = no_events,
    ) -> None:
        """``identity_folder``: where this PC's peer key and certificate are, for
        STARTTLS/STLS (None: no TLS, hence no SMTP AUTH)."""
        super().__init__(emit)
        self.settings = settings
        self.accounts = accounts
        self.mail_root = home / "mail"
        self.hostname = hostname
        self.spool = Spool(self.mail_root / "queue")
        self.runner = QueueRunner(self.spool, self.mail_root)
        self.identity_folder = identity_folder
        self.logon = PasswordLogon(accounts)
        self.handler = MailHandler(settings, accounts, self.spool, self._queued, self.logon)
        self._smtp: asyncio.AbstractServer | None = None
        self._pop3: Pop3Server | None = None
        self._ports: dict[str, int] = {}

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> MailService:
        settings = mail_settings(ctx.settings, ctx.config)
        return cls(
            settings=settings,
            accounts=ctx.accounts,
            home=ctx.paths.root,
            hostname=f"{ctx.peer.name.lower()}.{settings.domain}",
            identity_folder=ctx.paths.identity,
            emit=ctx.emit,
        )

    def _queued(self, entry: QueueEntry) -> None:
        self.emit("mail-queued", {"id": entry.id, "recipients": list(entry.recipients)})
        self.runner.wake()

    async def _start(self) -> None:
        await asyncio.to_thread(self.spool.prepare)
        tls = peer_tls_context(self.identity_folder) if self.identity_folder else None
        self._smtp = await start_smtp(
            self.handler, self.settings.bind, self.settings.smtp_port, self.hostname, tls
        )
        smtp_port = int(self._smtp.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        self._pop3 = Pop3Server(
            self.logon,
            self.mail_root,
            max_connections=self.settings.max_connections,
            idle_timeout=self.settings.idle_timeout,
            tls=tls,
        )
        pop3_port = await self._pop3.start(self.settings.bind, self.settings.pop3_port)
        self._ports = {"smtp": smtp_port, "pop3": pop3_port}
        # Resumes what a crash left queued, then waits for new mail.
        self.run_supervised(self.runner.run(), "mail-queue")

    async def _stop(self) -> None:
        # Everything acknowledged is already on disk: stopping only closes the doors.
        self._ports = {}
        if self._smtp is not None:
            self._smtp.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._smtp.wait_closed(), 5)
            self._smtp = None
        if self._pop3 is not None:
            await self._pop3.stop()
            self._pop3 = None

    def ports(self) -> dict[str, int]:
        return dict(self._ports)

    def routes(self) -> Sequence[Route]:
        return mail_routes(self.spool, self.mail_root, self.accounts, self.runner.retry_all)

    def advert(self) -> ServiceAdvert | None:
        return ServiceAdvert(roles=("mail",), ports=self.ports()) if self._ports else None

    def details(self) -> dict[str, Any]:
        return {
            "domain": self.settings.domain,
            "bind": self.settings.bind,
            "max_size": self.settings.max_size,
            "tls": self.identity_folder is not None,
            "queued": len(list(self.spool.env.glob("*.json"))),
            "accepted": self.handler.accepted,
            "delivered": self.runner.delivered,
            "connections": {
                "smtp": self.handler.connections,
                "pop3": self._pop3.connections if self._pop3 else 0,
            },
        }

    def summary(self) -> str:
        return f"@{self.settings.domain}, {self.details()['queued']} queued"
