"""Two gateway-capable PCs for failover: uplinks into a ``wan`` bridge, legs on the LAN.

``wan`` holds bridge ``wbr`` with 10.200.0.1; GW<i> has ``wan0`` 10.200.0.<i+1>
(discovery and the channel run there, since a standby's ``lan0`` has no
address) and ``lan0`` on the lab's LAN bridge with no address. GW1 (priority
10) creates the workgroup; :func:`join_pair` makes GW2 (priority 5) a member
through the real ``invite``/``join`` CLI. Shared by
``tests/integration/test_gateway_failover.py`` and ``bench/gateway.py``.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import tomlkit

from tests.helpers.agent import AgentProcess, init_home, peerwork
from tests.helpers.netns import NetnsLab

WAN = "10.200.0.1"
LEASE_TIME = 20  # udhcpc renews at half of it: the renewal after failover comes soon


def gateway_agent(lab: NetnsLab, wan: str, index: int, tmp_path: Path, *init: str) -> AgentProcess:
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


def cli(agent: AgentProcess, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return peerwork(agent.home, *args, prefix=agent.prefix, check=check, timeout=60)


def details(agent: AgentProcess) -> dict[str, Any]:
    return dict(json.loads(cli(agent, "gateway", "status", "--json").stdout)["details"])


def wait(what: str, check: Any, timeout: float = 30, step: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


def lan_addresses(lab: NetnsLab, agent: AgentProcess) -> str:
    ns = agent.prefix[3]
    return lab.run(ns, ["ip", "-4", "-o", "addr", "show", "dev", "lan0"]).stdout


def build_pair(lab: NetnsLab, tmp_path: Path) -> tuple[AgentProcess, AgentProcess]:
    """The ``wan`` bridge and both gateways' agents (not started)."""
    wan = lab.add_namespace("wan")
    lab.run(wan, ["ip", "link", "add", "wbr", "type", "bridge", "mcast_snooping", "0"])
    lab.run(wan, ["ip", "addr", "add", f"{WAN}/24", "dev", "wbr"])
    lab.run(wan, ["ip", "link", "set", "wbr", "up"])
    return gateway_agent(lab, wan, 1, tmp_path, "--create"), gateway_agent(lab, wan, 2, tmp_path)


def join_pair(gw1: AgentProcess, gw2: AgentProcess) -> None:
    """Both started: GW2 joins GW1's workgroup, and sees both in the line."""
    code = json.loads(cli(gw1, "invite", "--json").stdout)["code"]
    cli(gw2, "join", code)
    wait(
        "both gateways in GW2's line",
        lambda: [c["name"] for c in details(gw2)["election"]["succession"]] == ["GW1", "GW2"],
    )


def arm_pair(gw1: AgentProcess, gw2: AgentProcess) -> None:
    """GW1 serves, GW2 stands by."""
    enabled = cli(gw1, "gateway", "enable")
    assert "Gateway enabled" in enabled.stdout, enabled.stdout
    standby = cli(gw2, "gateway", "enable")
    assert "Standing by" in standby.stdout, standby.stdout + gw2.log_text()
    wait_pushed(gw2)


def wait_pushed(standby: AgentProcess) -> None:
    """Until ``standby`` has had a lease push (the gateway's heartbeat) this second."""

    def pushed() -> bool:
        age = details(standby)["failover"]["last_push_age"]
        return age is not None and age < 1.5

    wait("a lease push reaching the standby", pushed)


def kill_and_time_takeover(gw1: AgentProcess, gw2: AgentProcess, timeout: float = 20) -> float:
    """SIGKILL GW1's agent; seconds until GW2 reports itself active."""
    assert gw1.proc is not None
    killed = time.monotonic()
    gw1.proc.kill()
    gw1.proc.wait(10)
    wait("GW2 taking over", lambda: details(gw2)["mode"] == "active", timeout=timeout, step=0.1)
    gw1.proc = None
    return time.monotonic() - killed
