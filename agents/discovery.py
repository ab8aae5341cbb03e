"""Discovery: announce this PC over mDNS and keep a live table of the workgroup's peers.

Announced (all on host ``<NAME>.local.`` with the chosen interfaces' own IPv4
addresses, never loopback or container bridges unless configured):

- ``<NAME>._peerwork._tcp`` with the signed TXT of :mod:`peerwork.proto.peer_record`;
- ``<NAME>._smb._tcp`` on the SMB port, one per host as Samba does (what Finder
  and GNOME Files browse), only while the file service has a port;
- ``<NAME>._device-info._tcp`` with ``model=MacSamba``: the value Samba's
  ``fruit:model`` default announces, so Finder draws a generic file server
  rather than pretending to be Apple hardware (``Xserve``).

The name is probed first (RFC 6762 §8, zeroconf's ``allow_name_change``); if
another PC holds it we become ``NAME-2`` and so on, and say so in
``details()`` and a ``name-conflict`` event. The signature covers the instance
name, so the records are built and signed only after probing settles it.

Browsing ``_peerwork._tcp``: each added or updated instance is resolved and its
record verified. ``peers()`` lists the PCs that claim our workgroup, verified
or not (an unverified one is an impostor or a broken peer and is shown as such,
never hidden); PCs of other workgroups are kept apart in ``neighbours()`` and
raise no events. Our own records are ignored. Addresses are ordered so that
those on a subnet of our chosen interfaces come first.

IPv4 only for now: announcing IPv6 link-local addresses is the classic source
of unreachable peers (see FIELD-NOTES), and every LAN here has IPv4.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from peerwork import PROTOCOL_VERSION
from peerwork.config import Config, DiscoverySection, PeerSection
from peerwork.errors import PeerworkError, ServiceError, describe_failure
from peerwork.identity import Identity
from peerwork.netif import Interface, Selection, list_interfaces, select_interfaces
from peerwork.proto.peer_record import SERVICE_TYPE, PeerAnnouncement, build_txt, parse_txt
from peerwork.shares import Share

from .service import EventSink, Service, ServiceState, no_events
from .tasks import BackgroundTasks

if TYPE_CHECKING:
    from .context import ServiceContext

log = logging.getLogger(__name__)

SMB_TYPE = "_smb._tcp.local."
DEVICE_INFO_TYPE = "_device-info._tcp.local."
DEVICE_MODEL = "MacSamba"
# SPEC §3: a crashed peer vanishes within ~2 minutes, so every record lives 120 s
# (zeroconf re-asks at 80% of that, RFC 6762 §5.2).
RECORD_TTL = 120
RESOLVE_TIMEOUT_MS = 1500
RESOLVE_ATTEMPTS = 3
MDNS_PORT = 5353
# A LAN of 1-25 PCs; the bound keeps a flood of fake instances from growing memory.
MAX_PEERS = 512
# RFC 6762 10.2 keeps flushed records for one second; look again just after.
CACHE_FLUSH_SETTLE = 1.2


@dataclass(frozen=True, slots=True)
class PeerInfo:
    name: str
    peer_id: str
    workgroup: str
    addresses: tuple[str, ...]
    smb_port: int | None
    roles: tuple[str, ...]
    shares: tuple[str, ...]
    verified: bool
    version: int
    last_seen: float
    problem: str = ""  # why it is unverified
    shares_truncated: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "peer_id": self.peer_id,
            "workgroup": self.workgroup,
            "addresses": list(self.addresses),
            "smb_port": self.smb_port,
            "roles": list(self.roles),
            "shares": list(self.shares),
            "shares_truncated": self.shares_truncated,
            "verified": self.verified,
            "problem": self.problem,
            "version": self.version,
            "last_seen": self.last_seen,
        }

    def same_as(self, other: PeerInfo) -> bool:
        """Equal apart from when it was last seen."""
        return self.to_json() | {"last_seen": 0} == other.to_json() | {"last_seen": 0}


class DiscoveryService(Service):
    name = "discovery"

    def __init__(
        self,
        *,
        identity: Identity,
        peer: PeerSection,
        settings: DiscoverySection,
        roles: Callable[[], list[str]],
        smb_port: Callable[[], int | None],
        shares: Callable[[], list[Share]],
        emit: EventSink = no_events,
        interfaces: Callable[[], Sequence[Interface]] = list_interfaces,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(emit)
        self._identity = identity
        self._peer = peer
        self._settings = settings
        self._roles = roles
        self._smb_port = smb_port
        self._shares = shares
        self._list_interfaces = interfaces
        self._clock = clock
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._selection: Selection | None = None
        self._instance = peer.name
        self._conflict = ""
        self._infos: dict[str, AsyncServiceInfo] = {}  # by service type
        self._table: dict[str, PeerInfo] = {}  # by lower-case instance name
        self._tasks = BackgroundTasks("discovery")  # resolves of peers' records
        self._lock = asyncio.Lock()
        self._watcher: asyncio.Task[None] | None = None

    @classmethod
    def read_settings(cls, config: Config, raw: Mapping[str, Any]) -> DiscoverySection:
        return config.discovery

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> DiscoveryService:
        board = ctx.board
        service = cls(
            identity=ctx.identity,
            peer=ctx.peer,
            settings=ctx.settings,
            roles=board.roles,
            smb_port=lambda: board.ports().get("smb"),
            shares=ctx.shares.all,
            emit=ctx.emit,
        )

        def advert_changed() -> None:
            # Any service's advert changing (a late file service, its port) re-announces.
            ctx.tasks.spawn(service.refresh(), "discovery-refresh")

        board.subscribe(advert_changed)
        return service

    # -- public API ------------------------------------------------------------------------
    def peers(self) -> list[PeerInfo]:
        """PCs claiming our workgroup (verified or not), excluding ourselves, by name."""
        wg = self._peer.workgroup.upper()
        return sorted(
            (p for p in self._table.values() if p.workgroup.upper() == wg), key=lambda p: p.name
        )

    def neighbours(self) -> list[PeerInfo]:
        """peerwork PCs of other workgroups on the same LAN."""
        wg = self._peer.workgroup.upper()
        return sorted(
            (p for p in self._table.values() if p.workgroup.upper() != wg), key=lambda p: p.name
        )

    @property
    def announced_as(self) -> str:
        return self._instance

    async def refresh(self) -> None:
        """Re-announce after shares, roles or the SMB port changed."""
        if self._zc is None or self.state is not ServiceState.RUNNING:
            return  # a (re)start publishes the current shares, roles and port anyway
        async with self._lock:
            if self._zc is not None:
                await self._publish(update=True)

    def ports(self) -> dict[str, int]:
        return {"mdns": MDNS_PORT}

    def summary(self) -> str:
        names = ",".join(i.name for i in (self._selection.chosen if self._selection else ()))
        return f"on {names or '-'} as {self._instance}"

    def notes(self) -> list[str]:
        return [f"name conflict: {self._conflict}"] if self._conflict else []

    def details(self) -> dict[str, Any]:
        sel = self._selection
        return {
            "announced_as": self._instance,
            "conflict": self._conflict,
            "interfaces": [
                {"name": i.name, "ipv4": [str(a.ip) for a in i.usable_ipv4]}
                for i in (sel.chosen if sel else ())
            ],
            "skipped_interfaces": {n: r for n, r in (sel.skipped if sel else ())},
            "peers": len(self.peers()),
            "neighbours": len(self.neighbours()),
        }

    # -- lifecycle -------------------------------------------------------------------------
    async def _start(self) -> None:
        self._selection = select_interfaces(self._list_interfaces(), self._settings.interfaces)
        addresses = list(self._selection.ipv4_addresses)
        try:
            self._zc = AsyncZeroconf(interfaces=addresses, ip_version=IPVersion.V4Only)
        except OSError as exc:
            raise ServiceError(
                f"cannot open mDNS sockets on {', '.join(addresses)} ({exc.strerror or exc}); "
                "check discovery.interfaces in peerwork.toml"
            ) from None
        try:
            # Browse first: its immediate query fills the cache, which is what
            # the name probe below checks for conflicts.
            self._browser = AsyncServiceBrowser(
                self._zc.zeroconf, [SERVICE_TYPE], handlers=[self._on_change]
            )
            await self._claim_name()
            async with self._lock:
                await self._publish(update=False)
        except BaseException:
            await self._shutdown()
            raise

    async def start(self) -> None:
        await super().start()
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch_addresses(), name="discovery-addresses")

    async def _stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        await self._shutdown()

    async def _watch_addresses(self) -> None:
        """Re-announce when the chosen interfaces' addresses change; recover when they return."""
        while True:
            await asyncio.sleep(self._settings.address_check)
            try:
                wanted = select_interfaces(self._list_interfaces(), self._settings.interfaces)
            except PeerworkError as exc:
                wanted, why = None, exc.message
            current = self._selection.ipv4_addresses if self._selection and self._zc else None
            if wanted is not None and wanted.ipv4_addresses == current:
                continue
            if wanted is None and current is None:
                continue
            log.info(
                "discovery: addresses changed (%s -> %s); announcing again",
                ", ".join(current or ("none",)),
                ", ".join(wanted.ipv4_addresses if wanted else ("none",)),
            )
            self.state = ServiceState.STARTING
            async with self._lock:  # no refresh may be publishing while the sockets go
                await self._shutdown()
            # Failed or back: this loop is discovery's retry (it waits for addresses);
            # the state change itself goes the base's one way (event, advert).
            if wanted is None:
                self.set_state(ServiceState.FAILED, why)
                continue
            try:
                await self._start()
            except Exception as exc:
                self.set_state(ServiceState.FAILED, describe_failure(exc))
            else:
                self.set_state(ServiceState.RUNNING, "")

    async def _shutdown(self) -> None:
        await self._tasks.close()
        if self._browser is not None:
            await self._browser.async_cancel()
            self._browser = None
        if self._zc is not None:
            with contextlib.suppress(Exception):
                await self._zc.async_unregister_all_services()  # goodbye packets
            await self._zc.async_close()
            self._zc = None
        self._infos.clear()
        self._table.clear()

    # -- announcing ------------------------------------------------------------------------
    async def _claim_name(self) -> None:
        assert self._zc is not None
        wanted = self._peer.name
        probe = AsyncServiceInfo(
            SERVICE_TYPE, f"{wanted}.{SERVICE_TYPE}", port=0, server=f"{wanted}.local."
        )
        await self._zc.zeroconf.async_check_service(probe, allow_name_change=True)
        self._instance = probe.name[: -len(SERVICE_TYPE) - 1]
        if self._instance.lower() != wanted.lower():
            self._conflict = (
                f"another PC on the LAN is already called {wanted}; this PC is announced as "
                f"{self._instance}. Give it a unique name in peerwork.toml ([peer] name)."
            )
            log.warning("discovery: %s", self._conflict)
            self.emit(
                "name-conflict",
                {"wanted": wanted, "announced_as": self._instance, "message": self._conflict},
            )

    def _build_infos(self) -> dict[str, AsyncServiceInfo]:
        assert self._selection is not None
        server = f"{self._instance}.local."
        addrs = list(self._selection.ipv4_addresses)
        smb = self._smb_port()
        ann = PeerAnnouncement(
            instance=self._instance,
            peer_id=self._identity.peer_id,
            public_key=self._identity.public_raw,
            workgroup=self._peer.workgroup,
            version=PROTOCOL_VERSION,
            roles=tuple(self._roles()),
            smb_port=smb,
            shares=tuple(s.name for s in self._shares()),
        )

        def info(type_: str, port: int, txt: dict[str, str]) -> AsyncServiceInfo:
            return AsyncServiceInfo(
                type_,
                f"{self._instance}.{type_}",
                port=port,
                properties=txt,
                server=server,
                host_ttl=RECORD_TTL,
                other_ttl=RECORD_TTL,
                parsed_addresses=addrs,
            )

        infos = {
            # SRV port of _peerwork is the peer API's; there is none yet (no ``ctl``).
            SERVICE_TYPE: info(SERVICE_TYPE, 0, build_txt(ann, self._identity.sign)),
            DEVICE_INFO_TYPE: info(DEVICE_INFO_TYPE, 0, {"model": DEVICE_MODEL}),
        }
        if smb is not None:
            infos[SMB_TYPE] = info(SMB_TYPE, smb, {})
        return infos

    async def _publish(self, *, update: bool) -> None:
        assert self._zc is not None
        new = self._build_infos()
        pending = []
        for type_, old in list(self._infos.items()):
            if type_ not in new:
                pending.append(await self._zc.async_unregister_service(old))
                del self._infos[type_]
        for type_, info in new.items():
            old_info = self._infos.get(type_)
            if old_info is None:
                # The name was probed in _claim_name; don't probe it three more times.
                pending.append(
                    await self._zc.async_register_service(info, cooperating_responders=True)
                )
            elif update and _differs(old_info, info):
                pending.append(await self._zc.async_update_service(info))
            else:
                continue
            self._infos[type_] = info
        del pending  # announcements continue in the background (zeroconf's tasks)

    # -- browsing --------------------------------------------------------------------------
    def _on_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        del zeroconf, service_type
        if not name.lower().endswith("." + SERVICE_TYPE):
            return
        instance = name[: -len(SERVICE_TYPE) - 1]
        if any(info.key == name.lower() for info in self._infos.values()):
            return  # our own announcement (before we own a name, every name is another's)
        if state_change is ServiceStateChange.Removed:
            self._drop(instance)
            return
        if state_change is ServiceStateChange.Updated:
            job = self._resolve_settled(instance, name)
        else:
            job = self._resolve(instance, name)
        self._tasks.spawn(job, f"resolve {instance}")

    async def _resolve_settled(self, instance: str, name: str) -> None:
        """Resolve now, and again once records the update flushed have expired.

        A peer that moved to a new address could not send a goodbye from the old
        one; its new records carry the cache-flush bit, which expires the old ones
        one second later (RFC 6762 10.2), so the second look drops the stale address.
        """
        await self._resolve(instance, name)
        await asyncio.sleep(CACHE_FLUSH_SETTLE)
        await self._resolve(instance, name)

    async def _resolve(self, instance: str, name: str) -> None:
        zc = self._zc
        if zc is None:
            return
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        found = False
        for _ in range(RESOLVE_ATTEMPTS):  # a lost packet must not hide a peer until its TTL
            try:
                found = await info.async_request(zc.zeroconf, RESOLVE_TIMEOUT_MS)
            except Exception as exc:  # a malformed peer must never take discovery down
                log.warning("discovery: cannot resolve %s: %s", instance, exc)
                return
            if found:
                break
        if not found:
            log.info("discovery: %s did not answer %d resolves", instance, RESOLVE_ATTEMPTS)
            return
        record = parse_txt(instance, info.properties)
        ann = record.announcement
        if record.verified and ann.peer_id == self._identity.peer_id:
            return  # ourselves under an older name
        peer = PeerInfo(
            name=instance,
            peer_id=ann.peer_id,
            workgroup=ann.workgroup,
            addresses=self._order(info.parsed_addresses(IPVersion.V4Only)),
            smb_port=ann.smb_port,
            roles=ann.roles,
            shares=ann.shares,
            verified=record.verified,
            version=ann.version,
            last_seen=self._clock(),
            problem=record.problem,
            shares_truncated=ann.shares_truncated,
        )
        if not record.verified:
            log.warning("discovery: %s is unverified: %s", instance, record.problem)
        key = instance.lower()
        old = self._table.get(key)
        if old is None and len(self._table) >= MAX_PEERS:
            log.warning("discovery: ignoring %s, already %d peers listed", instance, MAX_PEERS)
            return
        self._table[key] = peer
        if old is None:
            self._event("peer-added", peer)
        elif not old.same_as(peer):
            self._event("peer-updated", peer)

    def _drop(self, instance: str) -> None:
        peer = self._table.pop(instance.lower(), None)
        if peer is not None:
            self._event("peer-removed", peer)

    def _event(self, kind: str, peer: PeerInfo) -> None:
        if peer.workgroup.upper() == self._peer.workgroup.upper():
            self.emit(kind, peer.to_json())

    def _order(self, addresses: Sequence[str]) -> tuple[str, ...]:
        """Addresses on one of our subnets first: those are the ones we can reach."""
        nets = [
            a.network for i in (self._selection.chosen if self._selection else ()) for a in i.ipv4
        ]

        def local(addr: str) -> bool:
            ip = ipaddress.ip_address(addr)
            return any(ip in n for n in nets)

        return tuple(sorted(addresses, key=lambda a: not local(a)))


def _differs(a: AsyncServiceInfo, b: AsyncServiceInfo) -> bool:
    return (a.port, a.text, a.addresses) != (b.port, b.text, b.addresses)
