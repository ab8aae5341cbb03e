"""Does the LAN already have a gateway? Ask it the way a PC would, and look around.

:func:`probe_dhcp` broadcasts a DISCOVER with a random xid from port 68 of the
LAN interface (SO_BINDTODEVICE: never on any other interface) and collects
the OFFERs for that xid for a few seconds, read raw from that interface. It
never sends a REQUEST, so no server hands out a lease; an offer is held for a
short while on the other server and then forgotten. Needs root (port 68, binding to a device).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Any

from peerwork.proto.dhcp import (
    BROADCAST_FLAG,
    DhcpError,
    DhcpPacket,
    MessageType,
    Op,
    Opt,
    decode_addresses,
    message_type_option,
)
from peerwork.proto.udp4 import Udp4Error, parse_ipv4_udp

CLIENT_PORT = 68
ETH_P_IP = 0x0800


@dataclass(frozen=True, slots=True)
class DhcpServerSeen:
    server_id: IPv4Address | None
    source: str  # the address the OFFER came from
    offered: IPv4Address
    routers: tuple[IPv4Address, ...]
    dns: tuple[IPv4Address, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "server_id": str(self.server_id) if self.server_id else None,
            "source": self.source,
            "offered": str(self.offered),
            "routers": [str(r) for r in self.routers],
            "dns": [str(d) for d in self.dns],
        }

    def describe(self) -> str:
        who = self.server_id or self.source
        extra = f", router {', '.join(map(str, self.routers))}" if self.routers else ""
        extra += f", DNS {', '.join(map(str, self.dns))}" if self.dns else ""
        return f"DHCP server {who} answers on the LAN (offered {self.offered}{extra})"


def seen_from(packet: DhcpPacket, source: str) -> DhcpServerSeen:
    def addresses(code: int) -> tuple[IPv4Address, ...]:
        try:
            return decode_addresses(packet.options.get(code, b""))
        except DhcpError:
            return ()

    return DhcpServerSeen(
        packet.server_id, source, packet.yiaddr, addresses(Opt.ROUTER), addresses(Opt.DNS_SERVERS)
    )


class _Offers:
    """OFFERs for ``xid`` read from a raw socket: with no address on the interface the
    kernel would not hand them to a UDP socket (DHCP clients read them raw too)."""

    def __init__(self, xid: int, sock: socket.socket) -> None:
        self.xid = xid
        self.sock = sock
        self.seen: dict[str, DhcpServerSeen] = {}

    def readable(self) -> None:
        for _ in range(64):  # bounded: a busy LAN must not hold the loop
            try:
                packet = self.sock.recv(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            try:
                datagram = parse_ipv4_udp(packet)
                if datagram.destination_port != CLIENT_PORT:
                    continue
                reply = DhcpPacket.parse(datagram.payload)
            except (Udp4Error, DhcpError):
                continue
            offer = reply.op is Op.REPLY and reply.message_type is MessageType.OFFER
            if offer and reply.xid == self.xid:
                found = seen_from(reply, str(datagram.source))
                self.seen[str(found.server_id or found.source)] = found


def _raw_ip_socket(interface: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    try:
        sock.bind((interface, ETH_P_IP))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _udp_client_socket(interface: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
        sock.bind(("0.0.0.0", CLIENT_PORT))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def probe_dhcp(interface: str, mac: bytes, seconds: float) -> list[DhcpServerSeen]:
    """Every DHCP server that OFFERs on ``interface`` within ``seconds``."""
    xid = secrets.randbits(32)
    loop = asyncio.get_running_loop()
    raw = _raw_ip_socket(interface)
    try:
        sender = _udp_client_socket(interface)
    except BaseException:
        raw.close()
        raise
    offers = _Offers(xid, raw)
    loop.add_reader(raw.fileno(), offers.readable)
    try:
        discover = DhcpPacket(
            Op.REQUEST,
            xid,
            mac,
            {
                Opt.MESSAGE_TYPE: message_type_option(MessageType.DISCOVER),
                Opt.PARAMETER_LIST: bytes([Opt.SUBNET_MASK, Opt.ROUTER, Opt.DNS_SERVERS]),
            },
            flags=BROADCAST_FLAG,  # we may have no address: answers must be broadcast
        )
        for _ in range(2):  # one resend: a single lost broadcast must not hide a server
            with contextlib.suppress(OSError):
                sender.sendto(discover.pack(), ("255.255.255.255", 67))
            await asyncio.sleep(seconds / 2)
    finally:
        loop.remove_reader(raw.fileno())
        raw.close()
        sender.close()
    return list(offers.seen.values())


def interface_mac(interface: str) -> bytes:
    """The hardware address of ``interface`` (from sysfs), or 6 zero bytes."""
    try:
        with open(f"/sys/class/net/{interface}/address") as handle:
            return bytes.fromhex(handle.read().strip().replace(":", ""))
    except (OSError, ValueError):
        return bytes(6)
