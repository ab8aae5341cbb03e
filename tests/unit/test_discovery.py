"""DiscoveryService without a network: start-up failures and the peer table's values."""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path

import pytest

from peerwork.agents.adverts import AdvertBoard, DnsSdRecord, ServiceAdvert
from peerwork.agents.discovery import DiscoveryService, PeerInfo
from peerwork.agents.files import files_advert
from peerwork.agents.service import ServiceState
from peerwork.config import DiscoverySection, PeerSection
from peerwork.errors import ConfigError
from peerwork.identity import Identity
from peerwork.netif import IfFlag, Interface, select_interfaces
from peerwork.peer_trust import Trust

LO = Interface("lo", 1, IfFlag.UP | IfFlag.LOOPBACK, (ipaddress.IPv4Interface("127.0.0.1/8"),))
DOCKER = Interface(
    "docker0", 3, IfFlag.UP | IfFlag.MULTICAST, (ipaddress.IPv4Interface("172.17.0.1/16"),)
)


def service(interfaces: list[Interface], configured: tuple[str, ...] = ()) -> DiscoveryService:
    events: list[tuple[str, dict[str, object]]] = []
    board = AdvertBoard()
    board.set("files", files_advert(4445, ["docs"]))
    svc = DiscoveryService(
        identity=Identity.generate("t"),
        peer=PeerSection("PC1", "OFFICE"),
        settings=DiscoverySection(True, configured),
        board=board,
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
        "PC2", "abc", "OFFICE", ("10.0.0.2",), ("files",), Trust.VERIFIED, 1, 12.5,
        ports={"smb": 4445}, shares=("docs",), seq=7,
    )  # fmt: skip
    data = peer.to_json()
    assert data["addresses"] == ["10.0.0.2"] and data["verified"] is True
    assert data["state"] == "verified" and data["roles"] == ["files"]
    assert data["shares"] == ["docs"] and data["smb_port"] == 4445
    assert data["ports"] == {"smb": 4445} and data["seq"] == 7
    later = PeerInfo(
        "PC2", "abc", "OFFICE", ("10.0.0.2",), ("files",), Trust.VERIFIED, 1, 99.0,
        ports={"smb": 4445}, shares=("docs",), seq=7,
    )  # fmt: skip
    assert peer.same_as(later)
    assert not peer.same_as(dataclasses.replace(later, trust=Trust.IMPOSTOR))


def test_addresses_on_our_subnets_come_first() -> None:
    eth0 = Interface(
        "eth0", 2, IfFlag.UP | IfFlag.MULTICAST, (ipaddress.IPv4Interface("192.168.1.20/24"),)
    )
    svc = service([LO, eth0])
    svc._selection = select_interfaces([LO, eth0], [])
    got = svc._order(["172.17.0.1", "10.8.0.2", "192.168.1.30"])
    assert got == ("192.168.1.30", "172.17.0.1", "10.8.0.2")


def test_signed_record_carries_board_ports_addresses_and_a_growing_seq(tmp_path: Path) -> None:
    board = AdvertBoard()
    svc = DiscoveryService(
        identity=Identity.generate("t"),
        peer=PeerSection("PC1", "OFFICE"),
        settings=DiscoverySection(True, ()),
        board=board,
        state_dir=tmp_path,
        clock=lambda: 1.0,  # a clock stuck in 1970: the persisted counter still grows
    )
    board.set("files", files_advert(4445, ["docs"]))
    board.set("channel", ServiceAdvert(ports={"ctl": 7445}))
    first = svc._peer_txt(["10.0.0.1"])
    assert first["ports"] == "ctl:7445,smb:4445" and first["a"] == "10.0.0.1"
    assert first["roles"] == "files" and first["sh"] == "docs"
    assert svc._peer_txt(["10.0.0.1"])["seq"] == first["seq"]  # nothing changed
    moved = svc._peer_txt(["10.0.0.2"])
    assert int(moved["seq"] or 0) > int(first["seq"] or 0)
    # A restart continues from the saved number.
    again = DiscoveryService(
        identity=Identity.generate("t"),
        peer=PeerSection("PC1", "OFFICE"),
        settings=DiscoverySection(True, ()),
        board=board,
        state_dir=tmp_path,
        clock=lambda: 1.0,
    )
    assert int(again._peer_txt(["10.0.0.2"])["seq"] or 0) > int(moved["seq"] or 0)


def test_an_oversized_or_bad_advert_is_left_out_and_reported() -> None:
    board = AdvertBoard()
    svc = DiscoveryService(
        identity=Identity.generate("t"),
        peer=PeerSection("PC1", "OFFICE"),
        settings=DiscoverySection(True, ()),
        board=board,
    )
    board.set("files", files_advert(4445, ["docs"]))
    huge = {f"x{i}": "y" * 240 for i in range(5)}
    board.set("huge", ServiceAdvert(roles=("printers",), extra=huge))
    board.set("sneaky", ServiceAdvert(extra={"id": "someone-else"}))
    txt = svc._peer_txt(["10.0.0.1"])
    assert txt["sh"] == "docs" and "x0" not in txt and txt["id"] != "someone-else"
    assert txt["roles"] == "files,printers"
    problems = svc.details()["advert_problems"]
    assert "at most 1300" in problems["huge"] and "reserved" in problems["sneaky"]


def test_a_services_records_with_subtypes_and_a_bad_one_reported() -> None:
    board = AdvertBoard()
    svc = DiscoveryService(
        identity=Identity.generate("t"),
        peer=PeerSection("PC1", "OFFICE"),
        settings=DiscoverySection(True, ()),
        board=board,
        interfaces=lambda: [LO],
    )
    svc._selection = select_interfaces([LO], ["lo"])
    ipp = DnsSdRecord("_ipp._tcp", 631, {"rp": "ipp/print"}, ("_universal._sub._ipp._tcp",))
    board.set("printers", ServiceAdvert(roles=("printers",), records=(ipp,)))
    board.set(
        "broken", ServiceAdvert(records=(DnsSdRecord("_x._tcp", 1, {}, ("_y._sub._z._tcp",)),))
    )
    infos = svc._build_infos()
    by_type = {i.type: i for i in infos.values()}
    assert by_type["_ipp._tcp.local."].name == "PC1._ipp._tcp.local."
    sub = by_type["_universal._sub._ipp._tcp.local."]
    assert sub.name == "PC1._ipp._tcp.local." and sub.port == 631
    assert len({i.key for i in infos.values()}) == len(infos)
    assert "_x._tcp" in svc.details()["advert_problems"]["broken"]
    assert "_x._tcp.local." not in by_type


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (DnsSdRecord("_x._tcp", 70000), "not 0-65535"),
        (DnsSdRecord("_x._tcp", 1, {"k": "v" * 300}), "longer than 255"),
        (DnsSdRecord("_x._tcp", 1, {f"k{i}": "v" * 200 for i in range(8)}), "longer than 1300"),
        (DnsSdRecord("_x._tcp", 1, instance="n" * 64), "1 to 63 bytes"),
    ],
)
def test_oversized_or_invalid_records_are_reported_not_announced(
    record: DnsSdRecord, problem: str
) -> None:
    board = AdvertBoard()
    svc = DiscoveryService(
        identity=Identity.generate("t"),
        peer=PeerSection("PC1", "OFFICE"),
        settings=DiscoverySection(True, ()),
        board=board,
    )
    svc._selection = select_interfaces([LO], ["lo"])
    board.set("bad", ServiceAdvert(records=(record,)))
    infos = svc._build_infos()
    assert {i.type for i in infos.values()} == {"_peerwork._tcp.local.", "_device-info._tcp.local."}
    assert problem in svc.details()["advert_problems"]["bad"]


def test_a_membership_certificate_goes_in_before_a_long_share_list() -> None:
    """With six addresses and a full share list the record is too small for both:
    the short key that decides trust (the certificate) is the one kept."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from peerwork.agents.adverts import AdvertBoard, ServiceAdvert
    from peerwork.agents.files import files_advert
    from peerwork.agents.own_records import RecordSigner
    from peerwork.agents.record_seq import SequenceCounter
    from peerwork.identity import Identity
    from peerwork.workgroup import issue

    identity = Identity.generate("frontdesk")
    cert = issue(
        Ed25519PrivateKey.generate(),
        peer_id=identity.peer_id,
        name="FRONTDESK-12345",
        workgroup="OFFICE-WORKGRP1",
        now=1e9,
    )
    board = AdvertBoard()
    board.set("files", files_advert(445, [f"share-number-{n:03d}" for n in range(100)]))
    board.set("trust", ServiceAdvert(extra={"mc": cert.to_text()}))
    board.set(
        "others",
        ServiceAdvert(
            roles=("printers", "mail", "gateway-capable"),
            ports={"ctl": 7445, "ipp": 631, "smtp": 25, "pop3": 110},
        ),
    )
    signer = RecordSigner(identity, "OFFICE-WORKGRP1", SequenceCounter(None, lambda: 1e9))
    addresses = [f"192.168.100.{n}" for n in range(6)]
    txt = signer.peer_txt("FRONTDESK-12345", addresses, board)
    assert txt["mc"] == cert.to_text()
    assert "files" in signer.problems and "trust" not in signer.problems
