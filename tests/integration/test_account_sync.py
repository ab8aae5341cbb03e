"""One account everywhere: three agents in namespaces replicate account changes.

Real ``peerwork agent`` processes on a bridge (discovery on eth0, the channel
between them), the real ``peerwork user`` CLI, and ``smbclient`` logging on to
each PC's share from another namespace: a password changed on PC1 works on
PC2 within 5 s and the old one does not; a delete on PC2 locks the account
out of PC1 and PC3; a stopped PC catches up after its restart; a PC cut off
by its bridge link (``ip link set … down`` in the bridge namespace) and
changed on both sides converges to the same accounts everywhere.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from tests.helpers.agent import PEERWORK, AgentProcess, lab_agent, peerwork
from tests.helpers.netns import NetnsLab, lab_factory  # noqa: F401  (fixture)

pytestmark = pytest.mark.root

INTERVAL = 2  # seconds between catch-up rounds (the default is 30)
TIMEOUT = 2  # seconds a member gets to answer


class Office:
    """Three PCs with a share ``docs`` each (alice full, every account read)."""

    def __init__(self, lab: NetnsLab, tmp_path: Path, users: list[dict[str, str]]) -> None:
        self.lab = lab
        self.agents: list[AgentProcess] = []
        self.homes: list[Path] = []
        self.initial: list[dict[str, dict[str, Any]]] = []
        for index, accounts in enumerate(users, start=1):
            agent, home = lab_agent(lab, index, tmp_path, accounts)
            self.initial.append(_signed_entries(home))  # made with `peerwork user add`, offline
            path = home / "peerwork.toml"
            doc = tomlkit.parse(path.read_text())
            doc["account_sync"]["interval"] = INTERVAL  # type: ignore[index]
            doc["account_sync"]["timeout"] = TIMEOUT  # type: ignore[index]
            path.write_text(tomlkit.dumps(doc))
            (tmp_path / f"docs{index}").mkdir()
            self.agents.append(agent)
            self.homes.append(home)
        self.tmp_path = tmp_path

    def start(self, index: int) -> None:
        self.agents[index - 1].start()

    def share(self, index: int) -> None:
        self.peerwork(index, "share", str(self.tmp_path / f"docs{index}"), "--name", "docs",
                      "--grant", "alice=full", "--grant", "everyone=read")  # fmt: skip

    def peerwork(self, index: int, *args: str, **kw: Any) -> Any:
        prefix = self.lab.argv(self.lab.pc(index), [])
        return peerwork(self.homes[index - 1], *args, prefix=prefix, **kw)

    def users(self, index: int) -> dict[str, tuple[int, str]]:
        out = self.peerwork(index, "users", "--json").stdout
        return {a["name"]: (a["version"], a["origin"]) for a in json.loads(out)["accounts"]}

    def logon(self, client: int, server: int, user: str, password: str) -> bool:
        """smbclient from PC ``client`` to PC ``server``'s share: did the logon work?"""
        unc = f"//{self.lab.pc(server).address}/docs"
        res = self.lab.run(self.lab.pc(client), ["smbclient", unc, "-U", f"{user}%{password}",
                           "-c", "ls"], check=False, timeout=60)  # fmt: skip
        out = res.stdout + res.stderr
        if "blocks available" in out:
            return True
        assert "LOGON_FAILURE" in out, out  # anything else is not the question asked
        return False

    def status(self, index: int) -> dict[str, Any]:
        out = self.peerwork(index, "status", "--json").stdout
        return dict(json.loads(out))

    def sync_details(self, index: int) -> dict[str, Any]:
        svc = next(s for s in self.status(index)["services"] if s["name"] == "account_sync")
        return dict(svc["details"])

    def logs(self) -> str:
        return "\n".join(f"--- PC{i}\n{a.log_text()[-4000:]}" for i, a in enumerate(self.agents, 1))


def wait_for(what: str, check: Callable[[], bool], timeout: float, office: Office) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout}s: {what}\n{office.logs()}")


@contextlib.contextmanager
def office_of(lab: NetnsLab, tmp_path: Path, users: list[dict[str, str]]) -> Iterator[Office]:
    office = Office(lab, tmp_path, users)
    try:
        for index in range(1, len(users) + 1):
            office.start(index)
            office.share(index)
        yield office
    finally:
        for agent in office.agents:
            agent.stop()


def reported(office: Office, index: int) -> Callable[[], bool]:
    """A check: has PC ``index`` reported an account conflict?"""
    return lambda: bool(office.sync_details(index)["conflicts"])


def converged(office: Office, indexes: tuple[int, ...] = (1, 2, 3)) -> bool:
    views = [office.users(i) for i in indexes]
    return all(v == views[0] for v in views)


def test_changes_reach_every_pc_and_a_stopped_pc_catches_up(lab_factory, tmp_path: Path) -> None:  # noqa: F811
    lab = lab_factory(3)
    # Accounts made on each PC before they met, merged when replication first meets;
    # alice was made on PC1 and PC2 with different passwords: a clash, reported.
    users = [{"alice": "first"}, {"bob": "bobpw", "alice": "other"}, {"carol": "carolpw"}]
    with office_of(lab, tmp_path, users) as office:
        wait_for("all accounts on all PCs",
                 lambda: converged(office) and set(office.users(1)) == {"alice", "bob", "carol"},
                 40, office)  # fmt: skip
        made = [office.initial[i]["alice"] for i in (0, 1)]
        stamps = [(e["version"], e["origin"]) for e in made]
        kept = office.users(3)["alice"]
        assert kept == max(stamps)  # the highest (version, origin), whatever the order
        winner = "first" if kept == stamps[0] else "other"
        assert office.logon(2, 3, "alice", winner)
        for index in (1, 2):
            wait_for(f"the clash reported on PC{index}", reported(office, index), 10, office)
            clashes = office.sync_details(index)["conflicts"]
            assert [(c["name"], c["kind"]) for c in clashes] == [("alice", "password")]

        office.peerwork(1, "user", "passwd", "alice", "--password-stdin", input="second\n")
        took = wait_for("the new password on PC2",
                        lambda: office.logon(3, 2, "alice", "second"), 5, office)  # fmt: skip
        assert took < 5
        print(f"PC1's new password worked on PC2 after {took:.2f}s (smbclient polling)")
        assert not office.logon(3, 2, "alice", "first")
        assert not office.logon(1, 3, "alice", "first")
        assert office.logon(1, 3, "alice", "second")

        office.peerwork(2, "user", "del", "bob")
        wait_for("bob locked out of PC1 and PC3",
                 lambda: not office.logon(2, 1, "bob", "bobpw")
                 and not office.logon(2, 3, "bob", "bobpw"), 5, office)  # fmt: skip
        assert "bob" not in office.users(3)

        # PC3 is off while alice changes her password and dave is added on PC1.
        office.agents[2].stop()
        office.peerwork(1, "user", "passwd", "alice", "--password-stdin", input="third\n")
        office.peerwork(2, "user", "add", "dave", "--password-stdin", input="davepw\n")
        office.start(3)
        caught_up = wait_for("PC3 caught up after its restart",
                 lambda: office.logon(1, 3, "alice", "third")
                 and office.logon(1, 3, "dave", "davepw"), 30, office)  # fmt: skip
        print(f"PC3 caught up {caught_up:.2f}s after its agent answered again")
        assert not office.logon(1, 3, "alice", "second")
        wait_for("the same accounts everywhere", lambda: converged(office), 10, office)
        wait_for("PC1 shows both peers in sync",
                 lambda: {p["name"]: p["state"] for p in office.sync_details(1)["peers"]}
                 == {"PC2": "in-sync", "PC3": "in-sync"}, 10, office)  # fmt: skip
        peers = json.loads(office.peerwork(1, "peers", "--json").stdout)["peers"]
        shown = {
            p["name"]: (p["account_sync"]["state"], p["account_sync"]["behind"]) for p in peers
        }
        assert shown == {"PC2": ("in-sync", 0), "PC3": ("in-sync", 0)}, peers


def _link(lab: NetnsLab, index: int, state: str) -> None:
    # The PC's port on the bridge, inside the lab's own bridge namespace.
    lab.run(lab.bridge_ns, ["ip", "link", "set", f"pc{index}", state])


def test_partition_and_heal_converge_to_the_same_accounts(lab_factory, tmp_path: Path) -> None:  # noqa: F811
    lab = lab_factory(3)
    users = [{"alice": "zero"}, {"bob": "bobpw"}, {"carol": "carolpw"}]
    with office_of(lab, tmp_path, users) as office:
        wait_for("all accounts on all PCs",
                 lambda: converged(office) and "alice" in office.users(3), 40, office)  # fmt: skip
        watch = tmp_path / "events.jsonl"
        with watch.open("w") as out:
            events = lab.popen(lab.pc(1), [*PEERWORK, "--home", str(office.homes[0]), "events",
                               "--json"], stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
        _link(lab, 1, "down")
        try:
            office.peerwork(1, "user", "passwd", "alice", "--password-stdin", input="left\n")
            office.peerwork(2, "user", "passwd", "alice", "--password-stdin", input="right\n")
            left, right = office.users(1)["alice"], office.users(2)["alice"]
            assert left[0] == right[0] and left[1] != right[1]  # the same version, made apart
            wait_for("PC1 shown unreachable on PC2",
                     lambda: any(p["name"] == "PC1" and p["state"] == "unreachable"
                                 for p in office.sync_details(2)["peers"]), 15, office)  # fmt: skip
            assert office.users(3)["alice"] == right  # PC3 heard PC2 only
        finally:
            _link(lab, 1, "up")
        wait_for("the same accounts on all three after healing",
                 lambda: converged(office) and office.users(1)["alice"] == max(left, right),
                 40, office)  # fmt: skip
        winner, loser = ("left", "right") if left > right else ("right", "left")
        for server in (1, 2, 3):
            client = server % 3 + 1
            assert office.logon(client, server, "alice", winner)
            assert not office.logon(client, server, "alice", loser)
        # Both PCs that changed alice report the clash, with the same verdict.
        for index in (1, 2):
            wait_for(f"the clash reported on PC{index}", reported(office, index), 10, office)
            conflicts = office.sync_details(index)["conflicts"]
            assert [c["name"] for c in conflicts] == ["alice"], conflicts
            kept, lost = conflicts[0]["kept"], conflicts[0]["lost"]
            assert (kept["version"], kept["origin"]) == max(left, right)
            assert (lost["version"], lost["origin"]) == min(left, right)
            assert "conflict on account alice" in office.peerwork(index, "status").stdout
        # PC1's event stream told the story: peers unreachable, the clash, the catch-up.
        events.terminate()
        events.wait(10)
        seen = [json.loads(line) for line in watch.read_text().splitlines() if line.startswith("{")]
        kinds = {e["kind"] for e in seen}
        assert {"account-sync-state", "account-conflict"} <= kinds, kinds
        # The catch-up arrives either as a sync round or as PC2's retried push.
        assert kinds & {"accounts-synced", "account-changed"}, kinds
        states = [e["payload"]["state"] for e in seen if e["kind"] == "account-sync-state"]
        assert "unreachable" in states and states[-1] == "in-sync", states


def _signed_entries(home: Path) -> dict[str, dict[str, Any]]:
    from peerwork.account_file import parse_accounts

    parsed = parse_accounts((home / "accounts.toml").read_text(), "accounts.toml")
    return {e.name: e.to_json() for e in parsed.entries}


def test_corrupt_file_recovers_and_forged_entries_are_refused(lab_factory, tmp_path: Path) -> None:  # noqa: F811
    import dataclasses

    from peerwork.account_log import AccountChange, sign_change
    from peerwork.accounts import nt_hash
    from peerwork.identity import Identity

    lab = lab_factory(3)
    users = [{"alice": "first"}, {"bob": "bobpw"}, {"carol": "carolpw"}]
    with office_of(lab, tmp_path, users) as office:
        wait_for("all accounts on all PCs",
                 lambda: converged(office) and set(office.users(2)) == {"alice", "bob", "carol"},
                 40, office)  # fmt: skip
        old_alice = _signed_entries(office.homes[0])["alice"]
        office.peerwork(2, "user", "add", "erin", "--password-stdin", input="erinpw\n")
        office.peerwork(1, "user", "passwd", "alice", "--password-stdin", input="second\n")
        wait_for("erin and alice's change everywhere", lambda: converged(office), 10, office)

        # PC2's file is destroyed while it is off: it starts, and the others give it back.
        office.agents[1].stop()
        (office.homes[1] / "accounts.toml").write_text("[account.alice\nnt_hash = = oops\n")
        office.start(2)
        wait_for("PC2 recovered every account from its peers",
                 lambda: office.logon(1, 2, "alice", "second")
                 and office.logon(1, 2, "erin", "erinpw")
                 and office.logon(1, 2, "bob", "bobpw"), 20, office)  # fmt: skip
        wait_for("the same accounts everywhere", lambda: converged(office), 10, office)
        assert list(office.homes[1].glob("accounts.toml.broken-*"))
        assert "unreadable" in office.peerwork(2, "status").stdout

        # A member (PC3's real key, over a real channel connection) sends PC1 entries
        # it has no right to: a replay, a forgery of PC2's entry, and an outsider's.
        pc3_key = Identity.load(office.homes[2] / "identity")
        current = AccountChange.from_json(_signed_entries(office.homes[0])["alice"])
        forged = dataclasses.replace(current, nt_hash=nt_hash("evil"), version=current.version + 5)
        forged = dataclasses.replace(forged, signature=pc3_key.sign(forged.signed_bytes()))
        outsider = sign_change(
            Identity.generate("EVIL"), name="alice", nt_hash=nt_hash("evil"),
            version=current.version + 9, created_ms=0, changed_ms=0, prev=None,
        )  # fmt: skip
        batches = [[old_alice], [forged.to_json()], [outsider.to_json()]]
        (tmp_path / "batches.json").write_text(json.dumps(batches))
        status1 = office.status(1)
        port = next(s for s in status1["services"] if s["name"] == "channel")["ports"]["ctl"]
        res = lab.run(lab.pc(3), [sys.executable, "-m", "tests.helpers.account_probe",
                      str(office.homes[2] / "identity"), lab.pc(1).address, str(port),
                      status1["peer"]["id"], str(tmp_path / "batches.json")])  # fmt: skip
        replies = json.loads(res.stdout.strip().splitlines()[-1])
        assert replies[0] == {"applied": 0, "refused": []}  # a replay: known, older, ignored
        assert replies[1]["applied"] == 0 and "signature" in replies[1]["refused"][0]
        assert replies[2]["applied"] == 0 and "not a member" in replies[2]["refused"][0]
        assert office.logon(2, 1, "alice", "second")
        assert not office.logon(2, 1, "alice", "evil")
        assert not office.logon(2, 1, "alice", "first")
        assert office.sync_details(1)["refused"] == 2
        assert office.users(1)["alice"] == (current.version, current.origin)
