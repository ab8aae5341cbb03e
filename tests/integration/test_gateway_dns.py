"""The gateway's DNS server on loopback, asked by dig, forwarding to a real dnsmasq.

Zone answers, reverse names, forwarded names cached (the upstream is stopped
and the cached answer still comes), negative caching, TCP, truncation to TCP,
malformed packets, ANY, clients outside the LAN refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from collections.abc import AsyncIterator
from ipaddress import IPv4Address, IPv4Network

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from peerwork.agents.gateway.dhcp_leases import Lease, LeaseState
from peerwork.agents.gateway.dns_server import DnsServer
from peerwork.agents.gateway.dns_zone import build_zone
from tests.helpers.dnsmasq import start_loopback_resolver, wait_udp_dns
from tests.helpers.netns import _stop
from tests.helpers.ports import unused_udp_port

pytestmark = pytest.mark.root

NET = IPv4Network("192.168.0.0/24")
BIG = [f"--host-record=big.example.com,fd00::{i + 1}" for i in range(60)]


async def dig(port: int, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "dig", "@127.0.0.1", "-p", str(port), "+time=2", "+tries=1", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    return out.decode() + err.decode()


@pytest.fixture
async def server() -> AsyncIterator[tuple[DnsServer, object]]:
    if os.geteuid() != 0:
        pytest.skip("dnsmasq as the upstream runs as root here")
    upstream_port = unused_udp_port()
    upstream = start_loopback_resolver(
        upstream_port,
        # Authoritative for example.com, so NXDOMAIN carries the SOA negative caching needs.
        "--auth-server=ns.example.com,127.0.0.1",
        "--auth-zone=example.com",
        "--auth-ttl=300",
        "--local-ttl=300",
        "--host-record=www.example.com,203.0.113.10",
        *BIG,
    )
    try:
        await asyncio.to_thread(wait_udp_dns, [], "127.0.0.1", upstream_port, "www.example.com")
        lease = Lease(IPv4Address("192.168.0.7"), b"\x01", "m", LeaseState.BOUND, 9e12, "pc1")
        zone = build_zone("office.lan", NET, IPv4Address("192.168.0.1"), "gw", [lease], {}, 0)
        dns = DnsServer(
            zone, [("127.0.0.1", upstream_port)], bind="127.0.0.1", port=0, allowed=[NET]
        )
        await dns.start()
        try:
            yield dns, upstream
        finally:
            await dns.stop()
    finally:
        _stop(upstream)


async def test_zone_reverse_and_upstream_names(server: tuple[DnsServer, object]) -> None:
    dns, _ = server
    assert (await dig(dns.port, "pc1.office.lan", "+short")).strip() == "192.168.0.7"
    assert "pc1.office.lan." in await dig(dns.port, "-x", "192.168.0.7", "+short")
    assert "status: NXDOMAIN" in await dig(dns.port, "nobody.office.lan")
    assert (await dig(dns.port, "www.example.com", "+short")).strip() == "203.0.113.10"
    assert (await dig(dns.port, "+tcp", "pc1.office.lan", "+short")).strip() == "192.168.0.7"
    assert (await dig(dns.port, "+tcp", "www.example.com", "+short")).strip() == "203.0.113.10"


async def test_cached_answers_outlive_the_upstream(server: tuple[DnsServer, object]) -> None:
    dns, upstream = server
    assert "203.0.113.10" in await dig(dns.port, "www.example.com", "+short")
    assert "status: NXDOMAIN" in await dig(dns.port, "nx.example.com")
    _stop(upstream)  # type: ignore[arg-type]
    assert "203.0.113.10" in await dig(dns.port, "www.example.com", "+short")
    assert "status: NXDOMAIN" in await dig(dns.port, "nx.example.com")  # negative cache
    assert dns.cache.hits >= 2
    assert "status: SERVFAIL" in await dig(dns.port, "other.example.com")


async def test_big_answer_truncated_then_tcp(server: tuple[DnsServer, object]) -> None:
    dns, _ = server
    out = await dig(dns.port, "big.example.com", "AAAA", "+ignore", "+noedns")
    assert "flags: qr tc" in out or " tc " in out
    out = await dig(dns.port, "big.example.com", "AAAA", "+short")  # dig retries over TCP
    assert len(out.split()) == 60


async def test_hostile_and_foreign_queries(server: tuple[DnsServer, object]) -> None:
    dns, _ = server
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.connect(("127.0.0.1", dns.port))
        for junk in (
            b"",
            b"\x00" * 11,
            b"\x12\x34\x01\x00\x00\x01" + bytes(6) + b"\xc0\x0c",
            os.urandom(600),
        ):
            sock.send(junk)
        await asyncio.sleep(0.3)
    assert dns.counters["malformed"] >= 3
    assert "status: NOTIMP" in await dig(dns.port, "example.com", "ANY")
    any_local = await dig(dns.port, "pc1.office.lan", "ANY", "+short")
    assert "192.168.0.7" in any_local
    # Over TCP: a length prefix promising more than is sent, then silence: dropped.
    reader, writer = await asyncio.open_connection("127.0.0.1", dns.port)
    writer.write(struct.pack("!H", 500) + b"\x00" * 10)
    writer.close()
    # A client outside the LAN (and not loopback) is refused, whatever it asks.
    request = DNSRecord.question("www.example.com")
    result = await dns.answer(bytes(request.pack()), "203.0.113.50")
    assert result is not None and result[1].header.rcode == RCODE.REFUSED
    result = await dns.answer(bytes(request.pack()), "192.168.0.50")
    assert result is not None and result[1].header.rcode == RCODE.NOERROR
    assert result[1].rr[0].rtype == QTYPE.A
    # Still serving after all that.
    assert (await dig(dns.port, "pc1.office.lan", "+short")).strip() == "192.168.0.7"
    del loop, reader


async def test_repeated_questions_follow_zone_changes(server: tuple[DnsServer, object]) -> None:
    """The packed-reply fast path answers repeats, and forgets them when the zone changes."""
    dns, _ = server
    for _ in range(3):  # without dig's random EDNS cookie, repeats are identical
        out = await dig(dns.port, "pc1.office.lan", "+short", "+nocookie")
        assert out.strip() == "192.168.0.7"
    assert dns.counters["packed"] == 2
    moved = Lease(IPv4Address("192.168.0.9"), b"\x01", "m", LeaseState.BOUND, 9e12, "pc1")
    dns.zone = build_zone("office.lan", NET, IPv4Address("192.168.0.1"), "gw", [moved], {}, 0)
    out = await dig(dns.port, "pc1.office.lan", "+short", "+nocookie")
    assert out.strip() == "192.168.0.9" and dns.counters["packed"] == 2


async def test_flood_of_unique_queries_is_bounded(server: tuple[DnsServer, object]) -> None:
    """3,000 different upstream names as fast as one socket sends them: the server
    keeps its task count bounded and still answers a LAN name within seconds."""
    dns, _ = server
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        for i in range(3000):
            wire = bytes(DNSRecord.question(f"n{i}.flood.example.com").pack())
            with contextlib.suppress(BlockingIOError):
                sock.sendto(wire, ("127.0.0.1", dns.port))
            if i % 200 == 0:
                await asyncio.sleep(0)  # let the server read
    assert len(dns._tasks) <= 1024
    started = asyncio.get_running_loop().time()
    # As a resolver library would: retries (3 tries, 2 s each).
    answer = await dig(dns.port, "pc1.office.lan", "+short", "+tries=3")
    assert answer.strip().splitlines()[-1] == "192.168.0.7", answer
    assert asyncio.get_running_loop().time() - started < 10
