"""The UDP sockets of WS-Discovery on one interface address (IPv4).

Two sockets per address, as wsdd opens them (minus its client-only one):

- ``group``: bound to 239.255.255.250:3702 and joined on this interface only,
  with ``IP_MULTICAST_ALL`` off, so it hears the group's traffic of this link
  and nothing that another interface's membership lets in;
- ``unicast``: bound to the interface address on 3702; it hears unicast
  Probes and Resolves, and sends everything we send (replies from the WSD
  port, as SOAP-over-UDP wants; multicast out of this interface only, TTL 1,
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
IP_MULTICAST_ALL = 49  # Linux; not in the socket module
# (datagram, source address, the link it came in on)
Receiver = Callable[[bytes, tuple[str, int], "Link"], None]


@dataclass(frozen=True, slots=True)
class LinkAddress:
    ifname: str
    ifindex: int
    address: ipaddress.IPv4Interface


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, link: Link, receive: Receiver) -> None:
        self._link = link
        self._receive = receive

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            self._receive(data, (str(addr[0]), int(addr[1])), self._link)
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

    def on_link(self, source: str) -> bool:
        """Whether ``source`` is on this interface's subnet: we answer nobody further
        away, so a spoofed probe cannot aim our replies at a host across the Internet."""
        try:
            return ipaddress.IPv4Address(source) in self.where.address.network
        except ValueError:
            return False

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
        ip = self.ip
        mreqn = (
            socket.inet_aton(GROUP) + socket.inet_aton(ip) + struct.pack("@i", self.where.ifindex)
        )
        group = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        unicast = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            for s in (group, unicast):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.setblocking(False)
            group.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
            group.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
            group.bind((GROUP, self.port))
            unicast.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)
            unicast.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
            unicast.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            unicast.bind((ip, self.port))
        except BaseException:
            group.close()
            unicast.close()
            raise
        return group, unicast

    def send(self, data: bytes, dest: tuple[str, int] | None = None) -> None:
        """To ``dest``, or to the group when None; a closed link sends nothing."""
        if self._unicast is not None and not self._unicast.is_closing():
            self._unicast.sendto(data, dest or (GROUP, self.port))

    def close(self) -> None:
        for transport in (self._group, self._unicast):
            if transport is not None:
                with contextlib.suppress(Exception):
                    transport.close()
        self._group = self._unicast = None
