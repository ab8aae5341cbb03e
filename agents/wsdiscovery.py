"""WS-Discovery responder: how Windows Explorer's Network folder finds this PC.

Windows does not browse mDNS; it multicasts WS-Discovery Probes and lists the
targets that answer, then asks each for its metadata over HTTP. This service
answers like wsdd (the reference), on the interfaces discovery uses:

- a Hello on every interface address at start and when an address appears, a
  Bye at a clean stop and when an address goes, each repeated as SOAP-over-UDP
  asks (Appendix I);
- ProbeMatches to a Probe for ``wsdp:Device``/``pub:Computer`` (or for no type)
  and ResolveMatches, carrying the metadata URL, to a Resolve for our endpoint;
  both unicast to the asker after a random delay of up to APP_MAX_DELAY
  (WS-Discovery §3), so a room full of PCs does not answer at the same instant;
- the WS-Transfer Get on ``http://<address>:5357/<uuid>``, answered with the
  computer name and ``Workgroup:<WG>``.

IPv4 always; with ``[wsdiscovery] ipv6 = true`` also each interface's IPv6
link-local address (ff02::c), as wsdd does. An address that cannot be bound
yet (IPv6 still in duplicate address detection) is retried at every address
check, shown under ``problems`` meanwhile.

The endpoint UUID is derived from the peer id, so Windows sees the same device
across restarts. Loopback interfaces are never used: no Windows PC can be
there, and a test setup that confines discovery to ``lo`` must not make this
service reach out on the machine's real interfaces instead; such a setup leaves
it running idle, saying why in ``details()``.

Everything received is hostile: oversized datagrams, off-subnet senders,
malformed SOAP and repeated message ids are dropped and counted; replies are
rate-limited and their number in flight bounded, so the responder cannot be
used to amplify a flood.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from peerwork.config import WSDISCOVERY, Config, DiscoverySection, PeerSection, WsdSection
from peerwork.errors import PeerworkError, describe_failure
from peerwork.netif import Interface, list_interfaces, select_interfaces
from peerwork.proto import wsd
from peerwork.proto.wsd_xml import MAX_XML_BYTES

from .service import EventSink, Service, no_events
from .tasks import BackgroundTasks
from .wsd_sockets import Link, LinkAddress, Source

if TYPE_CHECKING:
    from .context import ServiceContext

log = logging.getLogger(__name__)

TYPES = (wsd.DEVICE, wsd.COMPUTER)
SOAP_XML = "application/soap+xml"
# WS-Discovery §3 APP_MAX_DELAY; SOAP-over-UDP Appendix I repeat counts and delays (s).
APP_MAX_DELAY = 0.5
MULTICAST_REPEAT = 4
UNICAST_REPEAT = 2
UDP_MIN_DELAY, UDP_MAX_DELAY, UDP_UPPER_DELAY = 0.05, 0.25, 0.5
# Replies: a sustained rate and a burst per second, and a cap on those waiting to go.
REPLY_RATE, REPLY_BURST = 20.0, 40.0
MAX_PENDING_REPLIES = 64
STOP_REPEAT_DELAY = 0.05


def endpoint_urn(peer_id: str) -> str:
    """The stable ``urn:uuid:`` Windows knows this PC by."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"peerwork:{peer_id}").urn


class ReplyBudget:
    """A token bucket: ``take(now)`` says whether one more reply may go."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.at = burst, 0.0

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class WsdService(Service):
    name = "wsdiscovery"
    section = WSDISCOVERY

    @classmethod
    def disabled_reason(cls, settings: Any, config: Config) -> str:
        if not config.discovery.enabled:
            return "off with discovery ([discovery] enabled = false)"
        return super().disabled_reason(settings, config)

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> WsdService:
        return cls(
            peer_id=ctx.identity.peer_id,
            peer=ctx.peer,
            discovery=ctx.config.discovery,
            settings=ctx.settings,
            emit=ctx.emit,
        )

    def __init__(
        self,
        *,
        peer_id: str,
        peer: PeerSection,
        discovery: DiscoverySection,
        settings: WsdSection,
        emit: EventSink = no_events,
        interfaces: Callable[[], Sequence[Interface]] = list_interfaces,
        monotonic: Callable[[], float] = time.monotonic,
        max_delay: float = APP_MAX_DELAY,
    ) -> None:
        super().__init__(emit)
        self._peer = peer
        self._discovery = discovery
        self._settings = settings
        self._list_interfaces = interfaces
        self._monotonic = monotonic
        self._max_delay = max_delay
        self.endpoint = endpoint_urn(peer_id)
        self._uuid = self.endpoint.removeprefix("urn:uuid:")
        self._links: dict[LinkAddress, Link] = {}
        self._sites: dict[LinkAddress, web.TCPSite] = {}
        self._problems: dict[LinkAddress, str] = {}  # addresses that could not be used yet
        self._runner: web.AppRunner | None = None
        self._http_port = 0
        self._idle = ""
        self._instance_id = 0
        self._message_number = 0
        self._recent = wsd.RecentIds()
        self._budget = ReplyBudget(REPLY_RATE, REPLY_BURST)
        self._pending = 0
        self._tasks = BackgroundTasks("wsdiscovery")
        self._watcher: asyncio.Task[None] | None = None
        self.counters = dict.fromkeys(
            ("received", "answered", "bad", "oversized", "off_link", "duplicate", "limited", "get"),
            0,
        )

    # -- status ----------------------------------------------------------------------------
    def ports(self) -> dict[str, int]:
        if not self._links:
            return {}
        return {"wsd": self._settings.port, "wsd-http": self._http_port}

    def details(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "computer": self._computer(),
            "interfaces": [
                {"name": w.ifname, f"ipv{w.address.version}": str(w.address.ip)}
                for w in self._links
            ],
            "problems": {f"{w.ifname} {w.address.ip}": why for w, why in self._problems.items()},
            "idle": self._idle,
            "counters": dict(self.counters),
        }

    def summary(self) -> str:
        if self._idle:
            return f"idle: {self._idle}"
        names = sorted({w.ifname for w in self._links})
        return f"answers on {', '.join(names)} as {self._computer()}"

    def notes(self) -> list[str]:
        return [f"{w.ifname} {w.address.ip}: {why}" for w, why in self._problems.items()]

    def _computer(self) -> str:
        return f"{self._peer.name}/Workgroup:{self._peer.workgroup}"

    # -- lifecycle -------------------------------------------------------------------------
    def _wanted(self) -> list[LinkAddress]:
        sel = select_interfaces(self._list_interfaces(), self._discovery.interfaces)
        wanted = []
        for iface in sel.chosen:
            if iface.loopback:
                continue
            wanted += [LinkAddress(iface.name, iface.index, a) for a in iface.usable_ipv4]
            # IPv6: the link-local address only, as Windows and wsdd use it.
            local = next((a for a in iface.ipv6 if a.ip.is_link_local), None)
            if self._settings.ipv6 and local is not None:
                wanted.append(LinkAddress(iface.name, iface.index, local))
        return wanted

    async def _start(self) -> None:
        self._instance_id = int(time.time()) % 2**32  # a new instance per start (§7)
        app = web.Application(client_max_size=MAX_XML_BYTES)
        app.router.add_post(f"/{self._uuid}", self._http_get)
        # Windows and wsdd fetch metadata once and close; an idle connection is let go soon.
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, keepalive_timeout=5
        )
        await self._runner.setup()
        self._http_port = self._settings.http_port
        try:
            await self._sync(self._wanted(), starting=True)
        except BaseException:
            await self._close(bye=False)
            raise

    async def start(self) -> None:
        await super().start()
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch_addresses(), name="wsd-addresses")

    async def _sync(self, wanted: list[LinkAddress], why: str = "", starting: bool = False) -> None:
        """Close the links whose address went (Bye first), open the new ones (Hello)."""
        self._problems = {w: why for w, why in self._problems.items() if w in wanted}
        gone = [link for where, link in self._links.items() if where not in wanted]
        if gone:
            await self._bye(gone)
        for link in gone:
            await self._drop(link.where)
        for where in wanted:
            if where in self._links:
                continue
            try:
                await self._open_link(where)
            except OSError as exc:
                # IPv4 at start: the service fails and says why (port taken). Later, or for
                # an IPv6 address still in duplicate address detection: try again next check.
                if starting and not where.v6:
                    raise
                problem = describe_failure(exc)
                if self._problems.get(where) != problem:  # once, not at every retry
                    log.warning(
                        "wsdiscovery: cannot use %s %s yet: %s",
                        where.ifname,
                        where.address.ip,
                        problem,
                    )
                self._problems[where] = problem
        idle = ""
        if not self._links:
            if self._problems:
                idle = "no address usable yet (see problems)"
            else:
                idle = why or (
                    "discovery uses only loopback here; WS-Discovery needs a LAN interface "
                    "([discovery] interfaces)"
                )
        if idle and idle != self._idle:
            log.info("wsdiscovery: idle: %s", idle)
        self._idle = idle

    async def _open_link(self, where: LinkAddress) -> None:
        assert self._runner is not None
        site = web.TCPSite(self._runner, where.bind_host, self._http_port)
        try:
            await site.start()
            if self._http_port == 0:
                # The first bind picks the port; later ones share it, so one number serves
                # every XAddr.
                self._http_port = int(self._runner.addresses[0][1])
            link = Link(where, self._settings.port)
            await link.open(self._receive)
        except BaseException:
            with contextlib.suppress(Exception):
                await site.stop()  # also unregisters a site that never started
            raise
        self._links[where] = link
        self._sites[where] = site
        self._problems.pop(where, None)
        hello = wsd.Hello(wsd.Target(self.endpoint, TYPES, (self._xaddr(link),)))
        data = self._pack(hello, to=wsd.DISCOVERY_URN)
        self._tasks.spawn(self._repeat(link, data, None, MULTICAST_REPEAT), "hello")
        log.info(
            "wsdiscovery: %s as %s on %s %s (http %d)",
            self._computer(),
            self.endpoint,
            where.ifname,
            where.address.ip,
            self._http_port,
        )

    async def _drop(self, where: LinkAddress) -> None:
        link = self._links.pop(where, None)
        if link is not None:
            link.close()
        site = self._sites.pop(where, None)
        if site is not None:
            with contextlib.suppress(Exception):
                await site.stop()

    async def _bye(self, links: list[Link]) -> None:
        data = self._pack(wsd.Bye(self.endpoint), to=wsd.DISCOVERY_URN)
        for _ in range(2):  # a lost Bye leaves us listed until Windows gives up
            for link in links:
                link.send(data)
            await asyncio.sleep(STOP_REPEAT_DELAY)

    async def _stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        await self._close(bye=True)

    async def _close(self, *, bye: bool) -> None:
        await self._tasks.close()
        if bye and self._links:
            await self._bye(list(self._links.values()))
        for where in list(self._links):
            await self._drop(where)
        self._problems.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _watch_addresses(self) -> None:
        """Say Hello from a new address after a DHCP renewal or a moved cable (Bye from
        the old one), and retry addresses that could not be used yet."""
        while True:
            await asyncio.sleep(self._discovery.address_check)
            why = ""
            try:
                wanted = self._wanted()
            except PeerworkError as exc:
                wanted, why = [], exc.message
            if set(wanted) == set(self._links) and not self._problems:
                continue
            before = set(self._links)
            await self._sync(wanted, why)
            if set(self._links) != before:
                log.info("wsdiscovery: addresses changed")
                self.emit("service", self.status().to_json())

    # -- sending ---------------------------------------------------------------------------
    def _xaddr(self, link: Link) -> str:
        return f"http://{link.where.url_host}:{self._http_port}/{self._uuid}"

    def _header(self, to: str, relates_to: str = "") -> wsd.Header:
        self._message_number = (self._message_number + 1) % 2**32
        return wsd.Header(
            message_id=uuid.uuid4().urn,
            to=to,
            relates_to=relates_to,
            app_sequence=wsd.AppSequence(self._instance_id, self._message_number),
        )

    def _pack(self, body: wsd.Body, *, to: str, relates_to: str = "") -> bytes:
        return wsd.pack(wsd.Message(self._header(to, relates_to), body))

    async def _repeat(self, link: Link, data: bytes, dest: Source | None, count: int) -> None:
        delay = random.uniform(UDP_MIN_DELAY, UDP_MAX_DELAY)
        for i in range(count):
            if i:
                await asyncio.sleep(delay)
                delay = min(delay * 2, UDP_UPPER_DELAY)
            link.send(data, dest)

    async def _reply_later(self, link: Link, data: bytes, dest: Source) -> None:
        try:
            await asyncio.sleep(random.uniform(0, self._max_delay))
            await self._repeat(link, data, dest, UNICAST_REPEAT)
        finally:
            self._pending -= 1

    # -- receiving -------------------------------------------------------------------------
    def _receive(self, data: bytes, source: Source, link: Link) -> None:
        count = self.counters
        count["received"] += 1
        if len(data) > MAX_XML_BYTES:
            count["oversized"] += 1
            return
        if not link.on_link(str(source[0])):
            count["off_link"] += 1
            return
        try:
            msg = wsd.parse(data)
        except wsd.WsdError as exc:
            count["bad"] += 1
            log.debug("wsdiscovery: dropped a datagram from %s: %s", source[0], exc.message)
            return
        if self._recent.seen(msg.header.message_id):
            count["duplicate"] += 1
            return
        reply = self._answer(msg, link)
        if reply is None:
            return
        if self._pending >= MAX_PENDING_REPLIES or not self._budget.take(self._monotonic()):
            count["limited"] += 1
            return
        count["answered"] += 1
        self._pending += 1
        self._tasks.spawn(self._reply_later(link, reply, source), "reply")

    def _answer(self, msg: wsd.Message, link: Link) -> bytes | None:
        body, asked = msg.body, msg.header.message_id
        if isinstance(body, wsd.Probe) and wsd.probe_matches(body, TYPES):
            match = wsd.Target(self.endpoint, TYPES)
            return self._pack(wsd.ProbeMatches((match,)), to=wsd.ANONYMOUS, relates_to=asked)
        if isinstance(body, wsd.Resolve) and body.endpoint == self.endpoint:
            match = wsd.Target(self.endpoint, TYPES, (self._xaddr(link),))
            return self._pack(wsd.ResolveMatches(match), to=wsd.ANONYMOUS, relates_to=asked)
        return None  # other targets' Hello/Bye, other clients' matches: not for us

    async def _http_get(self, request: web.Request) -> web.Response:
        if not request.content_type.startswith(SOAP_XML):
            return web.Response(status=415, text=f"expected {SOAP_XML}\n")
        try:
            msg = wsd.parse(await request.read())
        except wsd.WsdError as exc:
            return web.Response(status=400, text=exc.message + "\n")
        if not isinstance(msg.body, wsd.Get) or msg.header.to not in ("", self.endpoint):
            return web.Response(status=400, text="only a Get for this endpoint is served\n")
        self.counters["get"] += 1
        metadata = wsd.DeviceMetadata(
            endpoint=self.endpoint, computer=self._computer(), friendly_name=self._peer.name
        )
        response = wsd.Message(
            wsd.Header(uuid.uuid4().urn, to=wsd.ANONYMOUS, relates_to=msg.header.message_id),
            wsd.GetResponse(metadata),
        )
        return web.Response(body=wsd.pack(response), content_type=SOAP_XML)
