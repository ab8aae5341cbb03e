"""IPv4 + UDP headers, sans-IO: just enough to read a UDP datagram off a raw socket.

A DHCP probe from an interface without an IPv4 address can't receive the
OFFER on a UDP socket (the kernel drops IP traffic to a host with no
address), so, like DHCP clients do, it reads IP packets from an
``AF_PACKET``/``SOCK_DGRAM`` socket and picks out the UDP ones.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv4Address

from peerwork.errors import InvalidInput

UDP = 17
_UDP = struct.Struct("!HHHH")


class Udp4Error(InvalidInput):
    code = "ip-malformed"


@dataclass(frozen=True, slots=True)
class Datagram:
    source: IPv4Address
    destination: IPv4Address
    source_port: int
    destination_port: int
    payload: bytes


def parse_ipv4_udp(packet: bytes) -> Datagram:
    """The UDP datagram in one IPv4 packet; Udp4Error for anything else or malformed
    (fragments included: a DHCP message fits in one packet)."""
    if len(packet) < 20:
        raise Udp4Error("IPv4 packet shorter than its header")
    version, ihl = packet[0] >> 4, (packet[0] & 0x0F) * 4
    if version != 4 or ihl < 20 or len(packet) < ihl + _UDP.size:
        raise Udp4Error("not an IPv4 packet with a UDP header")
    total = int.from_bytes(packet[2:4], "big")
    if total < ihl + _UDP.size or total > len(packet):
        raise Udp4Error(f"IPv4 total length {total} does not fit the {len(packet)} bytes")
    flags_fragment = int.from_bytes(packet[6:8], "big")
    if flags_fragment & 0x3FFF:  # more-fragments flag or an offset
        raise Udp4Error("a fragment")
    if packet[9] != UDP:
        raise Udp4Error(f"IP protocol {packet[9]} is not UDP")
    sport, dport, length, _checksum = _UDP.unpack_from(packet, ihl)
    if length < _UDP.size or ihl + length > total:
        raise Udp4Error(f"UDP length {length} does not fit the IP packet")
    payload = packet[ihl + _UDP.size : ihl + length]
    return Datagram(IPv4Address(packet[12:16]), IPv4Address(packet[16:20]), sport, dport, payload)


def build_ipv4_udp(datagram: Datagram, ttl: int = 64) -> bytes:
    """The packet :func:`parse_ipv4_udp` reads back (for tests; checksums left 0/computed
    for the IP header only, as UDP over IPv4 allows)."""
    udp = _UDP.pack(
        datagram.source_port, datagram.destination_port, _UDP.size + len(datagram.payload), 0
    )
    total = 20 + len(udp) + len(datagram.payload)
    header = bytearray(
        struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            total,
            0,
            0,
            ttl,
            UDP,
            0,
            datagram.source.packed,
            datagram.destination.packed,
        )
    )
    words = sum(int.from_bytes(header[i : i + 2], "big") for i in range(0, 20, 2))
    while words > 0xFFFF:
        words = (words & 0xFFFF) + (words >> 16)
    header[10:12] = (~words & 0xFFFF).to_bytes(2, "big")
    return bytes(header) + udp + datagram.payload
