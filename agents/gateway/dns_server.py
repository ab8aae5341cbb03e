"""The gateway's DNS server, UDP and TCP: the workgroup zone, the rest forwarded and cached.

Only LAN clients (and this PC itself) are answered; anyone else gets REFUSED,
so the gateway is never an open resolver for the uplink's side. ANY queries
that are not for our own zone get NOTIMP (RFC 8482 lets a server decline
them: they are mostly amplification attacks). Malformed packets are counted
and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address, IPv4Network, ip_address
from typing import Any

from dnslib import OPCODE, QTYPE, RCODE, DNSRecord

from peerwork.proto.dns import (
    DnsError,
    Question,
    first_question,
    pack_reply,
    parse_message,
    udp_limit,
)

from ..log_throttle import Throttle
from .dns_cache import DnsCache
from .dns_forward import forward
from .dns_zone import Zone

log = logging.getLogger("peerwork.gateway.dns")

MAX_TCP_CLIENTS = 64
TCP_IDLE = 10.0
MAX_FORWARDS = 256  # upstream queries in flight; more get SERVFAIL at once
MAX_PENDING = 1024  # UDP queries being answered at once; more are dropped (a flood)
MAX_PACKED = 20_000  # fast-path replies (and client verdicts) kept; cleared when full


class DnsServer(asyncio.DatagramProtocol):
    def __init__(
        self,
        zone: Zone,
        upstreams: Sequence[tuple[str, int]],
        *,
        bind: str,
        port: int = 53,
        allowed: Sequence[IPv4Network] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``allowed``: the networks answered besides loopback (the LAN)."""
        self._zone = zone
        self.upstreams = list(upstreams)
        self.bind = bind
        self.port = port
        self.allowed = list(allowed)
        self.clock = clock
        self.cache = DnsCache()
        self.counters = {
            "queries": 0,
            "packed": 0,  # answered by the fast path
            "refused": 0,
            "malformed": 0,
            "forwarded": 0,
            "failed": 0,
            "dropped": 0,
        }
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._inflight: dict[Question, asyncio.Future[DNSRecord | None]] = {}
        self._tcp_clients = 0
        self._throttle = Throttle(log)
        # The fast path: a query's bytes after its ID → (valid until, reply bytes). A
        # repeated question is answered by swapping the ID, parsing nothing (what lets
        # one Python process serve tens of thousands of queries a second).
        self._packed: dict[bytes, tuple[float, bytes]] = {}
        self._allowed: dict[str, bool] = {}

    @property
    def zone(self) -> Zone:
        return self._zone

    @zone.setter
    def zone(self, zone: Zone) -> None:
        self._zone = zone
        self._packed.clear()  # local answers are packed until the zone changes

    async def start(self) -> int:
        """Bind UDP and TCP on the same port (the UDP one chosen first when ``port`` is 0)."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=(self.bind, self.port)
        )
        self._udp = transport
        self.port = int(transport.get_extra_info("sockname")[1])
        self._tcp = await asyncio.start_server(self._serve_tcp, self.bind, self.port)
        return self.port

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._tcp.wait_closed(), 2)
            self._tcp = None
        for task in list(self._tasks):
            task.cancel()

    def client_allowed(self, host: str) -> bool:
        known = self._allowed.get(host)
        if known is not None:
            return known
        if len(self._allowed) >= MAX_PACKED:
            self._allowed.clear()
        self._allowed[host] = allowed = self._check_client(host)
        return allowed

    def _check_client(self, host: str) -> bool:
        try:
            address = ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if address.is_loopback or str(address) == self.bind:
            return True
        return isinstance(address, IPv4Address) and any(address in n for n in self.allowed)

    # -- UDP ---------------------------------------------------------------------------
    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        hit = self._packed.get(data[2:])
        fresh = hit is not None and hit[0] > self.clock()
        if fresh and hit is not None and self._udp is not None and self._allowed.get(addr[0]):
            self.counters["queries"] += 1
            self.counters["packed"] += 1
            self._udp.sendto(data[:2] + hit[1][2:], addr)
            return
        if len(self._tasks) >= MAX_PENDING:
            self.counters["dropped"] += 1
            self._throttle.log("flood", logging.WARNING, "DNS flood: dropping queries")
            return
        task = asyncio.get_running_loop().create_task(self._udp_query(data, addr))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def error_received(self, exc: Exception) -> None:
        log.debug("DNS socket: %s", exc)

    async def _udp_query(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = await self.answer(data, addr[0])
        if reply is not None and self._udp is not None:
            request, response = reply
            try:
                wire = pack_reply(response, udp_limit(request))
            except DnsError:
                return
            self._udp.sendto(wire, addr)
            self._remember(data, request, response, wire)

    def _remember(self, data: bytes, request: DNSRecord, reply: DNSRecord, wire: bytes) -> None:
        """Keep ``wire`` for the fast path: local answers until the zone changes, others
        for a second (their TTLs count down; a second's staleness is within DNS's)."""
        if reply.header.rcode not in (RCODE.NOERROR, RCODE.NXDOMAIN) or reply.header.tc:
            return
        question = first_question(request)
        if question is None:
            return
        if len(self._packed) >= MAX_PACKED:
            self._packed.clear()
        local = self._zone.owns(question.name)
        until = float("inf") if local else self.clock() + 1.0
        self._packed[data[2:]] = (until, wire)

    # -- TCP ---------------------------------------------------------------------------
    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("", 0)
        if self._tcp_clients >= MAX_TCP_CLIENTS:
            writer.close()
            return
        self._tcp_clients += 1
        try:
            while True:
                head = await asyncio.wait_for(reader.readexactly(2), TCP_IDLE)
                (length,) = struct.unpack("!H", head)
                data = await asyncio.wait_for(reader.readexactly(length), TCP_IDLE)
                reply = await self.answer(data, peer[0])
                if reply is None:
                    break
                wire = pack_reply(reply[1])
                writer.write(struct.pack("!H", len(wire)) + wire)
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, DnsError):
            pass
        finally:
            self._tcp_clients -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    # -- answering ---------------------------------------------------------------------
    async def answer(self, data: bytes, client: str) -> tuple[DNSRecord, DNSRecord] | None:
        """(request, reply) for one message from ``client``; None: drop it unanswered."""
        self.counters["queries"] += 1
        try:
            request = parse_message(data)
        except DnsError as exc:
            self.counters["malformed"] += 1
            self._throttle.log("malformed", logging.WARNING, "dropped DNS from %s: %s", client, exc)
            return None
        if request.header.qr:
            return None  # a reply sent to a server: never answer it (no loops)
        if not self.client_allowed(client):
            self.counters["refused"] += 1
            self._throttle.log("refused", logging.WARNING, "refused DNS from %s: not LAN", client)
            return request, _error(request, RCODE.REFUSED)
        return request, await self.resolve(request)

    async def resolve(self, request: DNSRecord) -> DNSRecord:
        question = first_question(request)
        if request.header.opcode != OPCODE.QUERY:
            return _error(request, RCODE.NOTIMP)
        if question is None:
            return _error(request, RCODE.FORMERR)
        local = self.zone.answer(request, question)
        if local is not None:
            return local
        if question.qtype == QTYPE.ANY:
            return _error(request, RCODE.NOTIMP)
        cached = self.cache.get(question, self.clock())
        if cached is not None:
            cached.header.id = request.header.id
            return cached
        reply = await self._forward(request, question)
        if reply is None:
            self.counters["failed"] += 1
            return _error(request, RCODE.SERVFAIL)
        reply.header.id = request.header.id
        return reply

    async def _forward(self, request: DNSRecord, question: Question) -> DNSRecord | None:
        """One upstream query per question at a time: concurrent askers share it."""
        pending = self._inflight.get(question)
        if pending is not None:
            return _copy(await asyncio.shield(pending))
        if len(self._inflight) >= MAX_FORWARDS or not self.upstreams:
            return None
        future: asyncio.Future[DNSRecord | None] = asyncio.get_running_loop().create_future()
        self._inflight[question] = future
        try:
            self.counters["forwarded"] += 1
            reply = await forward(request, self.upstreams)
            if reply is not None:
                self.cache.put(question, reply, self.clock())
            future.set_result(reply)
            return reply
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here: askers that shared it see it too
            raise
        finally:
            del self._inflight[question]

    def details(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "upstreams": [f"{h}:{p}" for h, p in self.upstreams],
            "names": len(self.zone.names),
            "cached": len(self.cache),
            **self.counters,
        }


def _error(request: DNSRecord, rcode: int) -> DNSRecord:
    reply = request.reply()
    reply.header.rcode = rcode
    reply.header.ra = 1
    return reply


def _copy(reply: DNSRecord | None) -> DNSRecord | None:
    return None if reply is None else DNSRecord.parse(reply.pack())
