"""agents.gateway.dns_zone and dns_cache: the workgroup zone and the forwarder's cache."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from dnslib import QTYPE, RCODE, RR, SOA, A, DNSRecord

from peerwork.agents.gateway.dhcp_leases import Lease, LeaseState
from peerwork.agents.gateway.dns_cache import MAX_NEGATIVE_TTL, DnsCache, cache_ttl
from peerwork.agents.gateway.dns_zone import build_zone
from peerwork.proto.dns import Question, first_question

NET = IPv4Network("192.168.0.0/24")
SERVER = IPv4Address("192.168.0.1")
NOW = 1000.0


def zone():  # type: ignore[no-untyped-def]
    leases = [
        Lease(IPv4Address("192.168.0.7"), b"\x01a", "02:..:07", LeaseState.BOUND, NOW + 60, "pc1"),
        Lease(IPv4Address("192.168.0.8"), b"\x01b", "02:..:08", LeaseState.BOUND, NOW - 1, "old"),
        Lease(IPv4Address("192.168.0.9"), b"\x01c", "02:..:09", LeaseState.OFFERED, NOW + 9, "off"),
    ]
    peers = {"FrontDesk": ["192.168.0.20", "10.9.9.9", "fe80::1"], "faraway": ["10.1.1.1"]}
    return build_zone("office.lan", NET, SERVER, "GW-PC", leases, peers, NOW)


def ask(name: str, qtype: str = "A") -> DNSRecord | None:
    request = DNSRecord.question(name, qtype)
    question = first_question(request)
    assert question is not None
    return zone().answer(request, question)


def test_names_from_leases_peers_and_self() -> None:
    z = zone()
    assert z.names == {
        "pc1": (IPv4Address("192.168.0.7"),),
        "frontdesk": (IPv4Address("192.168.0.20"),),
        "gw-pc": (SERVER,),
        "gateway": (SERVER,),
    }
    reply = ask("PC1.office.lan")
    assert reply is not None and reply.header.aa and str(reply.a.rdata) == "192.168.0.7"
    assert str(ask("frontdesk.office.lan").a.rdata) == "192.168.0.20"  # type: ignore[union-attr]


def test_negative_answers_carry_the_soa() -> None:
    nx = ask("nobody.office.lan")
    assert nx is not None and nx.header.rcode == RCODE.NXDOMAIN
    assert nx.auth[0].rtype == QTYPE.SOA
    nodata = ask("pc1.office.lan", "AAAA")
    assert nodata is not None and nodata.header.rcode == RCODE.NOERROR and not nodata.rr
    apex = ask("office.lan", "SOA")
    assert apex is not None and apex.rr[0].rtype == QTYPE.SOA


def test_reverse_zone() -> None:
    assert zone().reverse_suffix == "0.168.192.in-addr.arpa"
    ptr = ask("7.0.168.192.in-addr.arpa", "PTR")
    assert ptr is not None and str(ptr.rr[0].rdata) == "pc1.office.lan."
    unknown = ask("77.0.168.192.in-addr.arpa", "PTR")
    assert unknown is not None and unknown.header.rcode == RCODE.NXDOMAIN
    assert ask("1.1.1.10.in-addr.arpa", "PTR") is None  # not our network: forwarded
    assert ask("example.com") is None
    bogus = ask("x.0.168.192.in-addr.arpa", "PTR")
    assert bogus is not None and bogus.header.rcode == RCODE.NXDOMAIN


def reply_with(
    name: str, ttl: int, rcode: int = RCODE.NOERROR, soa: tuple[int, int] | None = None
) -> DNSRecord:
    reply = DNSRecord.question(name).reply()
    reply.header.rcode = rcode
    if soa is None and rcode == RCODE.NOERROR:
        reply.add_answer(RR(name, QTYPE.A, rdata=A("203.0.113.1"), ttl=ttl))
    if soa is not None:
        reply.add_auth(
            RR("example.com", QTYPE.SOA, rdata=SOA("ns.", "h.", (1, 2, 3, 4, soa[1])), ttl=soa[0])
        )
    return reply


def test_cache_counts_ttls_down_and_expires() -> None:
    cache = DnsCache()
    q = Question("www.example.com", QTYPE.A)
    cache.put(q, reply_with("www.example.com", 100), NOW)
    hit = cache.get(q, NOW + 40)
    assert hit is not None and hit.rr[0].ttl == 60
    assert cache.get(q, NOW + 100) is None and len(cache) == 0
    assert cache.hits == 1 and cache.misses == 1


def test_negative_caching_rfc2308() -> None:
    assert cache_ttl(reply_with("x.example.com", 0, RCODE.NXDOMAIN, soa=(900, 120))) == 120
    assert (
        cache_ttl(reply_with("x.example.com", 0, RCODE.NXDOMAIN, soa=(9000, 9000)))
        == MAX_NEGATIVE_TTL
    )
    assert cache_ttl(reply_with("x.example.com", 0, RCODE.NXDOMAIN)) == 0  # no SOA: not kept
    assert cache_ttl(reply_with("x.example.com", 0, RCODE.SERVFAIL)) == 0
    assert cache_ttl(reply_with("x.example.com", 0)) == 0  # TTL 0


def test_cache_is_bounded() -> None:
    cache = DnsCache(max_entries=3)
    for i in range(10):
        cache.put(Question(f"n{i}.example", QTYPE.A), reply_with(f"n{i}.example", 50), NOW)
    assert len(cache) == 3
    assert cache.get(Question("n9.example", QTYPE.A), NOW) is not None
    assert cache.get(Question("n0.example", QTYPE.A), NOW) is None
