"""The ``mail`` service: SMTP listener, durable queue and its runner, POP3 and IMAP pickup.

While it runs it gives this PC the ``mail`` role and publishes the ``smtp``,
``pop3`` and ``imap`` ports on the board; ``peerwork status --json`` shows the ports
really bound; its signed record carries a digest of the mailboxes this PC is
home for (``mbx``), which peers fetch over the channel (:mod:`.home_book`).
Mail for a mailbox on another PC is handed over the channel (:mod:`.handoff`).
Layout under the home: ``mail/queue/`` (see :mod:`.spool`),
``mail/<account>/Maildir``, ``mail/homes.json``, ``mail/handoff/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from peerwork.accounts import AccountStore
from peerwork.config.mail import MAIL
from peerwork.errors import PeerworkError
from peerwork.mail_secret import smarthost_secret
from peerwork.models import Peer
from peerwork.password_logon import PasswordLogon
from peerwork.proto.mail_handoff import MAIL_HOMES, NOT_HOME, HomesRequest

from ..adverts import ServiceAdvert
from ..channel.errors import ChannelError, ChannelRefused
from ..channel.link import ChannelLink
from ..peer_tls import peer_tls_context
from ..service import EventSink, Route, Service, no_events
from .bounce import queue_bounce
from .errors import DestinationDown
from .handoff import HandoffReceiver, hand_off
from .home_book import HomeBook, MailPeer, refresh
from .homes import Claim, Home, digest
from .imap import ImapServer
from .outbound import RelayResult, read_password, relay
from .pickup_routes import pickup_routes
from .pop3 import Pop3Server
from .queue_state import QueueEntry
from .routes import mail_routes
from .runner import QueueRunner
from .settings import MailSettings, mail_settings
from .smtp import MailHandler, start_smtp
from .spool import Spool

if TYPE_CHECKING:
    from ..context import ServiceContext

log = logging.getLogger("peerwork.mail")
# Seconds between looks at the peer list for home PCs that appeared or changed.
WATCH_PEERS = 2.0
# Seconds a peer gets to say which mailboxes it is home for.
HOMES_TIMEOUT = 10.0


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
        peer_id: str = "",
        peer_name: str = "",
        channel: ChannelLink | None = None,
        peers: Callable[[], Sequence[Peer]] = tuple,
    ) -> None:
        """``identity_folder``: where this PC's peer key and certificate are, for
        STARTTLS/STLS (None: no TLS, hence no SMTP AUTH). ``channel`` and ``peers``:
        how other PCs' mailboxes are found and reached (None: this PC alone)."""
        super().__init__(emit)
        self.settings = settings
        self.accounts = accounts
        self.mail_root = home / "mail"
        self.hostname = hostname
        self.channel = channel
        self.peers = peers
        self.spool = Spool(self.mail_root / "queue")
        self.secret_path = smarthost_secret(home)
        own = Claim(peer_id, peer_name, frozenset(settings.mailboxes))
        self.book = HomeBook(self.mail_root / "homes.json", own)
        self.receiver = HandoffReceiver(self.mail_root, self.book, accounts, settings.max_size)
        self.runner = QueueRunner(
            self.spool,
            self.mail_root,
            locate=self.book.locate,
            send=self._send if channel is not None else None,
            relay=self._relay if settings.smarthost is not None else None,
            bounce=self._bounce,
            before_pass=self._learn_homes,
            timing=settings.timing,
        )
        self._conflicts: dict[str, tuple[str, ...]] = {}
        self._seen: frozenset[tuple[str, int, tuple[str, ...]]] = frozenset()
        self.identity_folder = identity_folder
        self.logon = PasswordLogon(accounts)
        self.handler = MailHandler(settings, accounts, self.spool, self._queued, self.logon)
        self._smtp: asyncio.AbstractServer | None = None
        self._pop3: Pop3Server | None = None
        self._imap: ImapServer | None = None
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
            peer_id=ctx.identity.peer_id,
            peer_name=ctx.peer.name,
            channel=ctx.channel,
            peers=ctx.peers,
        )

    def _queued(self, entry: QueueEntry) -> None:
        self.emit("mail-queued", {"id": entry.id, "recipients": list(entry.recipients)})
        self.runner.submit(entry)

    def _mail_peers(self) -> list[MailPeer]:
        """Verified peers the channel may call (its policy: members), with their record's seq."""
        if self.channel is None:
            return []
        callable_ids = {p.peer_id for p in self.channel.peers()}
        return [
            MailPeer(p.peer_id, p.name, p.seq, "mail" in p.roles)
            for p in self.peers()
            if p.verified and p.peer_id in callable_ids
        ]

    async def _learn_homes(self) -> None:
        if await refresh(self.book, self._mail_peers(), self._fetch_homes, time.monotonic()):
            self._check_conflicts()

    def _check_conflicts(self) -> None:
        found = self.book.conflicts()
        for account, claimants in found.items():
            if self._conflicts.get(account) != claimants:
                log.warning(
                    "mail: %s's mailbox is claimed by %s; %s keeps it",
                    account,
                    ", ".join(claimants),
                    claimants[0],
                )
                self.emit("mail-home-conflict", {"account": account, "claimants": list(claimants)})
        self._conflicts = found

    async def _fetch_homes(self, peer_id: str) -> tuple[str, ...]:
        assert self.channel is not None
        try:
            async with asyncio.timeout(HOMES_TIMEOUT):
                async with await self.channel.connect(self.channel.find(peer_id)) as conn:
                    reply = await conn.call(MAIL_HOMES, HomesRequest())
        except TimeoutError:
            raise ChannelError(f"no answer within {HOMES_TIMEOUT:.0f}s") from None
        return reply.mailboxes

    async def _send(
        self, home: Home, entry: QueueEntry, accounts: tuple[str, ...]
    ) -> tuple[str, ...]:
        assert self.channel is not None
        try:
            conn = await self.channel.connect(self.channel.find(home.peer_id))
        except PeerworkError as exc:  # not seen on the LAN, or not answering: the PC is off
            raise DestinationDown(str(exc)) from None
        async with conn:
            try:
                return await hand_off(
                    conn, entry.id, entry.sender, accounts, self.spool.data_path(entry.id)
                )
            except ChannelRefused as exc:
                if exc.error == NOT_HOME:
                    self.book.forget_seq(home.peer_id)  # ask it again before the next try
                raise

    async def _relay(self, entry: QueueEntry, outside: tuple[str, ...]) -> RelayResult:
        host = self.settings.smarthost
        assert host is not None

        def send() -> RelayResult:
            # Read at each use, never kept or logged: a changed password needs no restart.
            password = read_password(self.secret_path) if host.user else None
            return relay(
                host, password, self.hostname, entry.sender, outside,
                self.spool.data_path(entry.id),
            )  # fmt: skip

        return await asyncio.to_thread(send)

    async def _bounce(self, entry: QueueEntry) -> None:
        queued = await asyncio.to_thread(
            queue_bounce,
            self.spool,
            entry,
            reporting_mta=self.hostname,
            domain=self.settings.domain,
            resolve=self.handler.resident,
            now=self.handler.clock(),
        )
        if queued is not None:
            self._queued(queued)

    async def _watch_peers(self) -> None:
        """A home PC that appears, returns or changes its record gets its waiting mail now,
        not at the entry's next retry."""
        while True:
            await asyncio.sleep(WATCH_PEERS)
            seen = frozenset(
                (p.peer_id, p.seq, p.addresses)
                for p in self.peers()
                if p.verified and "mail" in p.roles
            )
            if seen - self._seen:
                self.runner.retry_all()
            self._seen = seen

    async def _start(self) -> None:
        await asyncio.to_thread(self.spool.prepare)
        await asyncio.to_thread(self.receiver.prepare)
        await asyncio.to_thread(self.book.load)
        if self.channel is not None:
            self.receiver.register(self.channel.handlers)
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
        self._imap = ImapServer(
            self.logon,
            self.mail_root,
            max_connections=self.settings.max_connections,
            idle_timeout=self.settings.idle_timeout,
            max_size=self.settings.max_size,
            tls=tls,
        )
        imap_port = await self._imap.start(self.settings.bind, self.settings.imap_port)
        self._ports = {"smtp": smtp_port, "pop3": pop3_port, "imap": imap_port}
        # Resumes what a crash left queued, then waits for new mail.
        self.run_supervised(self.runner.run(), "mail-queue")
        if self.channel is not None:
            self.run_supervised(self._watch_peers(), "mail-peers")

    async def _stop(self) -> None:
        # Everything acknowledged is already on disk: stopping only closes the doors.
        self._ports = {}
        if self.channel is not None:
            self.receiver.unregister(self.channel.handlers)
        if self._smtp is not None:
            self._smtp.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._smtp.wait_closed(), 5)
            self._smtp = None
        if self._pop3 is not None:
            await self._pop3.stop()
            self._pop3 = None
        if self._imap is not None:
            await self._imap.stop()
            self._imap = None

    def ports(self) -> dict[str, int]:
        return dict(self._ports)

    def routes(self) -> Sequence[Route]:
        return [
            *mail_routes(self.spool, self.mail_root, self.accounts, self.runner.retry_all),
            *pickup_routes(
                self.settings,
                self.accounts,
                self.ports,
                self.identity_folder,
                self.book.locate,
                self.peers,
            ),
        ]

    def advert(self) -> ServiceAdvert | None:
        if not self._ports:
            return None
        # The list itself is fetched over the channel; the signed digest makes a change
        # of it a new record, which is what tells peers to fetch it again.
        extra = {"mbx": digest(self.book.own.mailboxes)}
        return ServiceAdvert(roles=("mail",), ports=self.ports(), extra=extra)

    def details(self) -> dict[str, Any]:
        return {
            "domain": self.settings.domain,
            "bind": self.settings.bind,
            "max_size": self.settings.max_size,
            "tls": self.identity_folder is not None,
            "queued": len(list(self.spool.env.glob("*.json"))),
            "accepted": self.handler.accepted,
            "delivered": self.runner.delivered,
            "handed_in": self.receiver.received,
            "homes": self.book.to_json(),
            "connections": {
                "smtp": self.handler.connections,
                "pop3": self._pop3.connections if self._pop3 else 0,
                "imap": self._imap.connections if self._imap else 0,
            },
        }

    def summary(self) -> str:
        conflicts = len(self._conflicts)
        warning = f", {conflicts} mailbox(es) claimed by several PCs" if conflicts else ""
        return f"@{self.settings.domain}, {self.details()['queued']} queued{warning}"
