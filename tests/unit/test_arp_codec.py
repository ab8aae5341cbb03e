"""peerwork.proto.arp: probe frames and hostile input."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerwork.proto.arp import BROADCAST_MAC, ArpError, ArpOp, ArpPacket, probe

MAC = bytes.fromhex("020000aabbcc")


def test_probe_frame() -> None:
    frame = probe(MAC, IPv4Address("192.168.0.1"), IPv4Address("192.168.0.7"))
    assert len(frame) == 60 and frame[:6] == BROADCAST_MAC and frame[12:14] == b"\x08\x06"
    packet = ArpPacket.parse_frame(frame)
    assert packet == ArpPacket(
        ArpOp.REQUEST, MAC, IPv4Address("192.168.0.1"), bytes(6), IPv4Address("192.168.0.7")
    )


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        probe(MAC, IPv4Address(1), IPv4Address(2))[:41],
        probe(MAC, IPv4Address(1), IPv4Address(2))[:12] + b"\x08\x00" + bytes(46),
        probe(MAC, IPv4Address(1), IPv4Address(2))[:20] + b"\x00\x09" + bytes(38),
    ],
)
def test_malformed(frame: bytes) -> None:
    with pytest.raises(ArpError):
        ArpPacket.parse_frame(frame)


@given(st.binary(max_size=80))
def test_any_bytes(frame: bytes) -> None:
    try:
        packet = ArpPacket.parse_frame(frame)
    except ArpError:
        return
    assert ArpPacket.parse_frame(packet.frame(frame[:6])) == packet


@given(st.sampled_from(ArpOp), st.binary(min_size=6, max_size=6), st.integers(0, 2**32 - 1))
def test_round_trip(op: ArpOp, mac: bytes, address: int) -> None:
    packet = ArpPacket(op, mac, IPv4Address(address), MAC, IPv4Address(address ^ 1))
    assert ArpPacket.parse_frame(packet.frame()) == packet
