"""Is an address already in use on the LAN? Ask by ARP, many addresses at once.

The DHCP server probes every address before offering it. dnsmasq pings and
waits (about 3 s per lease, one lease at a time); here each probe is a future
on one shared raw socket, so a probe in flight never delays another client.
A host answers ARP even when its firewall drops pings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from ipaddress import IPv4Address

from peerwork.proto.arp import ETH_P_ARP, ArpError, ArpPacket, probe

log = logging.getLogger("peerwork.gateway.dhcp")


class ArpProber:
    def __init__(self, interface: str, address: IPv4Address, timeout: float = 0.5) -> None:
        """``address``: ours on ``interface``, the sender of the probes."""
        self.interface = interface
        self.address = address
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._mac = b""
        self._waiters: dict[IPv4Address, asyncio.Future[bool]] = {}

    def open(self) -> None:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
        try:
            sock.bind((self.interface, ETH_P_ARP))
            sock.setblocking(False)
            self._mac = sock.getsockname()[4]
            asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)
        except BaseException:
            sock.close()
            raise
        self._sock = sock

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_result(False)
        self._waiters.clear()

    async def in_use(self, target: IPv4Address) -> bool:
        """True if something answers for ``target`` within the timeout."""
        if self._sock is None:
            return False
        waiter = self._waiters.get(target)
        owner = waiter is None
        if waiter is None:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters[target] = waiter
        try:
            if owner:
                frame = probe(self._mac, self.address, target)
                with contextlib.suppress(OSError):  # a full queue reads as "free": DHCP decides
                    self._sock.send(frame)
            return await asyncio.wait_for(asyncio.shield(waiter), self.timeout)
        except TimeoutError:
            return False
        finally:
            if owner and self._waiters.get(target) is waiter:
                del self._waiters[target]

    def _readable(self) -> None:
        assert self._sock is not None
        for _ in range(64):  # bounded: the loop must get back to other work
            try:
                frame = self._sock.recv(128)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.debug("ARP socket: %s", exc)
                return
            try:
                packet = ArpPacket.parse_frame(frame)
            except ArpError:
                continue
            if packet.sender_mac == self._mac:
                continue
            waiter = self._waiters.get(packet.sender_ip)
            if waiter is not None and not waiter.done():
                waiter.set_result(True)
