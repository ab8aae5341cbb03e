"""peerwork.proto.udp4: IPv4/UDP headers off a raw socket, hostile input."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerwork.proto.udp4 import Datagram, Udp4Error, build_ipv4_udp, parse_ipv4_udp

D = Datagram(IPv4Address("192.168.0.254"), IPv4Address("255.255.255.255"), 67, 68, b"offer")


def test_round_trip_and_header_checksum() -> None:
    packet = build_ipv4_udp(D)
    assert parse_ipv4_udp(packet) == D
    words = sum(int.from_bytes(packet[i : i + 2], "big") for i in range(0, 20, 2))
    while words > 0xFFFF:
        words = (words & 0xFFFF) + (words >> 16)
    assert words == 0xFFFF
    # Ethernet padding after the IP packet is ignored.
    assert parse_ipv4_udp(packet + bytes(20)) == D


@pytest.mark.parametrize(
    "packet",
    [
        b"",
        bytes(19),
        b"\x60" + build_ipv4_udp(D)[1:],  # IPv6 version nibble
        build_ipv4_udp(D)[:9] + b"\x06" + build_ipv4_udp(D)[10:],  # TCP
        build_ipv4_udp(D)[:6] + b"\x20\x00" + build_ipv4_udp(D)[8:],  # more fragments
        build_ipv4_udp(D)[:2] + b"\x00\x10" + build_ipv4_udp(D)[4:],  # total < header
        build_ipv4_udp(D)[:2] + b"\xff\xff" + build_ipv4_udp(D)[4:],  # total > bytes
        build_ipv4_udp(D)[:24] + b"\x00\xff" + build_ipv4_udp(D)[26:],  # UDP length too big
        build_ipv4_udp(D)[:24] + b"\x00\x02" + build_ipv4_udp(D)[26:],  # UDP length too small
    ],
)
def test_malformed(packet: bytes) -> None:
    with pytest.raises(Udp4Error):
        parse_ipv4_udp(packet)


@given(st.binary(max_size=80))
def test_any_bytes(packet: bytes) -> None:
    try:
        datagram = parse_ipv4_udp(packet)
    except Udp4Error:
        return
    assert len(datagram.payload) <= len(packet) - 28


@given(st.integers(0, 2**32 - 1), st.integers(0, 65535), st.binary(max_size=600))
def test_round_trip_property(address: int, port: int, payload: bytes) -> None:
    d = Datagram(IPv4Address(address), IPv4Address(address ^ 0xFF), port, port ^ 1, payload)
    assert parse_ipv4_udp(build_ipv4_udp(d)) == d
