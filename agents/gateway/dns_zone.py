"""The workgroup's own names: ``<host>.<workgroup>.lan`` and the LAN's reverse zone, pure.

:func:`build_zone` gathers names from the DHCP leases (each client's hostname
option), the workgroup's verified peers and the gateway itself; a name a
peer announces wins over a lease's, since the peer proved who it is.
:meth:`Zone.answer` says what an authoritative server replies, or None when
the question is not ours (then it is forwarded upstream).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from dnslib import PTR, QTYPE, RCODE, RR, SOA, A, DNSRecord

from peerwork.proto.dns import Question

from .dhcp_leases import Lease, LeaseState, clean_hostname

ZONE_TTL = 60  # short: a PC that moves or leaves should not linger in caches
NEGATIVE_TTL = 30


@dataclass(frozen=True, slots=True)
class Zone:
    domain: str  # "office.lan"
    network: IPv4Network  # the LAN: its reverse zone is ours too
    server: IPv4Address  # the gateway's LAN address (SOA/NS)
    names: Mapping[str, tuple[IPv4Address, ...]] = field(default_factory=dict)  # "pc1" → ...

    @property
    def reverse_suffix(self) -> str:
        """The reverse zone, at octet boundaries (a /24 → "0.168.192.in-addr.arpa")."""
        octets = str(self.network.network_address).split(".")[: self.network.prefixlen // 8]
        return ".".join([*reversed(octets), "in-addr", "arpa"])

    def owns(self, name: str) -> bool:
        return _under(name, self.domain) or self._reverse_address(name) is not None

    def answer(self, request: DNSRecord, question: Question) -> DNSRecord | None:
        if _under(question.name, self.domain):
            return self._forward_answer(request, question)
        address = self._reverse_address(question.name)
        if address is not None:
            return self._reverse_answer(request, question, address)
        if _under(question.name, self.reverse_suffix):
            # Inside our reverse zone but not an address (a partial name): no such name.
            return self._negative(request, RCODE.NXDOMAIN, self.reverse_suffix)
        return None

    def _forward_answer(self, request: DNSRecord, question: Question) -> DNSRecord:
        host = question.name[: -len(self.domain)].rstrip(".")
        reply = _authoritative(request)
        if not host:
            if question.qtype in (QTYPE.SOA, QTYPE.ANY):
                reply.add_answer(self._soa(self.domain))
                return reply
            return self._negative(request, RCODE.NOERROR, self.domain)
        addresses = self.names.get(host)
        if addresses is None:
            return self._negative(request, RCODE.NXDOMAIN, self.domain)
        if question.qtype not in (QTYPE.A, QTYPE.ANY):
            return self._negative(request, RCODE.NOERROR, self.domain)  # NODATA
        for address in addresses:
            reply.add_answer(RR(question.name, QTYPE.A, rdata=A(str(address)), ttl=ZONE_TTL))
        return reply

    def _reverse_answer(
        self, request: DNSRecord, question: Question, address: IPv4Address
    ) -> DNSRecord:
        hosts = sorted(host for host, found in self.names.items() if address in found)
        if not hosts:
            return self._negative(request, RCODE.NXDOMAIN, self.reverse_suffix)
        if question.qtype not in (QTYPE.PTR, QTYPE.ANY):
            return self._negative(request, RCODE.NOERROR, self.reverse_suffix)
        reply = _authoritative(request)
        target = f"{hosts[0]}.{self.domain}."
        reply.add_answer(RR(question.name, QTYPE.PTR, rdata=PTR(target), ttl=ZONE_TTL))
        return reply

    def _negative(self, request: DNSRecord, rcode: int, apex: str) -> DNSRecord:
        reply = _authoritative(request)
        reply.header.rcode = rcode
        reply.add_auth(self._soa(apex))  # RFC 2308: the SOA tells caches how long
        return reply

    def _soa(self, apex: str) -> RR:
        soa = SOA(
            f"gateway.{self.domain}.",
            f"hostmaster.{self.domain}.",
            (1, 3600, 600, 86400, NEGATIVE_TTL),
        )
        return RR(apex, QTYPE.SOA, rdata=soa, ttl=NEGATIVE_TTL)

    def _reverse_address(self, name: str) -> IPv4Address | None:
        if not name.endswith(".in-addr.arpa"):
            return None
        parts = name[: -len(".in-addr.arpa")].split(".")
        if len(parts) != 4 or not all(p.isdigit() and len(p) <= 3 for p in parts):
            return None
        try:
            address = IPv4Address(".".join(reversed(parts)))
        except ValueError:
            return None
        return address if address in self.network else None


def _under(name: str, apex: str) -> bool:
    return name == apex or name.endswith("." + apex)


def _authoritative(request: DNSRecord) -> DNSRecord:
    reply = request.reply()
    reply.header.aa = 1
    reply.header.ra = 1
    return reply


def build_zone(
    domain: str,
    network: IPv4Network,
    server: IPv4Address,
    own_name: str,
    leases: Iterable[Lease],
    peers: Mapping[str, Iterable[str]],
    now: float,
) -> Zone:
    """``peers``: name → addresses of the workgroup's verified peers (only LAN addresses
    are used); ``own_name``: this PC's name, which resolves to ``server``."""
    names: dict[str, list[IPv4Address]] = {}
    for lease in leases:
        if lease.state is LeaseState.BOUND and lease.active(now) and lease.hostname:
            names[lease.hostname] = [lease.address]
    for name, addresses in peers.items():
        label = clean_hostname(name)
        found = [a for a in (_ipv4(x) for x in addresses) if a is not None and a in network]
        if label and found:
            names[label] = found
    if clean_hostname(own_name):
        names[clean_hostname(own_name)] = [server]
    names["gateway"] = [server]
    return Zone(domain, network, server, {k: tuple(v) for k, v in names.items()})


def _ipv4(text: str) -> IPv4Address | None:
    try:
        return IPv4Address(text)
    except ValueError:
        return None
