"""Spoofing from a third PC: a replayed record and a fresh key claiming a known name.

Three namespaces on one bridge: real agents on PC1 (sharing ``docs``) and PC2,
and tests/helpers/mdns_attacker.py on PC3, which also listens on the SMB port
it announces so any client that falls for it is counted. On PC2,
``peerwork peers`` must never show PC3's address for PC1, ``peerwork get
//PC1/...`` must fetch PC1's file and never connect to PC3, and PC1 keeps
its name, also across a restart while the impostor is still announcing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.agent import PEERWORK, AgentProcess, lab_agent, peerwork
from tests.helpers.discovery_runner import Runner, start_runner
from tests.helpers.netns import NetnsLab, lab_factory  # noqa: F401  (fixture)

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]

ALICE_PW = "alice-pw-1"
ATTACKER_SCRIPT = Path(__file__).resolve().parents[1] / "helpers" / "mdns_attacker.py"


def _peers(home: Path, prefix: list[str]) -> list[dict[str, Any]]:
    return list(json.loads(peerwork(home, "peers", "--json", prefix=prefix).stdout)["peers"])


def _watch(
    home: Path,
    prefix: list[str],
    seconds: float,
    bad_address: str,
    until: Callable[[list[dict[str, Any]]], bool] | None = None,
) -> list[dict[str, Any]]:
    """Poll PC2's peer table; fail at once if PC1 ever shows ``bad_address``."""
    deadline = time.monotonic() + seconds
    peers: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        peers = _peers(home, prefix)
        for p in peers:
            if p["name"] == "PC1":
                assert bad_address not in p["addresses"], peers
                assert not (p["state"] == "verified" and p["peer_id"] != peers[0]["peer_id"])
        if until is not None and until(peers):
            return peers
        time.sleep(0.3)
    if until is not None:
        raise AssertionError(f"not reached in {seconds}s: {peers}")
    return peers


def _attacker(lab: NetnsLab, mode: str) -> Runner:
    pc3 = lab.pc(3)
    proc = lab.popen(
        pc3,
        [sys.executable, str(ATTACKER_SCRIPT), "--victim", "PC1", "--mode", mode,
         "--address", pc3.address, "--listen", "445", "--lifetime", "90"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
    )  # fmt: skip
    runner = Runner(proc)
    runner.wait_for(lambda e: e["event"] in ("announced", "failed"), 20, "the attacker announcing")
    assert runner.seen[-1]["event"] == "announced", runner.seen
    return runner


def _get(home: Path, prefix: list[str], dest: Path) -> subprocess.CompletedProcess[str]:
    return peerwork(home, "get", "//PC1/docs/hello.txt", str(dest), "--user", "alice",
                    "--quiet", prefix=prefix, env={"PEERWORK_PASSWORD": ALICE_PW},
                    check=False)  # fmt: skip


def _stop_attacker(runner: Runner) -> int:
    runner.proc.terminate()
    stopped = runner.wait_for(lambda e: e["event"] == "stopped", 10, "the attacker stopping")
    return int(stopped["connections"])


def test_replay_and_impostor_never_redirect_a_client(
    lab_factory: Callable[..., NetnsLab],  # noqa: F811
    tmp_path: Path,
) -> None:
    lab = lab_factory(3)
    agent1, home1 = lab_agent(lab, 1, tmp_path, {"alice": ALICE_PW})
    agent2, home2 = lab_agent(lab, 2, tmp_path, {"alice": ALICE_PW})
    p1, p2 = lab.argv(lab.pc(1), []), lab.argv(lab.pc(2), [])
    pc1_addr, evil = lab.pc(1).address, lab.pc(3).address
    work1 = tmp_path / "work1"
    (work1 / "docs").mkdir(parents=True)
    (work1 / "docs" / "hello.txt").write_text("hello from PC1\n")
    out = tmp_path / "out"
    out.mkdir()
    with agent1, agent2:
        subprocess.run(
            [*p1, *PEERWORK, "--home", str(home1), "share", "./docs", "--grant", "alice=change"],
            cwd=work1, check=True, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        peers = _watch(home2, p2, 10, evil, lambda ps: any("docs" in p["shares"] for p in ps))
        real = next(p for p in peers if p["name"] == "PC1")
        assert real["state"] == "verified" and real["addresses"] == [pc1_addr]
        assert real["roles"] == ["files"] and real["ports"]["smb"] == 445

        # (a) PC1's own signed record, replayed at the attacker's address.
        replay = _attacker(lab, "replay")
        # The poison reaches PC2: a plain browser there resolves PC1 at the attacker's address.
        browser = start_runner(lab, lab.pc(2), "--browse", "_peerwork._tcp", "--lifetime", "30")
        browser.wait_for(
            lambda e: e.get("name") == "PC1._peerwork._tcp.local." and evil in e["addresses"],
            15,
            "PC1 resolved at the attacker's address by a plain zeroconf browser",
        )
        # PC1 changes its record while PC2's cache is poisoned: PC2 takes the new record
        # (new share, higher sequence number), at PC1's signed address only.
        (work1 / "more").mkdir()
        subprocess.run(
            [*p1, *PEERWORK, "--home", str(home1), "share", "./more", "--grant", "alice=read"],
            cwd=work1, check=True, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        peers = _watch(
            home2, p2, 10, evil,
            lambda ps: any("more" in p["shares"] for p in ps if p["name"] == "PC1"),
        )  # fmt: skip
        updated = next(p for p in peers if p["name"] == "PC1")
        assert updated["addresses"] == [pc1_addr] and updated["seq"] > real["seq"]
        _watch(home2, p2, 2, evil)
        res = _get(home2, p2, out / "a.txt")
        assert res.returncode == 0, res.stderr
        assert (out / "a.txt").read_text() == "hello from PC1\n"
        assert _stop_attacker(replay) == 0

        # (b) A fresh key claiming PC1's name, announcing the attacker's address.
        impostor = _attacker(lab, "impostor")
        peers = _watch(
            home2, p2, 15, evil,
            lambda ps: any(p["name"] == "PC1" and p["state"] == "impostor" for p in ps),
        )  # fmt: skip
        fake = next(p for p in peers if p["state"] == "impostor")
        assert fake["addresses"] == [] and fake["verified"] is False
        assert fake["peer_id"] != real["peer_id"]
        text = peerwork(home2, "peers", prefix=p2)
        assert "IMPOSTOR" in text.stdout and "another PC claims the name of PC1" in text.stderr
        res = _get(home2, p2, out / "b.txt")
        assert res.returncode == 0, res.stderr
        assert (out / "b.txt").read_text() == "hello from PC1\n"
        # The real PC1 noticed, and warns without renaming itself.
        deadline = time.monotonic() + 10
        while not agent1.service("discovery")["details"]["warnings"]:
            assert time.monotonic() < deadline, agent1.status()
            time.sleep(0.2)
        assert agent1.service("discovery")["details"]["announced_as"] == "PC1"
        status = peerwork(home1, "status", prefix=p1)
        assert "impostor" in status.stderr, status.stderr

        # PC1 restarts while the impostor still announces: it keeps its name.
        assert agent1.stop() == 0, agent1.log_text()[-4000:]
        agent1 = AgentProcess(home1, prefix=p1)
        agent1.start()
        discovery = agent1.service("discovery")
        assert discovery["details"]["announced_as"] == "PC1", discovery
        assert discovery["details"]["conflict"] == ""
        assert any("impostor" in w for w in discovery["details"]["warnings"]), discovery
        _watch(home2, p2, 3, evil)
        res = _get(home2, p2, out / "c.txt")
        assert res.returncode == 0, res.stderr
        assert (out / "c.txt").read_text() == "hello from PC1\n"
        agent1.stop()
        assert _stop_attacker(impostor) == 0


def test_a_reinstalled_pc_is_an_impostor_until_forgotten(
    lab_factory: Callable[..., NetnsLab],  # noqa: F811
    tmp_path: Path,
) -> None:
    """PC1 reinstalled (same name, new key) is refused until PC2's user says
    `peerwork peers --forget PC1`; then its new key is pinned and it is verified."""
    lab = lab_factory(2)
    agent1, _ = lab_agent(lab, 1, tmp_path, {"alice": ALICE_PW})
    agent2, home2 = lab_agent(lab, 2, tmp_path, {"alice": ALICE_PW})
    p2 = lab.argv(lab.pc(2), [])
    with agent2:
        with agent1:
            peers = _watch(home2, p2, 15, "-", lambda ps: any(p["name"] == "PC1" for p in ps))
            old_id = next(p["peer_id"] for p in peers if p["name"] == "PC1")
        again = tmp_path / "reinstalled"
        again.mkdir()
        agent1b, _ = lab_agent(lab, 1, again, {"alice": ALICE_PW})
        with agent1b:
            peers = _watch(home2, p2, 15, "-", lambda ps: any(p["state"] == "impostor" for p in ps))
            impostor = next(p for p in peers if p["state"] == "impostor")
            assert impostor["name"] == "PC1" and impostor["peer_id"] != old_id
            assert impostor["addresses"] == []
            warned = peerwork(home2, "peers", prefix=p2)
            assert "peerwork peers --forget NAME" in warned.stderr, warned.stderr
            # the impostor is listed apart, never counted as a PC seen
            status = json.loads(peerwork(home2, "status", "--json", prefix=p2).stdout)
            assert status["peers"] == 0, status

            said = peerwork(home2, "peers", "--forget", "PC1", prefix=p2).stdout
            assert "forgot the key pinned for PC1" in said
            peers = _watch(
                home2,
                p2,
                15,
                "-",
                lambda ps: any(p["name"] == "PC1" and p["state"] == "verified" for p in ps),
            )
            new = next(p for p in peers if p["name"] == "PC1")
            assert new["peer_id"] == impostor["peer_id"] and new["addresses"] == [lab.pc(1).address]
            assert not any(p["state"] == "impostor" for p in peers), peers
        unknown = peerwork(home2, "peers", "--forget", "NOSUCHPC", prefix=p2, check=False)
        assert unknown.returncode == 1 and "no key is pinned for 'NOSUCHPC'" in unknown.stderr
