"""Discovery between PCs in network namespaces: real mDNS over a veth bridge.

Each PC runs tests/helpers/discovery_runner.py (a DiscoveryService with a fresh
identity); the third-party view of the ``_smb._tcp`` and ``_device-info._tcp``
records comes both from python-zeroconf's own browser and from avahi-browse
against a private avahi-daemon (tests/helpers/avahi.py) in another namespace.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.avahi import Avahi
from tests.helpers.discovery_runner import Runner, start_runner
from tests.helpers.netns import NetnsLab, lab_factory  # noqa: F401  (fixture)

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]

Lab = Callable[..., NetnsLab]
SEEN_WITHIN = 2.0  # seconds from a peer announcing to the other listing it
GONE_WITHIN = 5.0


def ready(runner: Runner, timeout: float = 10) -> dict[str, object]:
    return runner.wait_for(lambda e: e["event"] in ("ready", "failed"), timeout, "ready")


def test_two_pcs_see_each_other_verified_and_goodbye(lab_factory: Lab) -> None:  # noqa: F811
    lab = lab_factory(2)
    pc1, pc2 = lab.pcs
    launched = time.monotonic()
    a = start_runner(lab, pc1, "--name", "PC1", "--shares", "docs,scans", "--smb-port", "4445")
    b = start_runner(
        lab, pc2, "--name", "PC2", "--shares", "accounts", "--roles", "files,printers",
        "--smb-port", "4446",
    )  # fmt: skip
    ra, rb = ready(a), ready(b)
    assert ra["event"] == rb["event"] == "ready", (ra, rb)
    seen_by_a = a.peer("PC2", SEEN_WITHIN + 1)
    seen_by_b = b.peer("PC1", SEEN_WITHIN + 1)
    # Timed from the moment the *other* service began starting (probe included).
    for seer, other in ((a, b), (b, a)):
        began = other.wait_for(lambda e: e["event"] == "starting", 0)["_t"]
        added = seer.wait_for(lambda e: e["event"] == "peer-added", 0)["_t"]
        assert added - began <= SEEN_WITHIN, f"listed {added - began:.2f} s after it started"
        print(f"listed {added - began:.2f} s after the other began starting")
    print(f"both listed {time.monotonic() - launched:.2f} s after launching the processes")

    assert seen_by_a["verified"] is True, seen_by_a
    assert seen_by_a["addresses"] == [pc2.address]
    assert seen_by_a["shares"] == ["accounts"]
    assert seen_by_a["roles"] == ["files", "printers"]
    assert seen_by_a["smb_port"] == 4446
    assert seen_by_a["workgroup"] == "OFFICE"
    assert seen_by_a["peer_id"] == rb["peer_id"]
    assert seen_by_b["verified"] is True, seen_by_b
    assert seen_by_b["addresses"] == [pc1.address]
    assert seen_by_b["shares"] == ["docs", "scans"]
    assert seen_by_b["peer_id"] == ra["peer_id"]
    # Neither lists itself.
    assert all(p["name"] != "PC1" for e in a.seen for p in e.get("peers", []))
    assert all(p["name"] != "PC2" for e in b.seen for p in e.get("peers", []))

    # A share added at run time reaches the other PC (refresh()).
    b.proc.send_signal(signal.SIGUSR1)
    updated = a.wait_for(
        lambda e: e["event"] == "peer-updated" and "late1" in e["payload"]["shares"],
        3,
        "peer-updated with the new share",
    )
    assert updated["payload"]["verified"] is True

    b.proc.send_signal(signal.SIGTERM)
    stopped_at = time.monotonic()
    b.wait_for(lambda e: e["event"] == "stopped", 5, "clean stop")
    removed = a.wait_for(
        lambda e: e["event"] == "peer-removed" and e["payload"]["name"] == "PC2",
        GONE_WITHIN,
        "peer-removed after goodbye",
    )
    assert removed["_t"] - stopped_at <= GONE_WITHIN
    assert removed["peers"] == []


def test_forged_record_is_listed_unverified(lab_factory: Lab) -> None:  # noqa: F811
    lab = lab_factory(2)
    honest = start_runner(lab, lab.pc(1), "--name", "HONEST")
    forger = start_runner(lab, lab.pc(2), "--name", "MALLORY", "--forge", "--shares", "payroll")
    assert ready(honest)["event"] == ready(forger)["event"] == "ready"
    entry = honest.peer("MALLORY", SEEN_WITHIN + 1)
    assert entry["verified"] is False
    assert entry["problem"] == "signature does not verify"
    assert entry["shares"] == ["payroll"]  # shown (as untrusted), not hidden
    # The forger itself checks HONEST's genuine record fine.
    assert forger.peer("HONEST", SEEN_WITHIN + 1)["verified"] is True


def test_name_conflict_renames_and_reports(lab_factory: Lab) -> None:  # noqa: F811
    lab = lab_factory(2)
    first = start_runner(lab, lab.pc(1), "--name", "FRONTDESK")
    assert ready(first)["event"] == "ready"
    second = start_runner(lab, lab.pc(2), "--name", "FRONTDESK")
    conflict = second.wait_for(lambda e: e["event"] == "name-conflict", 10, "name-conflict")
    assert conflict["payload"]["announced_as"] == "FRONTDESK-2"
    assert "FRONTDESK" in conflict["payload"]["message"]
    details = ready(second)["details"]
    assert details["announced_as"] == "FRONTDESK-2"  # type: ignore[index]
    assert "already called FRONTDESK" in details["conflict"]  # type: ignore[index]
    assert ready(first)["details"]["conflict"] == ""  # type: ignore[index]
    # Both are listed by the other under their final names, with valid signatures.
    renamed = first.peer("FRONTDESK-2", SEEN_WITHIN + 1)
    assert renamed["verified"] is True
    assert renamed["addresses"] == [lab.pc(2).address]
    assert second.peer("FRONTDESK", SEEN_WITHIN + 1)["verified"] is True


def test_smb_and_device_info_records_for_file_managers(lab_factory: Lab) -> None:  # noqa: F811
    lab = lab_factory(2)
    pc = start_runner(lab, lab.pc(1), "--name", "SCANNER", "--smb-port", "4445", "--shares", "x")
    assert ready(pc)["event"] == "ready"
    browser = start_runner(lab, lab.pc(2), "--browse", "_smb._tcp,_device-info._tcp")
    smb = browser.wait_for(lambda e: e.get("type") == "_smb._tcp.local.", 5, "the _smb._tcp record")
    assert smb["name"] == "SCANNER._smb._tcp.local."
    assert smb["port"] == 4445
    assert smb["server"] == "SCANNER.local."
    assert smb["addresses"] == [lab.pc(1).address]
    info = browser.wait_for(
        lambda e: e.get("type") == "_device-info._tcp.local.", 5, "the _device-info record"
    )
    assert info["name"] == "SCANNER._device-info._tcp.local."
    assert info["txt"] == {"model": "MacSamba"}


def test_no_smb_record_without_a_file_service(lab_factory: Lab) -> None:  # noqa: F811
    lab = lab_factory(2)
    pc = start_runner(lab, lab.pc(1), "--name", "NOFILES", "--roles", "")
    browser = start_runner(lab, lab.pc(2), "--browse", "_smb._tcp,_device-info._tcp")
    assert ready(pc)["event"] == "ready"
    browser.wait_for(lambda e: e.get("type") == "_device-info._tcp.local.", 5, "device-info")
    time.sleep(1)
    browser.proc.send_signal(signal.SIGTERM)
    browser.wait_for(lambda e: e["event"] == "stopped", 5, "browser stop")
    assert not any(e.get("type") == "_smb._tcp.local." for e in browser.seen)


def test_unusable_interface_fails_with_the_setting_named(lab_factory: Lab) -> None:  # noqa: F811
    lab = lab_factory(1)
    pc = start_runner(lab, lab.pc(1), "--name", "PC1", "--iface", "eth9")
    failed = ready(pc)
    assert failed["event"] == "failed"
    assert "discovery.interfaces" in failed["reason"]  # type: ignore[operator]
    assert "eth9 no such interface" in failed["reason"]  # type: ignore[operator]


def test_loopback_when_named_explicitly(lab_factory: Lab) -> None:  # noqa: F811
    # Two services in one namespace over lo (multicast switched on inside the
    # namespace only): what single-machine demos use.
    lab = lab_factory(1, multicast_lo=True)
    a = start_runner(lab, lab.pc(1), "--name", "ALPHA", "--iface", "lo")
    b = start_runner(lab, lab.pc(1), "--name", "BETA", "--iface", "lo")
    assert ready(a)["event"] == ready(b)["event"] == "ready"
    entry = a.peer("BETA", SEEN_WITHIN + 1)
    assert entry["verified"] is True
    assert entry["addresses"] == ["127.0.0.1"]


def test_avahi_browse_sees_smb_and_device_info(
    lab_factory: Lab,  # noqa: F811
    tmp_path: Path,
) -> None:
    """What Linux file managers (through avahi) see: one _smb._tcp host, its device info."""
    lab = lab_factory(2)
    pc = start_runner(lab, lab.pc(1), "--name", "FILESRV", "--smb-port", "4445", "--shares", "x")
    avahi = Avahi(lab, lab.pc(2), tmp_path / "avahi")
    assert ready(pc)["event"] == "ready"
    # -p lines: =;iface;proto;name;type;domain;host;address;port;txt
    smb = [r for r in avahi.browse("_smb._tcp") if r[3] == "FILESRV"]
    assert smb, "avahi-browse did not resolve FILESRV._smb._tcp"
    assert smb[0][6:9] == ["FILESRV.local", lab.pc(1).address, "4445"]
    info = [r for r in avahi.browse("_device-info._tcp") if r[3] == "FILESRV"]
    assert info and info[0][9] == '"model=MacSamba"'


@pytest.mark.parametrize("host_name", ["FRONTDESK", "debian-box"])
def test_coexists_with_a_publishing_avahi_daemon(
    lab_factory: Lab,  # noqa: F811
    tmp_path: Path,
    host_name: str,
) -> None:
    """avahi-daemon already answers mDNS on this PC (FIELD-NOTES: one responder per host).

    Both share 5353 (SO_REUSEPORT) and each answers for its own names; with the
    PC's host name equal to the peer name our A record carries the same
    address as avahi's, so avahi sees no conflict and renames nothing.
    """
    lab = lab_factory(2)
    avahi = Avahi(lab, lab.pc(1), tmp_path / "avahi", publish=True, host_name=host_name)
    ours = start_runner(lab, lab.pc(1), "--name", "FRONTDESK", "--smb-port", "4445")
    other = start_runner(lab, lab.pc(2), "--name", "OTHER")
    assert ready(ours)["details"]["conflict"] == ""  # type: ignore[index]
    assert ready(other)["event"] == "ready"
    assert other.peer("FRONTDESK", SEEN_WITHIN + 1)["verified"] is True
    assert ours.peer("OTHER", SEEN_WITHIN + 1)["verified"] is True
    names = {r[3] for r in avahi.browse("_peerwork._tcp")}
    assert names == {"FRONTDESK", "OTHER"}
    time.sleep(1)  # avahi reports a conflict within a probe cycle if it sees one
    log = avahi.log.read_text()
    assert "conflict" not in log.lower(), log
    assert f"Host name is {host_name}.local" in log


def test_a_services_own_advert_reaches_avahi_browse(
    lab_factory: Lab,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A test-only service publishes through the board; discovery has no code for it."""
    lab = lab_factory(2)
    pc = start_runner(
        lab, lab.pc(1), "--name", "GADGET", "--roles", "", "--advert",
        "_pwtest._tcp:5999:_demo._sub._pwtest._tcp:colour=blue",
    )  # fmt: skip
    avahi = Avahi(lab, lab.pc(2), tmp_path / "avahi")
    watcher = start_runner(lab, lab.pc(2), "--name", "WATCHER")
    assert ready(pc)["event"] == ready(watcher)["event"] == "ready"
    own = [r for r in avahi.browse("_pwtest._tcp") if r[3] == "GADGET"]
    assert own, "avahi-browse did not resolve GADGET._pwtest._tcp"
    assert own[0][6:9] == ["GADGET.local", lab.pc(1).address, "5999"]
    assert own[0][9] == '"colour=blue"'
    sub = [r for r in avahi.browse("_demo._sub._pwtest._tcp") if r[3] == "GADGET"]
    assert sub and sub[0][8] == "5999", "the subtype is not browsable"
    # Its role and port are in the signed record peers act on.
    entry = watcher.peer("GADGET", SEEN_WITHIN + 1)
    assert entry["verified"] is True and entry["roles"] == ["test"]
    assert entry["ports"] == {"test": 5999}
    # The usual records are unchanged beside it.
    assert "GADGET" in [r[3] for r in avahi.browse("_device-info._tcp")]
    assert "GADGET" in [r[3] for r in avahi.browse("_peerwork._tcp")]
