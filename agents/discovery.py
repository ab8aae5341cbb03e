"""Discovery: announce this PC over mDNS and keep a live table of the workgroup's peers.

Announced (all on host ``<NAME>.local.`` with the chosen interfaces' own IPv4
addresses, never loopback or container bridges unless configured):

- ``<NAME>._peerwork._tcp`` with the signed TXT of :mod:`peerwork.proto.peer_record`:
  the roles, ports and extra keys every service put on the :class:`AdvertBoard`,
  the addresses announced and a sequence number, re-signed on every change;
- every service's own DNS-SD records from the board (``_smb._tcp`` comes from
  the file service; discovery knows no service by name);
- ``<NAME>._device-info._tcp`` with ``model=MacSamba``: the value Samba's
  ``fruit:model`` default announces, so Finder draws a generic file server
  rather than pretending to be Apple hardware (``Xserve``).

The name is probed first (RFC 6762 §8). If another PC answers for it and this
PC has never held the name, we become ``NAME-2`` and so on, as mDNS does, and
say so in ``details()`` and a ``name-conflict`` event. If this PC held the name
before (it is pinned to our own key), whoever else answers for it is an
impostor: we keep the name, warn (``peer-impostor``, ``details()``) and
announce again so caches hold our record; an impostor never renames us. The
signature covers the instance name, so records are signed after the probe.

Browsing ``_peerwork._tcp``: each added or updated instance is resolved, its
signature checked (:func:`peerwork.identity.record_problem`) and judged
(:mod:`peerwork.peer_trust`: pinned keys, sequence numbers, signed addresses)
into the :class:`PeerTable`. ``peers()`` lists the PCs that claim our
workgroup, verified or not, and impostors of known names (without addresses);
PCs of other workgroups are kept apart in ``neighbours()`` and raise no events.

IPv4 only for now: announcing IPv6 link-local addresses is the classic source
of unreachable peers (see FIELD-NOTES), and every LAN here has IPv4.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from zeroconf import IPVersion, NonUniqueNameException, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from peerwork.config import DISCOVERY, DiscoverySection, PeerSection
from peerwork.errors import NotFound, PeerworkError, ServiceError, describe_failure
from peerwork.identity import Identity, record_problem
from peerwork.netif import Interface, Selection, list_interfaces, select_interfaces
from peerwork.peer_trust import PeerPins, Trust
from peerwork.proto.peer_record import (
    SERVICE_TYPE,
    PeerRecordError,
    decode_txt_rdata,
    parse_txt,
)
from peerwork.workgroup import Standing

from .adverts import AdvertBoard
from .control_input import json_body, text_field
from .membership import MembershipView
from .own_records import RecordSigner, record_infos
from .peer_table import PeerInfo, PeerTable
from .record_seq import SequenceCounter
from .service import EventSink, Route, Service, ServiceState, no_events
from .tasks import BackgroundTasks

if TYPE_CHECKING:
    from .context import ServiceContext

__all__ = ["DiscoveryService", "PeerInfo"]

log = logging.getLogger(__name__)

DEVICE_INFO_TYPE = "_device-info._tcp.local."
DEVICE_MODEL = "MacSamba"
# SPEC §3: a crashed peer vanishes within ~2 minutes, so every record lives 120 s
# (zeroconf re-asks at 80% of that, RFC 6762 §5.2).
RECORD_TTL = 120
RESOLVE_TIMEOUT_MS = 1500
RESOLVE_ATTEMPTS = 3
MDNS_PORT = 5353
# RFC 6762 10.2 keeps flushed records for one second; look again just after.
CACHE_FLUSH_SETTLE = 1.2
# Re-announce at most this often (s) when an impostor answers for our name.
REASSERT_INTERVAL = 1.0
_TYPE_TXT = 16
_CLASS_IN = 1


class DiscoveryService(Service):
    name = "discovery"
    section = DISCOVERY

    def __init__(
        self,
        *,
        identity: Identity,
        peer: PeerSection,
        settings: DiscoverySection,
        board: AdvertBoard,
        state_dir: Path | None = None,
        emit: EventSink = no_events,
        interfaces: Callable[[], Sequence[Interface]] = list_interfaces,
        clock: Callable[[], float] = time.time,
        membership: MembershipView | None = None,
    ) -> None:
        """``state_dir``: where pinned peer keys and our sequence number are kept
        (None: in memory only, for tools and tests). ``membership``: judges
        whether a peer of our workgroup is a member (None: nobody is judged)."""
        super().__init__(emit)
        self._identity = identity
        self._peer = peer
        self._settings = settings
        self._board = board
        self._list_interfaces = interfaces
        self._clock = clock
        self._pins = PeerPins(state_dir)
        self._signer = RecordSigner(identity, peer.workgroup, SequenceCounter(state_dir, clock))
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._selection: Selection | None = None
        self._instance = peer.name
        self._conflict = ""
        self._impostors_of_us: dict[str, str] = {}  # claimed peer id -> message
        self._infos: dict[str, AsyncServiceInfo] = {}  # by lower-case full service name
        self._table = PeerTable(self._pins, identity.peer_id, clock, self._judge_member)
        self._membership = membership
        if membership is not None:
            membership.subscribe(self._membership_changed)
        self._tasks = BackgroundTasks("discovery")  # resolves of peers' records, refreshes
        self._lock = asyncio.Lock()
        self._watcher: asyncio.Task[None] | None = None
        self._last_reassert = 0.0
        board.subscribe(self._board_changed)

    async def apply(self, settings: Any) -> bool:
        """``address_check`` applies live (the address watch reads it every round);
        any other change needs a restart (the interfaces are chosen at start)."""
        if not isinstance(settings, DiscoverySection):
            return False
        if replace(settings, address_check=self._settings.address_check) != self._settings:
            return False
        self._settings = settings
        return True

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> DiscoveryService:
        return cls(
            identity=ctx.identity,
            peer=ctx.peer,
            settings=ctx.settings,
            board=ctx.board,
            state_dir=ctx.paths.discovery,
            emit=ctx.emit,
            membership=ctx.membership,
        )

    def _judge_member(self, peer: PeerInfo) -> Standing | None:
        if self._membership is None:
            return None
        return self._membership.judge(
            peer_id=peer.peer_id,
            name=peer.name,
            workgroup=peer.workgroup,
            cert_text=peer.certificate,
        )

    def _membership_changed(self) -> None:
        self._emit_all(self._table.rejudge())

    # -- public API ------------------------------------------------------------------------
    def peers(self) -> list[PeerInfo]:
        """PCs claiming our workgroup (verified or not) and impostors, excluding ourselves."""
        wg = self._peer.workgroup.upper()
        return [
            p
            for p in self._table.entries()
            if p.workgroup.upper() == wg or p.trust is Trust.IMPOSTOR
        ]

    def neighbours(self) -> list[PeerInfo]:
        """peerwork PCs of other workgroups on the same LAN."""
        wg = self._peer.workgroup.upper()
        return [
            p
            for p in self._table.entries()
            if p.workgroup.upper() != wg and p.trust is not Trust.IMPOSTOR
        ]

    @property
    def announced_as(self) -> str:
        return self._instance

    async def refresh(self) -> None:
        """Re-announce after an advert changed (the board calls this itself)."""
        if self._zc is None or self.state is not ServiceState.RUNNING:
            return  # a (re)start publishes the current adverts anyway
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

    def warnings(self) -> list[str]:
        impostors = [p for p in self._table.entries() if p.trust is Trust.IMPOSTOR]
        return [*self._impostors_of_us.values(), *(p.problem for p in impostors)]

    def details(self) -> dict[str, Any]:
        sel = self._selection
        impostors = [p for p in self._table.entries() if p.trust is Trust.IMPOSTOR]
        return {
            "announced_as": self._instance,
            "conflict": self._conflict,
            "seq": self._signer.seq,
            "interfaces": [
                {"name": i.name, "ipv4": [str(a.ip) for a in i.usable_ipv4]}
                for i in (sel.chosen if sel else ())
            ],
            "skipped_interfaces": {n: r for n, r in (sel.skipped if sel else ())},
            "peers": len([p for p in self.peers() if p.trust is not Trust.IMPOSTOR]),
            "neighbours": len(self.neighbours()),
            "impostors": sorted({p.name for p in impostors}),
            "advert_problems": dict(self._signer.problems),
            "warnings": self.warnings(),
        }

    def forget_peer(self, name: str) -> bool:
        """Unpin ``name`` (a PC that really got a new key); True if it was pinned.

        What was heard under that name is dropped and asked for again, so the PC's
        current record is pinned afresh within a resolve, not at its next change."""
        if not self._pins.forget(name):
            return False
        log.warning("discovery: forgot the key pinned for %s (asked to)", name)
        self._emit_all(self._table.drop(name))
        if self._zc is not None:
            self._tasks.spawn(self._resolve(name, f"{name}.{SERVICE_TYPE}"), f"re-resolve {name}")
        return True

    def routes(self) -> Sequence[Route]:
        async def forget(request: web.Request) -> web.Response:
            name = text_field(await json_body(request), "name")
            if not self.forget_peer(name):
                raise NotFound(f"no key is pinned for {name!r}")
            return web.json_response({"name": name, "forgotten": True})

        return [Route("POST", "/forget", forget)]

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
        await self.refresh()  # an advert that changed while we were starting
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch_addresses(), name="discovery-addresses")

    async def _stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        await self._shutdown()

    def _board_changed(self) -> None:
        if self._zc is None or self.state is not ServiceState.RUNNING:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop: nothing is announced either
        self._tasks.spawn(self.refresh(), "advert changed")

    async def _watch_addresses(self) -> None:
        """Re-announce when the chosen interfaces' addresses change; recover when they return."""
        while True:
            await asyncio.sleep(self._settings.address_check)
            self._pins.flush()
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
        self._pins.flush()
        if self._browser is not None:
            await self._browser.async_cancel()
            self._browser = None
        if self._zc is not None:
            with contextlib.suppress(Exception):
                await self._zc.async_unregister_all_services()  # goodbye packets
            await self._zc.async_close()
            self._zc = None
        self._infos.clear()
        self._signer.forget()
        self._table.clear()

    # -- announcing ------------------------------------------------------------------------
    async def _claim_name(self) -> None:
        assert self._zc is not None
        wanted = self._peer.name
        own_id = self._identity.peer_id
        probe = AsyncServiceInfo(
            SERVICE_TYPE, f"{wanted}.{SERVICE_TYPE}", port=0, server=f"{wanted}.local."
        )
        try:
            await self._zc.zeroconf.async_check_service(probe, allow_name_change=False)
        except NonUniqueNameException:
            if self._pins.owner(wanted) == own_id:
                self._instance = wanted
                self._impostor_of_us("", "answered the name probe")
                return
            await self._zc.zeroconf.async_check_service(probe, allow_name_change=True)
        self._instance = probe.name[: -len(SERVICE_TYPE) - 1]
        self._conflict = ""
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

    def _impostor_of_us(self, peer_id: str, how: str) -> None:
        """Another PC answers for our name: warn once per claimed key, never rename."""
        if peer_id in self._impostors_of_us:
            return
        message = (
            f"another PC {how} for this PC's name {self._instance}"
            + (f" with a different key ({peer_id})" if peer_id else "")
            + "; it is an impostor or a misconfigured PC: this PC keeps its name"
        )
        self._impostors_of_us[peer_id] = message
        log.warning("discovery: %s", message)
        self.emit(
            "peer-impostor",
            {"name": self._instance, "peer_id": peer_id, "ours": True, "problem": message},
        )

    def _peer_txt(self, addrs: list[str]) -> dict[str, str | None]:
        return self._signer.peer_txt(self._instance, addrs, self._board)

    def _build_infos(self) -> dict[str, AsyncServiceInfo]:
        assert self._selection is not None
        server = f"{self._instance}.local."
        addrs = list(self._selection.ipv4_addresses)

        def info(
            type_: str, port: int, txt: dict[str, str | None], instance: str | None = None
        ) -> AsyncServiceInfo:
            return AsyncServiceInfo(
                type_,
                f"{instance or self._instance}.{type_}",
                port=port,
                properties=txt,
                server=server,
                host_ttl=RECORD_TTL,
                other_ttl=RECORD_TTL,
                parsed_addresses=addrs,
            )

        infos = [
            # SRV port of _peerwork is the peer channel's, when a service announces one.
            info(SERVICE_TYPE, self._board.ports().get("ctl", 0), self._peer_txt(addrs)),
            info(DEVICE_INFO_TYPE, 0, {"model": DEVICE_MODEL}),
        ]
        for service, advert in self._board.adverts().items():
            for record in advert.records:
                try:
                    infos.extend(record_infos(record, info))
                except Exception as exc:  # a bad advert must not stop the others
                    self._signer.problems[service] = f"{record.service_type}: {exc}"
                    log.warning(
                        "discovery: %s's %s record is unusable: %s",
                        service,
                        record.service_type,
                        exc,
                    )
        out: dict[str, AsyncServiceInfo] = {}
        for item in infos:
            out.setdefault(item.key, item)
        return out

    async def _publish(self, *, update: bool) -> None:
        assert self._zc is not None
        new = self._build_infos()
        pending = []
        withdrawn: set[str] = set()
        for key, old in list(self._infos.items()):
            if key not in new or new[key].type != old.type:
                pending.append(await self._zc.async_unregister_service(old))
                withdrawn.add(old.name.lower())
                del self._infos[key]
        for key, info in new.items():
            old_info = self._infos.get(key)
            if old_info is None:
                # The name was probed in _claim_name; don't probe it three more times.
                pending.append(
                    await self._zc.async_register_service(info, cooperating_responders=True)
                )
            elif (update and _differs(old_info, info)) or info.name.lower() in withdrawn:
                # A withdrawn subtype's goodbye also covered the instance's SRV and TXT.
                pending.append(await self._zc.async_update_service(info))
            else:
                continue
            self._infos[key] = info
        del pending  # announcements continue in the background (zeroconf's tasks)
        self._pins.remember(self._instance, self._signer.announcement(self._instance))

    async def _reassert(self) -> None:
        """An impostor's records are in peers' caches: announce ours again (cache-flush)."""
        now = self._clock()
        if self._zc is None or now - self._last_reassert < REASSERT_INTERVAL:
            return
        self._last_reassert = now
        async with self._lock:
            own = self._infos.get(f"{self._instance}.{SERVICE_TYPE}".lower())
            if self._zc is not None and own is not None:
                await self._zc.async_update_service(own)

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
        if name.lower() in self._infos:
            # Our own name: nobody else may answer for it.
            if state_change is not ServiceStateChange.Removed:
                self._tasks.spawn(self._check_own_name(name), "check own name")
            return
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
        addresses = self._order(info.parsed_addresses(IPVersion.V4Only))
        self._emit_all(self._table.receive(instance, record, record_problem(record), addresses))

    async def _check_own_name(self, name: str) -> None:
        """Look at every TXT record cached under our own name: any not ours is an impostor's."""
        zc = self._zc
        if zc is None:
            return
        await asyncio.sleep(0)
        foreign = False
        for rec in zc.zeroconf.cache.async_all_by_details(name, _TYPE_TXT, _CLASS_IN):
            try:
                txt = decode_txt_rdata(getattr(rec, "text", b""))
            except PeerRecordError:
                txt = {}
            record = parse_txt(self._instance, txt)
            if record.announcement.peer_id == self._identity.peer_id and not record_problem(record):
                continue
            foreign = True
            self._impostor_of_us(record.announcement.peer_id, "announces itself")
        if foreign:
            await self._reassert()

    def _drop(self, instance: str) -> None:
        self._emit_all(self._table.drop(instance))

    def _emit_all(self, events: list[tuple[str, dict[str, object]]]) -> None:
        wg = self._peer.workgroup.upper()
        for kind, payload in events:
            ours = str(payload.get("workgroup", "")).upper() == wg
            if ours or kind in ("peer-impostor", "peer-rejected"):
                self.emit(kind, dict(payload))

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
