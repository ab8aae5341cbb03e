"""Failover between two gateway-capable PCs, with the same leases, in namespaces.

Topology (all namespaces this test creates): ``wan`` holds a bridge with
10.200.0.1 and the two gateways' uplinks (GW1 10.200.0.2, GW2 10.200.0.3,
discovery and the channel on ``wan0``); both gateways have a leg ``lan0`` on
the LAN bridge with no address; PC1 is on the LAN bridge with busybox
``udhcpc``. GW1 creates the workgroup, GW2 joins with its code (real CLI).
GW1 (priority 10) enables and serves; GW2 (priority 5) enables and stands by,
receiving GW1's leases over the channel. Then GW1's agent is killed with
SIGKILL; GW2 must take over within 10 s (the time is printed). GW1 is started
again: its leftover changes are undone (192.168.0.1 leaves its lan0) and it
stands by behind GW2 although its priority is higher (the incumbent rule).
PC1 renews to the same address from GW2, and ``dig pc1.office.lan`` answers.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from tests.helpers.agent import AgentProcess, init_home, peerwork
from tests.helpers.gateway_lab import client_script, lease_of, udhcpc
from tests.helpers.netns import NetnsLab, lab_factory  # noqa: F401  (fixture)

pytestmark = pytest.mark.root

WAN = "10.200.0.1"
LEASE_TIME = 20  # udhcpc renews at half of it: the renewal after failover comes soon


def _gateway(lab: NetnsLab, wan: str, index: int, tmp_path: Path, *init: str) -> AgentProcess:
    ns = lab.add_namespace(f"gw{index}")
    lab.link(wan, f"u{index}", ns, "wan0")
    lab.run(wan, ["ip", "link", "set", f"u{index}", "master", "wbr"])
    lab.plug(ns, "lan0")
    lab.run(ns, ["ip", "addr", "add", f"10.200.0.{index + 1}/24", "dev", "wan0"])
    lab.run(ns, ["ip", "link", "set", "wan0", "multicast", "on"])
    lab.run(ns, ["ip", "route", "add", "default", "via", WAN])
    lab.run(ns, ["ip", "route", "add", "224.0.0.0/4", "dev", "wan0"])
    home = tmp_path / f"gw{index}"
    prefix = lab.argv(ns, [])
    init_home(
        home,
        name=f"GW{index}",
        smb_port=0,
        channel_port=None,
        bind="0.0.0.0",
        discovery=True,
        interfaces=["wan0"],
        prefix=prefix,
        init_args=init,
    )
    path = home / "peerwork.toml"
    doc = tomlkit.parse(path.read_text())
    gateway = doc.setdefault("gateway", tomlkit.table())
    gateway.update(
        {
            "uplink": "wan0",
            "lan": "lan0",
            "priority": 10 if index == 1 else 5,
            "upstreams": [WAN],
            "probe_seconds": 1.5,
            "lease_time": LEASE_TIME,
        }
    )
    for name in ("mail", "printers"):
        doc[name]["enabled"] = False  # type: ignore[index]
    path.write_text(tomlkit.dumps(doc))
    return AgentProcess(home, prefix=prefix)


def _cli(agent: AgentProcess, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return peerwork(agent.home, *args, prefix=agent.prefix, check=check, timeout=60)


def _details(agent: AgentProcess) -> dict[str, Any]:
    return dict(json.loads(_cli(agent, "gateway", "status", "--json").stdout)["details"])


def _wait(what: str, check: Any, timeout: float = 30, step: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


def _lan_addresses(lab: NetnsLab, agent: AgentProcess) -> str:
    ns = agent.prefix[3]
    return lab.run(ns, ["ip", "-4", "-o", "addr", "show", "dev", "lan0"]).stdout


def test_standby_takes_over_with_the_same_leases(lab_factory, tmp_path: Path) -> None:  # noqa: F811
    lab = lab_factory(1, addressed=False)
    (pc1,) = lab.pcs
    wan = lab.add_namespace("wan")
    lab.run(wan, ["ip", "link", "add", "wbr", "type", "bridge", "mcast_snooping", "0"])
    lab.run(wan, ["ip", "addr", "add", f"{WAN}/24", "dev", "wbr"])
    lab.run(wan, ["ip", "link", "set", "wbr", "up"])
    gw1 = _gateway(lab, wan, 1, tmp_path, "--create")
    gw2 = _gateway(lab, wan, 2, tmp_path)
    try:
        gw1.start()
        gw2.start()
        code = json.loads(_cli(gw1, "invite", "--json").stdout)["code"]
        _cli(gw2, "join", code)
        _wait(
            "both gateways in GW2's line",
            lambda: [c["name"] for c in _details(gw2)["election"]["succession"]] == ["GW1", "GW2"],
        )
        enabled = _cli(gw1, "gateway", "enable")
        assert "Gateway enabled" in enabled.stdout, enabled.stdout
        _wait("GW1 announcing the gateway role", lambda: _details(gw2)["election"] is not None)
        standby = _cli(gw2, "gateway", "enable")
        assert "Standing by" in standby.stdout, standby.stdout + gw2.log_text()
        assert _details(gw2)["mode"] == "standby"
        assert "192.168.0.1" not in _lan_addresses(lab, gw2)

        script = client_script(tmp_path, "udhcpc")
        udhcpc(lab, pc1, script, "pc1")
        first = lease_of(script)
        assert first["router"] == "192.168.0.1"

        def replicated() -> bool:
            rows = json.loads(_cli(gw2, "gateway", "leases", "--json").stdout)
            return any(r["address"] == first["ip"] and r["hostname"] == "pc1" for r in rows)

        _wait("GW2 keeping PC1's lease", replicated)

        # GW1's agent dies without a word.
        assert gw1.proc is not None
        killed = time.monotonic()
        gw1.proc.kill()
        gw1.proc.wait(10)
        _wait("GW2 taking over", lambda: _details(gw2)["mode"] == "active", timeout=20, step=0.1)
        failover = time.monotonic() - killed
        print(f"\nfailover: GW2 active {failover:.2f} s after GW1's agent was killed")
        assert failover < 10, failover
        assert "192.168.0.1/24" in _lan_addresses(lab, gw2)

        # GW1 comes back: cleans up what it left and stands by behind the incumbent.
        gw1.proc = None
        gw1.start()
        _wait("GW1 standing by", lambda: _details(gw1)["mode"] == "standby", timeout=30)
        assert "192.168.0.1" not in _lan_addresses(lab, gw1)
        assert _details(gw2)["mode"] == "active"

        # PC1 renews (at half the lease time) and keeps its address, now from GW2.
        Path(f"{script}.out").unlink()
        again = lease_of(script, timeout=3 * LEASE_TIME)
        assert again["ip"] == first["ip"], (first, again)
        answer = lab.run(
            pc1, ["dig", "@192.168.0.1", "+time=2", "+tries=2", "pc1.office.lan", "+short"]
        )
        assert answer.stdout.strip() == first["ip"], answer.stdout
    finally:
        gw2.stop()
        gw1.stop()
