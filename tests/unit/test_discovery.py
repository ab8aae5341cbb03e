"""DiscoveryService without a network: start-up failures and the peer table's values."""

from __future__ import annotations

import ipaddress

import pytest

from peerwork.agents.discovery import DiscoveryService, PeerInfo
from peerwork.agents.service import ServiceState
from peerwork.config import DiscoverySection, PeerSection
from peerwork.errors import ConfigError
from peerwork.identity import Identity
from peerwork.netif import IfFlag, Interface, select_interfaces

LO = Interface("lo", 1, IfFlag.UP | IfFlag.LOOPBACK, (ipaddress.IPv4Interface("127.0.0.1/8"),))
DOCKER = Interface(
    "docker0", 3, IfFlag.UP | IfFlag.MULTICAST, (ipaddress.IPv4Interface("172.17.0.1/16"),)
)


def service(interfaces: list[Interface], configured: tuple[str, ...] = ()) -> DiscoveryService:
    events: list[tuple[str, dict[str, object]]] = []
    svc = DiscoveryService(
        identity=Identity.generate("t"),
        peer=PeerSection("PC1", "OFFICE"),
        settings=DiscoverySection(True, configured),
        roles=lambda: ["files"],
        smb_port=lambda: 4445,
        shares=lambda: [],
        emit=lambda kind, payload: events.append((kind, payload)),
        interfaces=lambda: interfaces,
    )
    svc.events = events  # type: ignore[attr-defined]
    return svc


async def test_no_usable_interface_fails_naming_the_setting() -> None:
    svc = service([LO, DOCKER])
    with pytest.raises(ConfigError):
        await svc.start()
    assert svc.state is ServiceState.FAILED
    assert "discovery.interfaces" in svc.reason
    assert "docker0: container or VPN device" in svc.reason
    assert svc.events[-1][0] == "service"  # type: ignore[attr-defined]
    assert svc.status().to_json()["state"] == "failed"


async def test_configured_missing_interface_fails() -> None:
    svc = service([LO], ("eth7",))
    with pytest.raises(ConfigError, match="eth7 no such interface"):
        await svc.start()
    assert svc.state is ServiceState.FAILED


async def test_stopped_service_has_an_empty_table_and_refresh_is_harmless() -> None:
    svc = service([LO])
    await svc.refresh()
    assert svc.peers() == [] and svc.neighbours() == []
    assert svc.announced_as == "PC1"


def test_peer_info_json() -> None:
    peer = PeerInfo(
        "PC2", "abc", "OFFICE", ("10.0.0.2",), 4445, ("files",), ("docs",), True, 1, 12.5
    )
    data = peer.to_json()
    assert data["addresses"] == ["10.0.0.2"] and data["verified"] is True
    assert data["shares"] == ["docs"] and data["smb_port"] == 4445
    later = PeerInfo(
        "PC2", "abc", "OFFICE", ("10.0.0.2",), 4445, ("files",), ("docs",), True, 1, 99.0
    )
    assert peer.same_as(later)


def test_addresses_on_our_subnets_come_first() -> None:
    eth0 = Interface(
        "eth0", 2, IfFlag.UP | IfFlag.MULTICAST, (ipaddress.IPv4Interface("192.168.1.20/24"),)
    )
    svc = service([LO, eth0])
    svc._selection = select_interfaces([LO, eth0], [])
    got = svc._order(["172.17.0.1", "10.8.0.2", "192.168.1.30"])
    assert got == ("192.168.1.30", "172.17.0.1", "10.8.0.2")
