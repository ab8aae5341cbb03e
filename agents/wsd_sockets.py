"""The UDP sockets of WS-Discovery on one interface address (IPv4, or IPv6 link-local).

Two sockets per address, as wsdd opens them (minus its client-only one):

- ``group``: bound to the group (239.255.255.250 or ff02::c) on 3702 and
  joined on this interface only, with ``IP(V6)_MULTICAST_ALL`` off, so it hears
  the group's traffic of this link and nothing another interface's membership
  lets in;
- ``unicast``: bound to the interface address on 3702; it hears unicast
  Probes and Resolves, and sends everything we send (replies from the WSD
  port, as SOAP-over-UDP wants; multicast out of this interface only, one hop,
  without looping back to ourselves).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)
GROUP = "239.255.255.250"
GROUP6 = "ff02::c"
IP_MULTICAST_ALL = 49  # Linux; not in the socket module
IPV6_MULTICAST_ALL = 29  # Linux >= 4.20
# A source as the socket reports it: (host, port) or (host, port, flowinfo, scope_id).
Source = tuple[Any, ...]
# (datagram, source address, the link it came in on)
Receiver = Callable[[bytes, Source, "Link"], None]


@dataclass(frozen=True, slots=True)
class LinkAddress:
    ifname: str
    ifindex: int
    address: ipaddress.IPv4Interface | ipaddress.IPv6Interface

    @property
    def v6(self) -> bool:
        return self.address.version == 6

    @property
    def url_host(self) -> str:
        """The host part of an http:// URL for this address (brackets for IPv6)."""
        return f"[{self.address.ip}]" if self.v6 else str(self.address.ip)

    @property
    def bind_host(self) -> str:
        """The host to bind a TCP server to (with the zone for a link-local IPv6)."""
        return f"{self.address.ip}%{self.ifname}" if self.v6 else str(self.address.ip)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, link: Link, receive: Receiver) -> None:
        self._link = link
        self._receive = receive

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            self._receive(data, tuple(addr), self._link)
        except Exception:
            # asyncio closes a transport whose protocol raises: one bad datagram that
            # found a bug must not silence the responder for everyone else.
            log.exception("wsdiscovery: error handling a datagram from %s", addr[0])

    def error_received(self, exc: Exception) -> None:
        # An ICMP port-unreachable from a prober that left: nothing to do.
        del exc


class Link:
    """The open sockets of one interface address; ``close()`` is safe to repeat."""

    def __init__(self, where: LinkAddress, port: int) -> None:
        self.where = where
        self.port = port
        self._group: asyncio.DatagramTransport | None = None
        self._unicast: asyncio.DatagramTransport | None = None

    @property
    def ip(self) -> str:
        return str(self.where.address.ip)

    @property
    def group(self) -> Source:
        if self.where.v6:
            return (GROUP6, self.port, 0, self.where.ifindex)
        return (GROUP, self.port)

    def on_link(self, source: str) -> bool:
        """Whether ``source`` is on this interface's subnet (IPv6: link-local): we answer
        nobody further away, so a spoofed probe cannot aim our replies across the Internet."""
        try:
            ip = ipaddress.ip_address(source.partition("%")[0])
        except ValueError:
            return False
        if ip.version == 6 and ip.is_link_local:
            return self.where.v6
        return ip.version == self.where.address.version and ip in self.where.address.network

    async def open(self, receive: Receiver) -> None:
        loop = asyncio.get_running_loop()
        group, unicast = self._sockets()
        try:
            self._group, _ = await loop.create_datagram_endpoint(
                lambda: _Protocol(self, receive), sock=group
            )
            self._unicast, _ = await loop.create_datagram_endpoint(
                lambda: _Protocol(self, receive), sock=unicast
            )
        except BaseException:
            group.close()
            unicast.close()
            self.close()
            raise

    def _sockets(self) -> tuple[socket.socket, socket.socket]:
        family = socket.AF_INET6 if self.where.v6 else socket.AF_INET
        group = socket.socket(family, socket.SOCK_DGRAM)
        unicast = socket.socket(family, socket.SOCK_DGRAM)
        try:
            for s in (group, unicast):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.setblocking(False)
            if self.where.v6:
                self._setup_v6(group, unicast)
            else:
                self._setup_v4(group, unicast)
        except BaseException:
            group.close()
            unicast.close()
            raise
        return group, unicast

    def _setup_v4(self, group: socket.socket, unicast: socket.socket) -> None:
        mreqn = (
            socket.inet_aton(GROUP)
            + socket.inet_aton(self.ip)
            + struct.pack("@i", self.where.ifindex)
        )
        group.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
        group.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
        group.bind((GROUP, self.port))
        unicast.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)
        unicast.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        unicast.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        unicast.bind((self.ip, self.port))

    def _setup_v6(self, group: socket.socket, unicast: socket.socket) -> None:
        index = self.where.ifindex
        mreq = socket.inet_pton(socket.AF_INET6, GROUP6) + struct.pack("@I", index)
        for s in (group, unicast):
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        group.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
        group.setsockopt(socket.IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0)
        group.bind((GROUP6, self.port, 0, index))
        unicast.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
        unicast.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
        unicast.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
        unicast.bind((self.ip, self.port, 0, index))

    def send(self, data: bytes, dest: Source | None = None) -> None:
        """To ``dest``, or to the group when None; a closed link sends nothing."""
        if self._unicast is not None and not self._unicast.is_closing():
            self._unicast.sendto(data, dest or self.group)

    def close(self) -> None:
        for transport in (self._group, self._unicast):
            if transport is not None:
                with contextlib.suppress(Exception):
                    transport.close()
        self._group = self._unicast = None
