"""The DHCP server's socket: one UDP socket on port 67 of the LAN interface.

As dnsmasq does it: bound to 0.0.0.0:67 (clients without an address send
from 0.0.0.0 to 255.255.255.255) and tied to the LAN interface with
SO_BINDTODEVICE, so the uplink never hears or answers DHCP; replies go by
RFC 2131 §4.1: to the relay (giaddr) on 67, to ciaddr when the client has an
address, else broadcast to 255.255.255.255:68 (a client without an address
can't take unicast without an ARP entry we would have to forge). Decisions
are :func:`.dhcp_leases.handle`'s; this module only moves bytes, probes
offered addresses (:class:`.arp_probe.ArpProber`) and persists the table.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import time
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address
from typing import Any, cast

from peerwork.proto.dhcp import ZERO, DhcpError, DhcpPacket, MessageType

from ..log_throttle import Throttle
from .arp_probe import ArpProber
from .dhcp_leases import (
    Decision,
    LeaseTable,
    PoolConfig,
    free_addresses,
    handle,
    mark_conflict,
)
from .lease_store import LeaseStore

log = logging.getLogger("peerwork.gateway.dhcp")

SERVER_PORT = 67
CLIENT_PORT = 68
MAX_PROBES = 3  # addresses tried per DISCOVER before giving up on this one
MAX_IN_FLIGHT = 256  # requests being handled at once; more are dropped (a flood)
PROBE_AHEAD = 32  # free addresses kept probed ahead of demand
VERIFIED_FOR = 10.0  # seconds a "free" probe result is trusted


def reply_destination(request: DhcpPacket, reply: DhcpPacket, client_port: int) -> tuple[str, int]:
    """Where RFC 2131 §4.1 sends ``reply`` to ``request``."""
    if request.giaddr != ZERO:
        return str(request.giaddr), SERVER_PORT
    if reply.message_type is not MessageType.NAK and request.ciaddr != ZERO:
        return str(request.ciaddr), client_port
    return "255.255.255.255", client_port


class DhcpServer(asyncio.DatagramProtocol):
    def __init__(
        self,
        config: PoolConfig,
        store: LeaseStore,
        interface: str,
        *,
        port: int = SERVER_PORT,
        client_port: int = CLIENT_PORT,
        prober: ArpProber | None = None,
        clock: Callable[[], float] = time.time,
        on_change: Callable[[LeaseTable], None] = lambda table: None,
        ignore: Sequence[bytes] = (),
    ) -> None:
        """``ignore``: hardware addresses never answered (our own, probing the LAN)."""
        self.config = config
        self.store = store
        self.interface = interface
        self.port = port
        self.client_port = client_port
        self.prober = prober
        self.clock = clock
        self.on_change = on_change
        self.ignore = frozenset(ignore)
        self.table = LeaseTable()
        self.counters = {"received": 0, "malformed": 0, "sent": 0, "conflicts": 0, "dropped": 0}
        self._transport: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._throttle = Throttle(log)
        self._verified: dict[IPv4Address, float] = {}  # probed free at (clock)
        self._ahead: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.table = await asyncio.to_thread(self.store.load)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.interface.encode())
            sock.bind(("0.0.0.0", self.port))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, sock=sock)
        if self.prober is not None:
            try:
                self.prober.open()
            except OSError as exc:
                log.warning("no conflict check on %s (%s): offering unprobed", self.interface, exc)
                self.prober = None
        self._probe_ahead()

    async def stop(self) -> None:
        if self._ahead is not None:
            self._ahead.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._ahead
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.prober is not None:
            self.prober.close()
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        await self.store.save(self.table)

    def replace_config(self, config: PoolConfig) -> None:
        """New pool, reservations or lease time: in force for the next request."""
        self.config = config

    # -- asyncio.DatagramProtocol ------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # CPython's selector transport is not registered as a DatagramTransport subclass.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.counters["received"] += 1
        try:
            packet = DhcpPacket.parse(data)
        except DhcpError as exc:
            self.counters["malformed"] += 1
            self._warn("malformed", "dropped a malformed DHCP packet from %s: %s", addr[0], exc)
            return
        if packet.chaddr in self.ignore:
            return
        if len(self._tasks) >= MAX_IN_FLIGHT:
            self.counters["dropped"] += 1
            self._warn("flood", "more than %d DHCP requests at once: dropping", MAX_IN_FLIGHT)
            return
        task = asyncio.get_running_loop().create_task(self._answer(packet))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def error_received(self, exc: Exception) -> None:
        log.debug("DHCP socket: %s", exc)

    # -- answering ---------------------------------------------------------------------
    async def _answer(self, request: DhcpPacket) -> None:
        decision = self._decide(request)
        for _ in range(MAX_PROBES):
            if decision.probe is None or self.prober is None:
                break
            self._probe_ahead()
            if not await self._in_use(decision.probe):
                break
            decision = self._decide(request)
        else:
            if decision.probe is not None:
                log.warning("gave up offering to %s: %d addresses in use", request.mac, MAX_PROBES)
                return
        reply = decision.reply
        bound = reply is not None and reply.message_type is MessageType.ACK and reply.yiaddr != ZERO
        if bound or request.message_type in (MessageType.RELEASE, MessageType.DECLINE):
            await self.store.save(self.table)  # an ACKed lease is on disk before the client hears
            self.on_change(self.table)
        if reply is not None:
            self._send(request, reply)

    async def _in_use(self, address: IPv4Address) -> bool:
        """Probe ``address`` unless a probe found it free moments ago; mark a conflict."""
        checked = self._verified.pop(address, None)
        if checked is not None and checked > self.clock() - VERIFIED_FOR:
            return False
        assert self.prober is not None
        if not await self.prober.in_use(address):
            return False
        self.counters["conflicts"] += 1
        log.warning("%s answers ARP but is not leased: not offering it", address)
        self.table = mark_conflict(self.config, self.table, address, self.clock())
        return True

    def _probe_ahead(self) -> None:
        """Probe the next free addresses in the background, so a burst of new clients
        (Monday morning, a power cut) finds them checked instead of waiting each time."""
        if self.prober is None or (self._ahead is not None and not self._ahead.done()):
            return
        now = self.clock()
        fresh = {a for a, t in self._verified.items() if t > now - VERIFIED_FOR}
        self._verified = {a: self._verified[a] for a in fresh}
        wanted = [
            a for a in itertools.islice(free_addresses(self.config, self.table, now), PROBE_AHEAD)
            if a not in fresh
        ]  # fmt: skip
        if wanted:
            self._ahead = asyncio.get_running_loop().create_task(self._probe_all(wanted))

    async def _probe_all(self, addresses: list[IPv4Address]) -> None:
        assert self.prober is not None
        results = await asyncio.gather(*(self.prober.in_use(a) for a in addresses))
        now = self.clock()
        for address, used in zip(addresses, results, strict=True):
            if used:
                self.counters["conflicts"] += 1
                log.warning("%s answers ARP but is not leased: not offering it", address)
                self.table = mark_conflict(self.config, self.table, address, now)
            else:
                self._verified[address] = now

    def _decide(self, request: DhcpPacket) -> Decision:
        decision = handle(self.config, self.table, request, self.clock())
        self.table = decision.leases
        if decision.warning:
            self._warn(decision.note.split(" ", 1)[0], "%s", decision.note)
        else:
            log.info("%s", decision.note)
        return decision

    def _send(self, request: DhcpPacket, reply: DhcpPacket) -> None:
        if self._transport is None:
            return
        self._transport.sendto(reply.pack(), reply_destination(request, reply, self.client_port))
        self.counters["sent"] += 1

    def _warn(self, key: str, message: str, *args: Any) -> None:
        self._throttle.log(key, logging.WARNING, message, *args)

    def lease_rows(self) -> list[dict[str, Any]]:
        now = self.clock()
        rows = [x.to_json() | {"active": x.active(now)} for x in self.table.leases.values()]
        return sorted(rows, key=lambda r: IPv4Address(r["address"]))
