"""The ``gateway`` service: recognise the LAN's gateway, or be it (DHCP, DNS, NAT).

Idle until an uplink and a LAN interface are configured. ``enable`` (the
control route) looks for an existing gateway first — a default route out of
the LAN interface, a DHCP server answering a probe there, a peer with the
``gateway`` role — and stands down if it finds one. Otherwise it applies the
plan (:mod:`peerwork.gateway.plan`) through a journal (:mod:`.apply`), then
serves DHCP and DNS on the LAN. ``disable``, and stopping the agent, undo the
journal; ``gateway/enabled.json`` keeps the wish, so the next start enables
again. While active it re-probes the LAN and reports any other DHCP server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path
from typing import TYPE_CHECKING, Any

from peerwork.atomic import atomic_write_text
from peerwork.config.gateway import GATEWAY, GatewaySection, parse_pool
from peerwork.errors import InvalidInput, ServiceError
from peerwork.gateway.election import PRIORITY_KEY, Candidate, Election, elect
from peerwork.gateway.failover import Move, Verdict, decide
from peerwork.gateway.plan import DEFAULT_LANS, Plan, make_plan
from peerwork.models import Peer
from peerwork.proto.gateway_leases import LEASES

from ..adverts import ServiceAdvert
from ..channel.link import ChannelLink
from ..service import EventSink, Route, Service, no_events
from .apply import Journal, apply_plan, missing_for_enable, undo_steps
from .arp_probe import ArpProber
from .dhcp_leases import LeaseTable, PoolConfig
from .dhcp_server import DhcpServer
from .dns_server import DnsServer
from .dns_zone import Zone, build_zone
from .election_view import armed, candidates, foreign_gateways, member_peers
from .lease_store import LeaseStore
from .observe import default_routes, observe
from .recognise import DhcpServerSeen, interface_mac, probe_dhcp
from .replication import LeasePusher, lease_handler
from .routes import gateway_routes

if TYPE_CHECKING:
    from ..context import ServiceContext

log = logging.getLogger("peerwork.gateway")


class GatewayService(Service):
    name = "gateway"
    section = GATEWAY

    def __init__(
        self,
        *,
        settings: GatewaySection,
        home: Path,
        workgroup: str,
        own_name: str,
        peers: Callable[[], Sequence[Peer]] = list,
        emit: EventSink = no_events,
        own_id: str = "",
        members: Callable[[], Iterable[str]] = tuple,
        link: ChannelLink | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(emit)
        self.settings = settings
        self.folder = home / "gateway"
        self.journal = Journal(self.folder / "applied.json")
        self.wish_path = self.folder / "enabled.json"
        self.store = LeaseStore(home / "leases.json")
        self.domain = settings.domain or f"{workgroup.lower()}.lan"
        self.own_name = own_name
        self.peers = peers
        self.own_id = own_id
        self.members = members  # peer ids the channel accepts: the workgroup's members
        self.default_route = ""  # the last probe's default route out of the LAN, described
        self.mode = "idle"  # idle | standing-down | standby | active
        self.recognised: list[str] = []
        self.found_servers: list[DhcpServerSeen] = []  # the DHCP servers the last probe heard
        self.rogue: dict[str, DhcpServerSeen] = {}
        self.plan: Plan | None = None
        self.dhcp: DhcpServer | None = None
        self.dns: DnsServer | None = None
        self._lock = asyncio.Lock()
        self.link = link
        self.pusher: LeasePusher | None = None
        self._pushing: asyncio.Task[None] | None = None
        self.replicated_leases = 0  # leases the last push from the gateway held
        self.clock = clock
        self.heard: dict[str, float] = {}  # peer id -> its last lease push (clock)
        self.watch_since = 0.0  # when this PC began to stand by (the grace before judging)
        self.foreign: list[str] = []  # recognised gateways that are not peerwork's
        self.verdict: Verdict | None = None
        self.took_over_at: float | None = None  # wall clock of the last takeover
        if link is not None:
            link.handlers.add(LEASES, lease_handler(self._takes_for_gateway, self._keep_leases))

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> GatewayService:
        return cls(
            settings=ctx.settings,
            home=ctx.paths.root,
            workgroup=ctx.peer.workgroup,
            own_name=ctx.peer.name,
            peers=ctx.peers,
            emit=ctx.emit,
            own_id=ctx.identity.peer_id,
            members=lambda: [p.peer_id for p in ctx.channel.peers()],
            link=ctx.channel,
        )

    # -- lifecycle -----------------------------------------------------------------------
    async def _start(self) -> None:
        leftover = await asyncio.to_thread(self.journal.steps)
        if leftover:  # a crash left changes behind: clean slate first
            log.warning("gateway: undoing %d change(s) a previous run left", len(leftover))
            await asyncio.to_thread(undo_steps, leftover)
            self.journal.clear()
        wish = self._wish()
        if wish is not None:
            self.run_supervised(self._enable_quietly(wish), "gateway-enable")

    async def _enable_quietly(self, wanted: GatewaySection) -> None:
        try:
            await self.enable_gateway(wanted)
        except ServiceError as exc:
            log.error("gateway: not enabled again: %s", exc.message)

    async def _stop(self) -> None:
        async with self._lock:
            await self._tear_down()

    # -- the control routes' verbs ---------------------------------------------------------
    def wanted(self, options: dict[str, Any]) -> GatewaySection:
        """The configured section with the command line's options over it."""
        given = {k: v for k, v in options.items() if v not in (None, "")}
        return GATEWAY.finish(replace(self.settings, **given))

    async def make_plan(self, wanted: GatewaySection, *, probe: bool = True) -> Plan:
        found = await self.recognise(wanted) if probe else []
        observed = await asyncio.to_thread(observe)
        return make_plan(wanted, observed, found)

    async def recognise(self, wanted: GatewaySection) -> list[str]:
        """Sentences naming each gateway the LAN already has (empty: none)."""
        found: list[str] = []
        if not wanted.lan:
            return found
        routes = await asyncio.to_thread(default_routes)
        self.default_route = ""
        if wanted.lan in routes:
            self.default_route = (
                f"a default route leaves through {wanted.lan} via {routes[wanted.lan]}"
            )
            found.append(self.default_route)
        if os.geteuid() == 0 and wanted.lan in (await asyncio.to_thread(observe)).interfaces:
            try:
                servers = await probe_dhcp(
                    wanted.lan, interface_mac(wanted.lan), wanted.probe_seconds
                )
            except OSError as exc:
                log.warning("gateway: could not probe DHCP on %s: %s", wanted.lan, exc)
            else:
                found += [s.describe() for s in servers]
                self.found_servers = servers
        self.foreign = foreign_gateways(self.default_route, self.found_servers, self._ours(wanted))
        for peer in self.peers():
            if "gateway" in peer.roles and peer.verified:
                found.append(f"peer {peer.name} is the workgroup's gateway")
        self.recognised = found
        return found

    def _ours(self, wanted: GatewaySection) -> set[str]:
        """Addresses a DHCP server of the workgroup's own gateway may answer from."""
        mine = self._members()
        ours = {a for p in mine for a in p.addresses}
        if any("gateway" in p.roles for p in mine):
            ours.add(str(IPv4Interface(wanted.lan_address or DEFAULT_LANS[0]).ip))
        return ours

    async def enable_gateway(self, wanted: GatewaySection) -> Plan:
        async with self._lock:
            if self.mode == "active":
                raise ServiceError("the gateway is enabled already; disable it first")
            if self.mode != "standby":
                self.watch_since = self.clock()
            plan = await self.make_plan(wanted)
            self.plan = plan
            verdict = self._decide()
            if verdict.move is Move.STAND_BY:
                self._save_wish(wanted)
                self._stand_by(wanted, verdict)
                return plan
            if verdict.move is Move.STAND_DOWN:
                if self.mode != "standing-down":
                    self.run_supervised(self._watch_standing_down(wanted), "gateway-stand-down")
                self.mode = "standing-down"
                self.emit("gateway", {"mode": self.mode, "recognised": self.recognised})
                raise ServiceError(
                    "the LAN has a gateway already, so this PC stands down: "
                    + "; ".join(self.foreign)
                )
            return await self._activate(wanted, plan)

    async def _activate(self, wanted: GatewaySection, plan: Plan) -> Plan:
        """Apply ``plan`` and serve (the lock held)."""
        missing = missing_for_enable(plan)
        if missing:
            raise ServiceError("enable needs " + "; ".join(missing))
        if not plan.ok:
            raise ServiceError("the plan has problems: " + "; ".join(plan.problems))
        await asyncio.to_thread(apply_plan, plan, self.journal)
        try:
            await self._serve(wanted, plan)
        except BaseException:
            await self._tear_down()
            raise
        self._save_wish(wanted)
        was = self.mode
        self.mode = "active"
        self.publish()
        self.emit("gateway", {"mode": self.mode, "plan": plan.to_json()})
        self.run_supervised(self._watch(), "gateway-watch")
        if was != "standby":
            self.run_supervised(self._arbitrate(wanted), "gateway-arbiter")
        return plan

    # -- standing by and taking over ----------------------------------------------------------
    def _decide(self) -> Verdict:
        own = Candidate(self.own_id, self.own_name, self.settings.priority)
        first = self.watch_since + STANDBY_GRACE  # the first push may take a moment
        others = armed(self._members(), lambda p: self.heard.get(p, first), self.clock())
        self.verdict = decide(
            own, self.mode == "active", others, self.clock(), dead_after=DEAD_AFTER,
            foreign=self.foreign,
        )  # fmt: skip
        return self.verdict

    def _members(self) -> list[Peer]:
        return member_peers(self.peers(), self.members(), self.own_id)

    def _stand_by(self, wanted: GatewaySection, verdict: Verdict) -> None:
        was = self.mode
        self.mode = "standby"
        if was != "standby":
            self.watch_since = self.clock()
        self.publish()
        self.emit("gateway", {"mode": self.mode, "following": verdict.reason})
        log.warning("gateway: standing by: %s", verdict.reason)
        if was not in ("standby", "active"):
            self.run_supervised(self._arbitrate(wanted), "gateway-arbiter")

    async def _arbitrate(self, wanted: GatewaySection) -> None:
        """While armed: take over when the gateway goes silent; step aside when two serve."""
        while self.mode in ("standby", "active"):
            await asyncio.sleep(ARBITER_SECONDS)
            async with self._lock:
                if self.mode not in ("standby", "active"):
                    return
                verdict = self._decide()
                if self.mode == "standby" and verdict.move is Move.SERVE:
                    await self._take_over(wanted, verdict)
                elif self.mode == "active" and verdict.move is Move.STAND_BY:
                    log.warning("gateway: stepping aside: %s", verdict.reason)
                    await self._tear_down()
                    self._stand_by(wanted, verdict)

    async def _take_over(self, wanted: GatewaySection, verdict: Verdict) -> None:
        started = self.clock()
        log.warning("gateway: taking over: %s", verdict.reason)
        plan = await self.make_plan(wanted, probe=False)
        self.plan = plan
        try:
            await self._activate(wanted, plan)
        except ServiceError as exc:
            log.error("gateway: could not take over: %s", exc.message)
            return
        self.took_over_at = time.time()
        self.emit("gateway-takeover", {"seconds": round(self.clock() - started, 3)})

    async def disable_gateway(self) -> list[str]:
        """Undo what enable did; returns the undo failures (empty when clean)."""
        async with self._lock:
            failures = await self._tear_down()
            self.wish_path.unlink(missing_ok=True)
            self.mode = "idle"
            self.publish()
            self.emit("gateway", {"mode": self.mode})
            return failures

    async def apply(self, settings: Any) -> bool:
        """Reservations, lease time, pool, upstreams and timers take effect at once (the
        pool only inside the LAN in force); interfaces, addresses, ports and the domain
        need disable/enable (they change what enable did)."""
        assert isinstance(settings, GatewaySection)
        fixed = ("uplink", "lan", "lan_address", "dhcp_port", "dns_port", "domain")
        if self.mode == "active" and any(
            getattr(settings, k) != getattr(self.settings, k) for k in fixed
        ):
            return False
        if self.dhcp is not None and self.plan is not None:
            try:
                pool = self._pool_config(settings, self.plan)
            except InvalidInput as exc:
                log.warning("gateway: not applied: %s", exc.message)
                return False
            self.dhcp.replace_config(pool)
        if self.dns is not None and settings.upstreams:
            self.dns.upstreams = [_host_port(u) for u in settings.upstreams]
        self.settings = settings
        return True

    # -- inside ----------------------------------------------------------------------------
    def _pool_config(self, wanted: GatewaySection, plan: Plan) -> PoolConfig:
        assert plan.lan_address is not None and plan.pool is not None
        address = plan.lan_address
        first, last = parse_pool(wanted.pool) if wanted.pool else plan.pool
        return PoolConfig(
            server=address.ip,
            network=address.network,
            first=first,
            last=last,
            domain=self.domain,
            lease_time=wanted.lease_time,
            reservations=dict(wanted.reservations),
        )

    async def _serve(self, wanted: GatewaySection, plan: Plan) -> None:
        assert plan.lan_address is not None and plan.pool is not None
        address = plan.lan_address
        pool = self._pool_config(wanted, plan)
        prober = ArpProber(plan.lan, address.ip) if wanted.conflict_check else None
        self.dhcp = DhcpServer(
            pool,
            self.store,
            plan.lan,
            port=wanted.dhcp_port,
            prober=prober,
            ignore=(interface_mac(plan.lan),),
            on_change=lambda table: self._leases_changed(),
        )
        await self.dhcp.start()
        upstreams = [_host_port(u) for u in plan.upstreams]
        self.dns = DnsServer(
            self._zone(),
            upstreams,
            bind=str(address.ip),
            port=wanted.dns_port,
            allowed=[address.network],
        )
        await self.dns.start()
        if self.link is not None:
            self.pusher = LeasePusher(self.link, self._standbys, self._lease_table)
            self.pusher.changed()  # the whole table to every standby, at once
            self._pushing = self.run_supervised(self.pusher.run(), "gateway-leases")

    async def _tear_down(self) -> list[str]:
        if self._pushing is not None:
            self._pushing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pushing
            self._pushing = None
        self.pusher = None
        if self.dns is not None:
            await self.dns.stop()
            self.dns = None
        if self.dhcp is not None:
            await self.dhcp.stop()
            self.dhcp = None
        steps = await asyncio.to_thread(self.journal.steps)
        failures = await asyncio.to_thread(undo_steps, steps)
        self.journal.clear()
        if self.mode == "active":
            self.mode = "idle"
        return failures

    def _zone(self) -> Zone:
        assert self.plan is not None and self.plan.lan_address is not None
        address = self.plan.lan_address
        leases = self.dhcp.table.leases.values() if self.dhcp else ()
        peers = {p.name: p.addresses for p in self.peers() if p.verified}
        now = self.dhcp.clock() if self.dhcp else 0.0
        return build_zone(
            self.domain, address.network, address.ip, self.own_name, leases, peers, now
        )

    def _leases_changed(self) -> None:
        self._refresh_zone()
        if self.pusher is not None:
            self.pusher.changed()

    def _lease_table(self) -> LeaseTable:
        return self.dhcp.table if self.dhcp is not None else LeaseTable()

    def _standbys(self) -> list[str]:
        return [p.peer_id for p in self._members() if "gateway-standby" in p.roles]

    def _takes_for_gateway(self, peer_id: str) -> bool:
        """Lease pushes are taken from the elected gateway, or a member announcing the
        gateway role (it may have won a moment before our view caught up); never while
        this PC serves leases of its own."""
        if self.mode == "active" or not peer_id:
            return False
        if self.election().is_gateway(peer_id):
            return True
        return any(p.peer_id == peer_id and "gateway" in p.roles for p in self._members())

    async def _keep_leases(self, peer_id: str, table: LeaseTable) -> None:
        self.heard[peer_id] = self.clock()
        await self.store.save(table)
        self.replicated_leases = len(table.leases)

    def _refresh_zone(self) -> None:
        if self.dns is not None and self.plan is not None:
            self.dns.zone = self._zone()

    async def refresh(self) -> None:
        self._refresh_zone()

    async def _watch(self) -> None:
        """While active: re-probe the LAN; any other DHCP server is reported (rogue)."""
        while self.mode == "active" and self.plan is not None:
            await asyncio.sleep(self.settings.watch_seconds)
            self._refresh_zone()
            await self.watch_once()

    async def _watch_standing_down(self, wanted: GatewaySection) -> None:
        """While standing down: look again now and then, so status shows the LAN as it is;
        when the other gateway is gone it says so (enabling stays the user's decision)."""
        while self.mode == "standing-down":
            await asyncio.sleep(self.settings.watch_seconds)
            async with self._lock:
                if self.mode != "standing-down":
                    return
                if not await self.recognise(wanted):
                    self.mode = "idle"
                    log.warning("gateway: the LAN's gateway is gone; 'enable' would work now")
                    self.emit("gateway", {"mode": self.mode, "recognised": []})

    async def watch_once(self) -> list[DhcpServerSeen]:
        if self.plan is None or self.plan.lan_address is None or os.geteuid() != 0:
            return []
        own = self.plan.lan_address.ip
        try:
            seen = await probe_dhcp(
                self.plan.lan, interface_mac(self.plan.lan), self.settings.probe_seconds
            )
        except OSError as exc:
            log.debug("gateway: rogue probe failed: %s", exc)
            return []
        others = [s for s in seen if s.server_id != own and s.source != str(own)]
        for server in others:
            key = str(server.server_id or server.source)
            if key not in self.rogue:
                log.warning("gateway: rogue %s", server.describe())
                self.emit("gateway-rogue", server.to_json())
            self.rogue[key] = server
        return others

    def _wish(self) -> GatewaySection | None:
        try:
            data = json.loads(self.wish_path.read_text("utf-8"))
            return self.wanted(data)
        except FileNotFoundError:
            return None
        except (ValueError, TypeError) as exc:
            log.warning("gateway: %s unreadable (%s): not enabling again", self.wish_path, exc)
            return None

    def _save_wish(self, wanted: GatewaySection) -> None:
        keys = ("uplink", "lan", "lan_address", "pool")
        body = {k: getattr(wanted, k) for k in keys}
        atomic_write_text(self.wish_path, json.dumps(body) + "\n", 0o600)

    # -- the election ----------------------------------------------------------------------
    def election(self) -> Election:
        """Who is the gateway, as this PC sees the workgroup now (peerwork.gateway.election)."""
        own = (
            Candidate(self.own_id, self.own_name, self.settings.priority)
            if self.settings.uplink
            else None
        )
        return elect(candidates(own, self.peers(), self.members()), self.foreign)

    # -- reporting -------------------------------------------------------------------------
    def status_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "configured": {"uplink": self.settings.uplink, "lan": self.settings.lan},
            "recognised": list(self.recognised),
            "dhcp_servers_found": [s.to_json() for s in self.found_servers],
            "rogue": [s.to_json() for s in self.rogue.values()],
            "plan": self.plan.to_json() if self.plan else None,
            "domain": self.domain,
            "dhcp": dict(self.dhcp.counters) if self.dhcp else None,
            "dns": self.dns.details() if self.dns else None,
            "leases": len(self.dhcp.table.bound(self.dhcp.clock())) if self.dhcp else 0,
            "election": self.election().to_json(),
            "failover": {
                "verdict": self.verdict.reason if self.verdict else "",
                "took_over_at": self.took_over_at,
                "last_push_age": (
                    round(self.clock() - max(self.heard.values()), 3) if self.heard else None
                ),
            },
            "replication": self._replication_json(),
        }

    def _replication_json(self) -> dict[str, Any]:
        if self.pusher is not None:
            return {
                "role": "pushing",
                "standbys": {p[:12]: v for p, v in self.pusher.acked.items()},
                "version": self.pusher.version,
                "pushes": self.pusher.pushes,
                "failures": self.pusher.failures,
            }
        return {"role": "keeping", "leases": self.replicated_leases}

    def lease_rows(self) -> list[dict[str, Any]]:
        if self.dhcp is not None:
            return self.dhcp.lease_rows()
        return [x.to_json() for x in self.store.load().leases.values()]

    def ports(self) -> dict[str, int]:
        if self.dns is None or self.dhcp is None:
            return {}
        return {"dns": self.dns.port, "dhcp": self.dhcp.port}

    def details(self) -> dict[str, Any]:
        return self.status_json()

    def summary(self) -> str:
        if self.mode == "active" and self.plan is not None:
            return f"gateway for {self.plan.lan_address} on {self.plan.lan} via {self.plan.uplink}"
        if self.mode == "standing-down":
            return "standing down: the LAN has a gateway"
        if self.mode == "standby":
            return f"standing by: {self.verdict.reason if self.verdict else ''}"
        return "idle (not enabled)"

    def warnings(self) -> list[str]:
        return [f"rogue {s.describe()}" for s in self.rogue.values()]

    def advert(self) -> ServiceAdvert | None:
        if not self.settings.uplink and self.mode != "active":
            return None
        roles = ("gateway-capable", *_MODE_ROLES.get(self.mode, ()))
        return ServiceAdvert(roles=roles, extra={PRIORITY_KEY: str(self.settings.priority)})

    def routes(self) -> Sequence[Route]:
        return gateway_routes(self)


_MODE_ROLES = {"active": ("gateway",), "standby": ("gateway-standby",)}
DEAD_AFTER = 3.0  # s without a lease push (sent every second) before the gateway is dead
ARBITER_SECONDS = 0.5
# A gateway never heard yet counts as heard this long after we began to stand by: its
# first push waits for our standby record to reach it and for a channel handshake.
STANDBY_GRACE = 3.0


def _host_port(upstream: str) -> tuple[str, int]:
    host, _, port = upstream.partition(":")
    return str(IPv4Address(host)), int(port) if port else 53
