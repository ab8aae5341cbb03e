"""Two agents in two namespaces talk over the channel; a third namespace attacks it.

Real ``peerwork agent`` processes on a bridge (discovery on eth0, the channel
on its default port 7445), the real ``peerwork ping`` CLI, and hostile clients
from ``tests/helpers/channel_probe.py`` in the third namespace: a self-made
certificate claiming PC2's peer id, a valid peerwork identity nobody
announced, garbage, and stalled handshakes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from tests.helpers.agent import AgentProcess, init_home, peerwork
from tests.helpers.netns import NetnsLab, lab_factory  # noqa: F401  (fixture)

pytestmark = pytest.mark.root

HANDSHAKE_TIMEOUT = 2


def _agent(lab: NetnsLab, index: int, tmp_path: Path) -> AgentProcess:
    home = tmp_path / f"pc{index}"
    prefix = lab.argv(lab.pc(index), [])
    init_home(
        home,
        name=f"PC{index}",
        smb_port=0,
        channel_port=None,  # the default, 7445, as on a real office PC
        bind="0.0.0.0",
        discovery=True,
        interfaces=["eth0"],
        prefix=prefix,
    )
    path = home / "peerwork.toml"
    doc = tomlkit.parse(path.read_text())
    doc["channel"]["handshake_timeout"] = HANDSHAKE_TIMEOUT  # type: ignore[index]
    # The request counters here count this test's requests only: no account replication.
    doc["account_sync"]["enabled"] = False  # type: ignore[index]
    path.write_text(tomlkit.dumps(doc))
    return AgentProcess(home, prefix=prefix)


def _channel(agent: AgentProcess) -> dict[str, Any]:
    return agent.service("channel")


def _wait_verified(agent: AgentProcess, name: str, prefix: list[str]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        out = peerwork(agent.home, "peers", "--json", prefix=prefix).stdout
        if any(p["name"] == name and p["verified"] for p in json.loads(out)["peers"]):
            return
        time.sleep(0.2)
    raise AssertionError(f"{name} never appeared verified:\n{agent.log_text()}")


def _probe(lab: NetnsLab, *args: str, timeout: float = 30) -> dict[str, Any]:
    res = lab.run(
        lab.pc(3),
        [sys.executable, "-m", "tests.helpers.channel_probe", *args],
        check=False,
        timeout=timeout,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


def _ping(agent: AgentProcess, peer: str, prefix: list[str]) -> dict[str, Any]:
    out = peerwork(agent.home, "ping", peer, "--json", prefix=prefix, timeout=30).stdout
    return dict(json.loads(out))


def test_agents_exchange_requests_and_refuse_everyone_else(
    lab_factory,  # noqa: F811
    tmp_path: Path,
) -> None:
    lab = lab_factory(3)
    pc1, pc2 = lab.pc(1), lab.pc(2)
    p1, p2 = lab.argv(pc1, []), lab.argv(pc2, [])
    agent1, agent2 = _agent(lab, 1, tmp_path), _agent(lab, 2, tmp_path)
    with agent1, agent2:
        id1 = agent1.status()["peer"]["id"]
        id2 = agent2.status()["peer"]["id"]
        assert _channel(agent1)["ports"] == {"ctl": 7445}
        status_json = json.loads(peerwork(agent1.home, "status", "--json", prefix=p1).stdout)
        assert {"name": "channel", "ctl": 7445} in [
            {"name": s["name"], "ctl": s["ports"].get("ctl")} for s in status_json["services"]
        ]
        _wait_verified(agent1, "PC2", p1)
        _wait_verified(agent2, "PC1", p2)

        # Both directions, through the real CLI and each agent's channel client.
        reply = _ping(agent2, "PC1", p2)
        assert (reply["name"], reply["peer_id"], reply["workgroup"]) == ("PC1", id1, "OFFICE")
        assert _ping(agent1, "PC2", p1)["peer_id"] == id2
        assert "hello from PC2" in agent1.log_text()
        res = peerwork(agent2.home, "ping", "NOSUCH", prefix=p2, check=False)
        assert res.returncode == 1 and "no verified peer 'NOSUCH'" in res.stderr, res.stderr
        assert _channel(agent1)["details"]["counters"]["requests"] == 1

        # A certificate of its own making that claims PC2's peer id: no handshake.
        out = _probe(lab, "self-signed", pc1.address, "7445", "--peer-id", id2)
        assert out["result"] in ("refused", "closed"), out
        # A valid peerwork key that discovery never verified: refused, no request read.
        out = _probe(lab, "fresh", pc1.address, "7445", "--peer-id", id1)
        assert out["result"] == "refused" and out["error"] == "ChannelRefused", out
        assert "not accepted" in out["detail"]
        # The stranger refuses a server that is not the peer id it asked for, too.
        out = _probe(lab, "fresh", pc1.address, "7445", "--peer-id", id2)
        assert out["error"] == "PeerMismatch", out
        # Garbage instead of a ClientHello: dropped at once.
        out = _probe(lab, "garbage", pc1.address, "7445")
        assert out["after"] < 5, out

        counters = _channel(agent1)["details"]["counters"]
        assert counters["requests"] == 1, counters  # only PC2's hello ever reached a handler
        assert counters["refused_peer"] >= 1 and counters["failed_handshake"] >= 2, counters

        # Eight stalled handshakes from PC3 (its whole per-address allowance) while PC2 is served.
        hold = HANDSHAKE_TIMEOUT + 6
        staller = lab.popen(
            lab.pc(3),
            [sys.executable, "-m", "tests.helpers.channel_probe", "stall", pc1.address, "7445",
             "--count", "8", "--hold", str(hold)],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        time.sleep(0.5)
        started = time.monotonic()
        assert _ping(agent2, "PC1", p2)["peer_id"] == id1
        assert time.monotonic() - started < 5
        stdout, _ = staller.communicate(timeout=hold + 20)
        closed = json.loads(stdout.strip().splitlines()[-1])["closed_after"]
        print(f"stalled handshakes closed after {closed} s; PC2 served meanwhile")
        assert all(c is not None and c < HANDSHAKE_TIMEOUT + 3 for c in closed), closed
        assert _channel(agent1)["details"]["connections"] == 0
        assert agent1.proc is not None and agent1.proc.poll() is None
        assert _ping(agent2, "PC1", p2)["name"] == "PC1"
        assert "Traceback" not in agent1.log_text()
