"""The gateway election between real agents: every member names the same gateway.

Four real ``peerwork agent`` processes in namespaces on a bridge (discovery on
eth0, the channel on 7445), all with an uplink configured (``[gateway]
uplink``; nothing is enabled, so no address or rule changes): PC1 creates the
workgroup, PC2 and PC3 join with codes PC1 printed (real ``peerwork invite`` /
``join``), PC4 made a workgroup key of its own under the same name and has
the highest priority of all. Each member's ``peerwork gateway status --json``
must name the same gateway — the higher-priority of PC2/PC3 tie, broken by
the lowest peer id — and PC4, not a member, must stand nowhere in the line.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from tests.helpers.agent import AgentProcess, init_home, peerwork
from tests.helpers.netns import NetnsLab, lab_factory  # noqa: F401  (fixture)

pytestmark = pytest.mark.root

PRIORITIES = {1: 5, 2: 9, 3: 9, 4: 100}


def _agent(lab: NetnsLab, index: int, tmp_path: Path, *init_args: str) -> AgentProcess:
    home = tmp_path / f"pc{index}"
    prefix = lab.argv(lab.pc(index), [])
    init_home(
        home,
        name=f"PC{index}",
        smb_port=0,
        channel_port=None,
        bind="0.0.0.0",
        discovery=True,
        interfaces=["eth0"],
        prefix=prefix,
        init_args=init_args,
    )
    path = home / "peerwork.toml"
    doc = tomlkit.parse(path.read_text())
    gateway = doc.setdefault("gateway", tomlkit.table())
    gateway["uplink"] = "wan0"  # capable: an uplink is configured (it need not exist to stand)
    gateway["priority"] = PRIORITIES[index]
    path.write_text(tomlkit.dumps(doc))
    return AgentProcess(home, prefix=prefix)


def _cli(agent: AgentProcess, *args: str) -> str:
    return peerwork(agent.home, *args, prefix=agent.prefix, timeout=40).stdout


def _election(agent: AgentProcess) -> dict[str, Any]:
    return dict(json.loads(_cli(agent, "gateway", "status", "--json"))["details"]["election"])


def _wait(agent: AgentProcess, check: Any, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen: dict[str, Any] = {}
    while time.monotonic() < deadline:
        seen = _election(agent)
        if check(seen):
            return seen
        time.sleep(0.3)
    raise AssertionError(f"{agent.home.name} sees {seen}:\n{agent.log_text()}")


def _line(election: dict[str, Any]) -> list[str]:
    return [c["name"] for c in election["succession"]]


def test_members_elect_the_same_gateway(lab_factory, tmp_path: Path) -> None:  # noqa: F811
    lab = lab_factory(4)
    agents = [
        _agent(lab, 1, tmp_path, "--create"),
        _agent(lab, 2, tmp_path),
        _agent(lab, 3, tmp_path),
        _agent(lab, 4, tmp_path, "--create"),  # its own key: never a member of ours
    ]
    pc1, pc2, pc3, pc4 = agents
    try:
        for agent in agents:
            agent.start()
        ids = {f"PC{i + 1}": a.status()["peer"]["id"] for i, a in enumerate(agents)}
        # Before anyone joins, PC1 holds the key and counts only itself.
        alone = _wait(pc1, lambda e: _line(e) == ["PC1"])
        assert alone["gateway"]["name"] == "PC1" and alone["gateway"]["priority"] == 5

        for joiner in (pc2, pc3):
            code = json.loads(_cli(pc1, "invite", "--json"))["code"]
            _cli(joiner, "join", code)

        tie = sorted(["PC2", "PC3"], key=lambda n: ids[n])
        want = [*tie, "PC1"]
        views = [_wait(a, lambda e: _line(e) == want) for a in (pc1, pc2, pc3)]
        for view in views:
            assert view["gateway"] == {"peer_id": ids[tie[0]], "name": tie[0], "priority": 9}
            assert view["stood_down"] == ""
        text = _cli(pc3, "gateway", "status")
        assert f"elected gateway: {tie[0]}; in line: {tie[0]} (9), {tie[1]} (9), PC1 (5)" in text
        # The outsider sees the members' records but its channel accepts none of them.
        outsider = _election(pc4)
        assert _line(outsider) == ["PC4"], outsider
        print(f"\nelected by PC1, PC2, PC3: {tie[0]} ({ids[tie[0]][:12]}…); line {want}")
    finally:
        for agent in agents:
            agent.stop()
