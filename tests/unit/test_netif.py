"""Interface listing and the choice of interfaces discovery announces on."""

from __future__ import annotations

import ipaddress
import socket
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.errors import ConfigError
from peerwork.netif import (
    _IFREQ_SIZE,
    IfFlag,
    Interface,
    list_interfaces,
    parse_if_inet6,
    parse_ifconf,
    select_interfaces,
)

LAN = IfFlag.UP | IfFlag.BROADCAST | IfFlag.MULTICAST | IfFlag.RUNNING


def iface(name: str, flags: IfFlag = LAN, *v4: str, index: int = 0) -> Interface:
    return Interface(name, index, flags, tuple(ipaddress.IPv4Interface(a) for a in v4))


MACHINE = [
    iface("lo", IfFlag.UP | IfFlag.LOOPBACK, "127.0.0.1/8"),
    iface("eth0", LAN, "192.168.1.20/24"),
    iface("wlan0", LAN, "169.254.3.4/16"),  # only link-local
    iface("docker0", LAN, "172.17.0.1/16"),
    iface("br-1a2b", LAN, "172.18.0.1/16"),
    iface("veth12ab", LAN, "10.0.0.1/24"),
    iface("virbr0", LAN, "192.168.122.1/24"),
    iface("tun0", IfFlag.UP | IfFlag.POINTOPOINT, "10.8.0.2/24"),
    iface("wg0", IfFlag.UP, "10.9.0.2/24"),
    iface("tailscale0", LAN, "100.64.0.3/32"),
    iface("zt7nnig26", LAN, "10.147.17.5/24"),
    iface("eth1", IfFlag.BROADCAST | IfFlag.MULTICAST, "10.1.1.1/24"),  # down
    iface("eth2", LAN),  # no address
]


def test_default_picks_only_the_real_lan() -> None:
    sel = select_interfaces(MACHINE, [])
    assert [i.name for i in sel.chosen] == ["eth0"]
    assert sel.ipv4_addresses == ("192.168.1.20",)
    reasons = dict(sel.skipped)
    assert reasons["lo"] == "loopback"
    assert reasons["docker0"] == "container or VPN device"
    assert reasons["wlan0"] == "no IPv4 address"
    assert reasons["eth1"] == "down"


def test_named_interfaces_are_honoured_even_lo_and_veth() -> None:
    sel = select_interfaces(MACHINE, ["lo", "veth12ab"])
    assert [i.name for i in sel.chosen] == ["lo", "veth12ab"]
    assert sel.ipv4_addresses == ("127.0.0.1", "10.0.0.1")


def test_named_missing_interface_is_reported_alongside_good_ones() -> None:
    sel = select_interfaces(MACHINE, ["eth0", "eth9"])
    assert [i.name for i in sel.chosen] == ["eth0"]
    assert ("eth9", "no such interface") in sel.skipped


def test_no_usable_named_interface_names_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"discovery\.interfaces.*eth9 no such interface"):
        select_interfaces(MACHINE, ["eth9"])


def test_nothing_usable_by_default_says_how_to_fix() -> None:
    with pytest.raises(ConfigError, match=r"no network interface.*set discovery\.interfaces"):
        select_interfaces([MACHINE[0], MACHINE[3]], [])


def test_list_interfaces_sees_loopback() -> None:
    found = {i.name: i for i in list_interfaces()}
    assert "lo" in found
    lo = found["lo"]
    assert lo.loopback
    assert ipaddress.IPv4Interface("127.0.0.1/8") in lo.ipv4
    assert lo.index == socket.if_nametoindex("lo")


def ifreq(name: bytes, family: int, addr: bytes) -> bytes:
    body = struct.pack("=HH4s", family, 0, addr)
    return name.ljust(16, b"\0") + body.ljust(_IFREQ_SIZE - 16, b"\0")


def test_parse_ifconf() -> None:
    buf = ifreq(b"lo", socket.AF_INET, bytes([127, 0, 0, 1])) + ifreq(
        b"eth0:1", socket.AF_INET, bytes([10, 0, 0, 9])
    )
    assert parse_ifconf(buf) == [
        ("lo", ipaddress.IPv4Address("127.0.0.1")),
        ("eth0:1", ipaddress.IPv4Address("10.0.0.9")),
    ]


def test_parse_if_inet6() -> None:
    text = (
        "00000000000000000000000000000001 01 80 10 80       lo\n"
        "fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n"
        "garbage line\n"
    )
    assert parse_if_inet6(text) == [
        ("lo", ipaddress.IPv6Interface("::1/128")),
        ("eth0", ipaddress.IPv6Interface("fe80::fc:ff:fe00:1/64")),
    ]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_parse_ifconf_hostile_bytes(buf: bytes) -> None:
    for name, addr in parse_ifconf(buf):
        assert isinstance(name, str) and isinstance(addr, ipaddress.IPv4Address)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_parse_if_inet6_hostile_text(text: str) -> None:
    for _name, addr in parse_if_inet6(text):
        assert isinstance(addr, ipaddress.IPv6Interface)
