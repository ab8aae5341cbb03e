"""Workgroup trust in namespaces: create, join by code, only members count.

Five real ``peerwork agent`` processes on a bridge (discovery on eth0, the
channel on 7445), driven by the real CLI: PC1 creates the workgroup; PC2 and
PC3 join with codes PC1 printed; PC4 made its own workgroup key under the
same name (a certificate signed by another workgroup's key); PC5 only claims
the name and then guesses codes. Checked: who is a member on every PC, the
channel refusing non-members both ways (``peerwork ping``), wrong codes
throttled and the code burnt, expired and reused codes refused; then PC1
removes PC3, which keeps announcing: revoked on every member, refused by
their channels, and a certificate it issues afterwards (old key) counts for
nobody.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from peerwork.proto.join_code import JoinCode
from tests.helpers.agent import PEERWORK, AgentProcess, init_home, peerwork
from tests.helpers.netns import NetnsLab, lab_factory  # noqa: F401  (fixture)

pytestmark = pytest.mark.root


def _agent(lab: NetnsLab, index: int, tmp_path: Path, *, create: bool = False) -> AgentProcess:
    """PC ``index``; ``create``: plain ``peerwork init`` (a workgroup key of its own),
    else ``init --join-later``."""
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
        create=create,
    )
    return AgentProcess(home, prefix=prefix)


def _cli(agent: AgentProcess, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return peerwork(agent.home, *args, prefix=agent.prefix, check=check, timeout=40)


def _states(agent: AgentProcess) -> dict[str, str]:
    peers = json.loads(_cli(agent, "peers", "--json").stdout)["peers"]
    return {p["name"]: p["state"] for p in peers}


def _wait_states(agent: AgentProcess, want: dict[str, str], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    seen: dict[str, str] = {}
    while time.monotonic() < deadline:
        seen = _states(agent)
        if all(seen.get(k) == v for k, v in want.items()):
            return
        time.sleep(0.3)
    raise AssertionError(f"{agent.home.name} sees {seen}, wanted {want}:\n{agent.log_text()}")


def _invite(agent: AgentProcess, *args: str) -> str:
    out = json.loads(_cli(agent, "invite", "--json", *args).stdout)
    return str(out["code"])


def _join(agent: AgentProcess, code: str) -> subprocess.CompletedProcess[str]:
    return _cli(agent, "join", code, check=False)


def _trust(agent: AgentProcess) -> dict[str, Any]:
    return agent.service("trust")


def test_join_by_code_and_only_members_count(lab_factory, tmp_path: Path) -> None:  # noqa: F811
    lab = lab_factory(5)
    agents = [
        _agent(lab, 1, tmp_path, create=True),
        # Set up as the issue says (plain init): a key of its own, which the join replaces.
        _agent(lab, 2, tmp_path, create=True),
        _agent(lab, 3, tmp_path),
        _agent(lab, 4, tmp_path, create=True),  # a workgroup key of its own, same name
        _agent(lab, 5, tmp_path),
    ]
    pc1, pc2, pc3, pc4, pc5 = agents
    watcher: subprocess.Popen[str] | None = None
    try:
        for agent in agents:
            agent.start()
        # Before anyone joins: PC1 holds the key and sees everyone else as outsiders.
        _wait_states(pc1, {"PC2": "not-a-member", "PC4": "not-a-member", "PC5": "not-a-member"})
        # PC1's event stream, as the TUI reads it, through the real CLI.
        watcher = subprocess.Popen(
            [*PEERWORK, "--home", str(pc1.home), "events", "--json"],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

        # PC2 joins with a code PC1 printed; the code is spent by that.
        code = _invite(pc1)
        assert JoinCode.parse(code).names(pc1.status()["peer"]["id"])
        res = _join(pc2, code)
        assert res.returncode == 0, res.stderr + pc1.log_text()
        assert "Joined workgroup OFFICE through PC1" in res.stdout
        assert "Replaced this PC's own workgroup key" in res.stdout, res.stdout
        reused = _join(pc3, code)
        assert reused.returncode == 1 and "no such join code" in reused.stderr, reused.stderr

        # PC3 with a fresh code.
        res = _join(pc3, _invite(pc1))
        assert res.returncode == 0, res.stderr

        members = {"PC1": "member", "PC2": "member", "PC3": "member"}
        outsiders = {"PC4": "not-a-member", "PC5": "not-a-member"}
        for agent in (pc1, pc2, pc3):
            want = {k: v for k, v in (members | outsiders).items() if k != agent.home.name.upper()}
            _wait_states(agent, want)
        peers = json.loads(_cli(pc2, "peers", "--json").stdout)["peers"]
        pc4_seen = next(p for p in peers if p["name"] == "PC4")
        assert "another workgroup's key" in pc4_seen["problem"], pc4_seen
        pc5_seen = next(p for p in peers if p["name"] == "PC5")
        assert "no membership certificate" in pc5_seen["problem"], pc5_seen
        text = _cli(pc1, "peers")
        assert "NOT A MEMBER" in text.stdout and "not members" in text.stderr, text
        assert any("PC5 is not a member" in w for w in _trust(pc1)["warnings"])

        # The channel: members talk, non-members are refused in both directions.
        assert json.loads(_cli(pc2, "ping", "PC3", "--json").stdout)["name"] == "PC3"
        assert json.loads(_cli(pc3, "ping", "PC1", "--json").stdout)["name"] == "PC1"
        out = _cli(pc1, "ping", "PC5", check=False)
        assert out.returncode == 1 and "not a peer the channel may call" in out.stderr, out.stderr
        out = _cli(pc5, "ping", "PC1", check=False)
        assert out.returncode == 1 and "not accepted" in out.stderr, out.stderr
        out = _cli(pc4, "ping", "PC2", check=False)
        assert out.returncode == 1, out.stdout

        # PC5 guesses: every wrong code refused, later ones held back, then the code is burnt.
        real = JoinCode.parse(_invite(pc1))
        wrong = JoinCode(real.hint, real.code_id, "A" * 10 if real.secret != "A" * 10 else "B" * 10)
        times = []
        for _ in range(5):
            started = time.monotonic()
            res = _join(pc5, wrong.text())
            times.append(time.monotonic() - started)
            assert res.returncode == 1, res.stdout
            assert "wrong join code" in res.stderr or "no such join code" in res.stderr, res.stderr
        print(f"wrong-code answers took {[round(t, 2) for t in times]} s")
        assert max(times[3:]) >= 1.0, times  # the throttle held the later ones back
        res = _join(pc5, real.text())
        assert res.returncode == 1 and "no such join code" in res.stderr, res.stderr
        assert _trust(pc1)["details"]["joins"]["wrong"] >= 4

        # An expired code is refused too.
        short = _invite(pc1, "--ttl", "1s")
        time.sleep(1.5)
        res = _join(pc5, short)
        assert res.returncode == 1 and "no such join code" in res.stderr, res.stderr

        # PC1 removes PC3: PC2 gets the new key, PC3 keeps announcing and is revoked everywhere.
        removed = json.loads(_cli(pc1, "remove-peer", "PC3", "--json").stdout)
        assert removed["rekeyed"] == ["PC2"] and removed["unreachable"] == [], removed
        for agent in (pc1, pc2):
            _wait_states(agent, {"PC3": "revoked", "PC5": "not-a-member"})
        _wait_states(pc1, {"PC2": "member"})
        _wait_states(pc2, {"PC1": "member"})
        assert json.loads(_cli(pc2, "ping", "PC1", "--json").stdout)["name"] == "PC1"
        out = _cli(pc3, "ping", "PC1", check=False)
        assert out.returncode == 1, out.stdout
        out = _cli(pc1, "ping", "PC3", check=False)
        assert out.returncode == 1 and "not a peer the channel may call" in out.stderr, out.stderr
        # PC3 still holds the old key: what it certifies now counts for nobody.
        res = _join(pc5, _invite(pc3))
        assert res.returncode == 0, res.stderr + pc3.log_text()
        _wait_states(pc1, {"PC5": "not-a-member"})
        _wait_states(pc2, {"PC5": "not-a-member"})
        peers = json.loads(_cli(pc1, "peers", "--json").stdout)["peers"]
        pc5_seen = next(p for p in peers if p["name"] == "PC5")
        assert "another workgroup's key" in pc5_seen["problem"], pc5_seen
        # The removed PC cannot come back by code.
        res = _cli(pc3, "join", "--again", _invite(pc1), check=False)
        assert res.returncode == 1 and "removed from the workgroup" in res.stderr, res.stderr
        # A member of a workgroup with others is told so rather than joining twice.
        res = _join(pc2, _invite(pc1))
        assert res.returncode == 1 and "already a member" in res.stderr, res.stderr
        # A key of its own that admitted nobody (PC4's) is replaced by a join.
        res = _join(pc4, _invite(pc2))
        assert res.returncode == 0 and "Replaced" in res.stdout, res.stderr
        _wait_states(pc1, {"PC4": "member"})

        watcher.terminate()
        lines = watcher.communicate(timeout=10)[0].splitlines()
        events = [json.loads(line) for line in lines]
        kinds = [e["kind"] for e in events]
        joined = [e["payload"]["name"] for e in events if e["kind"] == "member-joined"]
        assert joined == ["PC2", "PC3"], kinds
        assert "join-refused" in kinds and "member-removed" in kinds, kinds
        states = {
            (e["payload"]["name"], e["payload"]["state"])
            for e in events
            if e["kind"] in ("peer-updated", "peer-added")
        }
        assert {("PC2", "member"), ("PC3", "member"), ("PC3", "revoked")} <= states, states

        for agent in (pc1, pc2):
            assert agent.proc is not None and agent.proc.poll() is None
            assert "Traceback" not in agent.log_text()
    finally:
        if watcher is not None and watcher.poll() is None:
            watcher.kill()
            watcher.wait(5)
        for agent in agents:
            agent.stop()


def test_a_member_that_was_off_during_a_removal_catches_up(
    lab_factory,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Revocation gossip: PC3, off while PC1 removed PC2, learns the signed list and the
    rotated key from a member when it is back, without a new code; PC2 asks too and
    gets nothing."""
    lab = lab_factory(3)
    agents = [
        _agent(lab, 1, tmp_path, create=True),
        _agent(lab, 2, tmp_path, create=True),
        _agent(lab, 3, tmp_path),
    ]
    pc1, pc2, pc3 = agents
    try:
        for agent in agents:
            agent.start()
        _wait_states(pc1, {"PC2": "not-a-member", "PC3": "not-a-member"})
        for agent in (pc2, pc3):
            res = _join(agent, _invite(pc1))
            assert res.returncode == 0, res.stderr
        _wait_states(pc1, {"PC2": "member", "PC3": "member"})

        pc3.stop()  # off while PC2 is removed: it misses the new key
        removed = json.loads(_cli(pc1, "remove-peer", "PC2", "--json").stdout)
        assert removed["rekeyed"] == [] and removed["revocation"] == 1, removed
        old_key = (pc3.home / "workgroup" / "workgroup.key").read_bytes()
        pc3.start()
        # Back on, PC3 sees PC1's certificate of a key it does not hold and asks PC1.
        _wait_states(pc3, {"PC1": "member", "PC2": "revoked"}, timeout=30)
        _wait_states(pc1, {"PC2": "revoked", "PC3": "member"})
        assert (pc3.home / "workgroup" / "workgroup.key").read_bytes() != old_key
        trust3 = _trust(pc3)["details"]
        assert trust3["key_id"] == _trust(pc1)["details"]["key_id"], trust3
        assert json.loads(_cli(pc3, "ping", "PC1", "--json").stdout)["name"] == "PC1"
        assert "caught up on revocation list 1" in pc1.log_text()
        # PC2 (removed) asks too: refused; it stays outside.
        old2 = (pc2.home / "workgroup" / "workgroup.key").read_bytes()
        refused = "had no catch-up for us: error 140: removed from the workgroup"
        deadline = time.monotonic() + 20
        while refused not in pc2.log_text() and time.monotonic() < deadline:
            time.sleep(0.3)
        assert refused in pc2.log_text(), pc2.log_text()
        assert (pc2.home / "workgroup" / "workgroup.key").read_bytes() == old2
        _wait_states(pc1, {"PC2": "revoked"})
        _wait_states(pc3, {"PC2": "revoked"})
        # A member of a workgroup with others still cannot join again without --again.
        res = _join(pc3, _invite(pc1))
        assert res.returncode == 1 and "join --again" in res.stderr, res.stderr
    finally:
        for agent in agents:
            agent.stop()


def test_join_sets_up_a_new_pc_and_runs_an_agent_for_the_join(
    lab_factory,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The issue's two commands and nothing else: plain ``init --invite`` on PC1,
    ``peerwork join CODE --workgroup OFFICE`` on a PC never set up and no agent running."""
    lab = lab_factory(2)
    pc1 = _agent(lab, 1, tmp_path, create=True)
    home2 = tmp_path / "pc2"
    prefix2 = lab.argv(lab.pc(2), [])
    pc2 = AgentProcess(home2, prefix=prefix2)
    try:
        pc1.start()
        code = _invite(pc1)
        no_group = peerwork(home2, "join", code, prefix=prefix2, check=False)
        assert no_group.returncode == 1 and "--workgroup" in no_group.stderr, no_group.stderr
        assert not (home2 / "peerwork.toml").exists()
        res = peerwork(
            home2, "join", code, "--workgroup", "office", "--name", "PC2", prefix=prefix2,
            check=False, timeout=90,
        )  # fmt: skip
        assert res.returncode == 0, res.stdout + res.stderr + pc1.log_text()
        assert "Initialised" in res.stdout and "starting one for the join" in res.stdout
        assert "Joined workgroup OFFICE through PC1" in res.stdout, res.stdout
        assert (home2 / "workgroup" / "member.crt").exists()
        # The join's agent is gone; the PC's own agent takes part as a member.
        pc2.start()
        _wait_states(pc1, {"PC2": "member"})
        _wait_states(pc2, {"PC1": "member"})
        assert json.loads(_cli(pc2, "ping", "PC1", "--json").stdout)["name"] == "PC1"
    finally:
        pc2.stop()
        pc1.stop()
