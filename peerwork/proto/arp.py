"""ARP over Ethernet (RFC 826), sans-IO: the request a DHCP server sends to see whether
an address is already in use, and the replies that say it is.

Frames include the Ethernet header, as an ``AF_PACKET``/``SOCK_RAW`` socket
sends and receives them.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from ipaddress import IPv4Address

from peerwork.errors import InvalidInput

ETH_P_ARP = 0x0806
BROADCAST_MAC = b"\xff" * 6
_FRAME = struct.Struct("!6s6sH HHBBH 6s4s6s4s")
FRAME_LEN = _FRAME.size  # 42; shorter frames on the wire are padded to 60


class ArpError(InvalidInput):
    code = "arp-malformed"


class ArpOp(enum.IntEnum):
    REQUEST = 1
    REPLY = 2


@dataclass(frozen=True, slots=True)
class ArpPacket:
    op: ArpOp
    sender_mac: bytes
    sender_ip: IPv4Address
    target_mac: bytes
    target_ip: IPv4Address

    def frame(self, destination: bytes = BROADCAST_MAC) -> bytes:
        """The Ethernet frame carrying this packet, padded to Ethernet's 60-byte minimum."""
        raw = _FRAME.pack(
            destination,
            self.sender_mac,
            ETH_P_ARP,
            1,  # Ethernet
            0x0800,  # IPv4
            6,
            4,
            int(self.op),
            self.sender_mac,
            self.sender_ip.packed,
            self.target_mac,
            self.target_ip.packed,
        )
        return raw + bytes(60 - len(raw))

    @classmethod
    def parse_frame(cls, data: bytes) -> ArpPacket:
        if len(data) < FRAME_LEN:
            raise ArpError(f"ARP frame of {len(data)} bytes is shorter than {FRAME_LEN}")
        (_dst, _src, ethertype, htype, ptype, hlen, plen, op, smac, sip, tmac, tip) = (
            _FRAME.unpack_from(data)
        )
        if ethertype != ETH_P_ARP or (htype, ptype, hlen, plen) != (1, 0x0800, 6, 4):
            raise ArpError("not an Ethernet/IPv4 ARP frame")
        if op not in (1, 2):
            raise ArpError(f"ARP operation {op} is neither request nor reply")
        return cls(ArpOp(op), smac, IPv4Address(sip), tmac, IPv4Address(tip))


def probe(sender_mac: bytes, sender_ip: IPv4Address, target: IPv4Address) -> bytes:
    """A who-has frame for ``target``, broadcast."""
    return ArpPacket(ArpOp.REQUEST, sender_mac, sender_ip, bytes(6), target).frame()
