"""Workgroup trust and account replication together, in namespaces.

Four real ``peerwork agent`` processes on a bridge, driven by the real CLI:
PC1 creates the workgroup (plain ``init``), PC2 (set up with plain ``init``
too, and an ``alice`` of its own with another password) and PC3 join by
code; PC4 only claims the workgroup's name. Checked
with ``smbclient`` from another namespace: the accounts PC2 made before it
joined are merged, the alice clash reported in status and the event stream; a
password changed on PC1 works on PC2 within 5 s and the old one does not; PC4
never receives an account, its own are refused, and it is shown as not a
member with a warning; after ``remove-peer PC3`` PC3 learns no further change
and its own changes reach nobody.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from tests.helpers.agent import PEERWORK, AgentProcess, init_home, join_by_code, peerwork
from tests.helpers.netns import NetnsLab, lab_factory  # noqa: F401  (fixture)

pytestmark = pytest.mark.root


class Pc:
    def __init__(self, lab: NetnsLab, index: int, tmp_path: Path, *, create: bool) -> None:
        self.lab, self.index = lab, index
        self.home = tmp_path / f"pc{index}"
        self.prefix = lab.argv(lab.pc(index), [])
        init_home(self.home, name=f"PC{index}", smb_port=None, channel_port=None,
                  bind="0.0.0.0", discovery=True, interfaces=["eth0"], prefix=self.prefix,
                  create=create)  # fmt: skip
        doc = tomlkit.parse((self.home / "peerwork.toml").read_text())
        doc["account_sync"]["interval"] = 2  # type: ignore[index]
        doc["account_sync"]["timeout"] = 2  # type: ignore[index]
        (self.home / "peerwork.toml").write_text(tomlkit.dumps(doc))
        self.docs = tmp_path / f"docs{index}"
        self.docs.mkdir()
        self.agent = AgentProcess(self.home, prefix=self.prefix)

    def cli(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return peerwork(self.home, *args, prefix=self.prefix, timeout=40, **kw)

    def add_user(self, name: str, password: str) -> None:
        self.cli("user", "add", name, "--password-stdin", input=f"{password}\n")

    def passwd(self, name: str, password: str) -> None:
        self.cli("user", "passwd", name, "--password-stdin", input=f"{password}\n")

    def users(self) -> set[str]:
        return {a["name"] for a in json.loads(self.cli("users", "--json").stdout)["accounts"]}

    def service(self, name: str) -> dict[str, Any]:
        status = json.loads(self.cli("status", "--json").stdout)
        return dict(next(s for s in status["services"] if s["name"] == name))

    def states(self) -> dict[str, str]:
        peers = json.loads(self.cli("peers", "--json").stdout)["peers"]
        return {p["name"]: p["state"] for p in peers}

    def logon(self, client: Pc, user: str, password: str) -> bool:
        """smbclient from ``client``'s namespace to this PC's share ``docs``."""
        unc = f"//{self.lab.pc(self.index).address}/docs"
        res = self.lab.run(self.lab.pc(client.index), ["smbclient", unc, "-U",
                           f"{user}%{password}", "-c", "ls"], check=False, timeout=60)  # fmt: skip
        out = res.stdout + res.stderr
        if "blocks available" in out:
            return True
        assert "LOGON_FAILURE" in out, out
        return False


def wait_for(what: str, check: Callable[[], bool], timeout: float, pcs: list[Pc]) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.2)
    logs = "\n".join(f"--- PC{p.index}\n{p.agent.log_text()[-3000:]}" for p in pcs)
    raise AssertionError(f"not within {timeout}s: {what}\n{logs}")


def test_members_share_accounts_and_outsiders_get_none(lab_factory, tmp_path: Path) -> None:  # noqa: F811
    lab = lab_factory(4)
    pc1 = Pc(lab, 1, tmp_path, create=True)
    pc2 = Pc(lab, 2, tmp_path, create=True)
    # Plain init as well: a PC set up --join-later trusts on first use until it joins,
    # and would take PC4's accounts meanwhile (a known limit, in the README).
    pc3 = Pc(lab, 3, tmp_path, create=True)
    pc4 = Pc(lab, 4, tmp_path, create=False)  # only claims the workgroup's name
    pcs = [pc1, pc2, pc3, pc4]
    pc1.add_user("alice", "first")
    pc2.add_user("alice", "other")  # made before PC2 joined: a clash on join
    pc2.add_user("bob", "bobpw")
    pc4.add_user("mallory", "mallorypw")
    events: subprocess.Popen[str] | None = None
    try:
        for pc in pcs:
            pc.agent.start()
            pc.cli("share", str(pc.docs), "--name", "docs", "--grant", "everyone=read")
            if pc is pc1:  # PC1's event stream, as the TUI reads it, before the others come
                events = subprocess.Popen([*PEERWORK, "--home", str(pc1.home), "events",
                                          "--json"], stdout=subprocess.PIPE, text=True)  # fmt: skip
        wait_for("PC1 sees the others", lambda: set(pc1.states()) >= {"PC2", "PC3", "PC4"}, 20,
                 pcs)  # fmt: skip
        # Before joining PC2 holds its own key: nothing replicates between it and PC1.
        assert "alice" in pc2.users() and "bob" not in pc1.users()

        joined = join_by_code(pc1.agent, pc2.agent)
        assert joined["replaced"], joined  # PC2's own key, given up for the workgroup's
        join_by_code(pc1.agent, pc3.agent)
        wait_for("PC2's accounts merged into PC1 and on to PC3",
                 lambda: {"alice", "bob"} <= pc1.users() and {"alice", "bob"} <= pc3.users(),
                 30, pcs)  # fmt: skip
        for pc in (pc1, pc2):
            wait_for(f"the alice clash reported on PC{pc.index}",
                     lambda pc=pc: bool(pc.service("account_sync")["details"]["conflicts"]),
                     15, pcs)  # fmt: skip
            clashes = pc.service("account_sync")["details"]["conflicts"]
            assert [(c["name"], c["kind"]) for c in clashes] == [("alice", "password")]
        assert pc1.logon(pc3, "bob", "bobpw") and pc3.logon(pc1, "bob", "bobpw")

        # A password changed on PC1 is enforced on PC2 within 5 s; the old one is refused.
        pc1.passwd("alice", "second")
        took = wait_for("alice's new password on PC2",
                        lambda: pc2.logon(pc4, "alice", "second"), 5, pcs)  # fmt: skip
        print(f"the new password worked on PC2 after {took:.2f} s")
        assert not pc2.logon(pc4, "alice", "first") and not pc2.logon(pc4, "alice", "other")
        wait_for("PC3 too", lambda: pc3.logon(pc4, "alice", "second"), 10, pcs)

        # PC4 only claims the name: no account reaches it, its own reach nobody.
        assert "alice" not in pc4.users() and "bob" not in pc4.users()
        assert not (pc4.home / "accounts.toml").read_text().count("alice")
        assert "mallory" not in pc1.users() | pc2.users() | pc3.users()
        assert not pc1.logon(pc4, "mallory", "mallorypw")
        assert pc1.states()["PC4"] == "not-a-member"
        trust = pc1.service("trust")
        assert any(w.startswith("PC4 is not a member") for w in trust["warnings"]), trust
        # status counts PC4 apart from the PCs seen, with its warning.
        shown = pc1.cli("status")
        assert "2 peer(s) seen, 1 not member(s): PC4" in shown.stdout, shown.stdout
        assert "warning: trust: PC4 is not a member" in shown.stderr, shown.stderr
        assert json.loads(pc1.cli("status", "--json").stdout)["peers"] == 2
        sync4 = {p["name"]: p for p in pc4.service("account_sync")["details"]["peers"]}
        assert sync4.get("PC1", {}).get("state") in (None, "unreachable"), sync4

        # PC3 removed: it learns no further change, and its own changes are refused.
        removed = json.loads(pc1.cli("remove-peer", "PC3", "--json").stdout)
        assert removed["rekeyed"] == ["PC2"], removed
        wait_for("PC3 revoked on PC2", lambda: pc2.states().get("PC3") == "revoked", 20, pcs)
        pc1.passwd("alice", "third")
        wait_for("alice's third password on PC2",
                 lambda: pc2.logon(pc4, "alice", "third"), 5, pcs)  # fmt: skip
        pc3.add_user("eve", "evepw")
        pc3.passwd("bob", "stolen")
        time.sleep(8)  # four of PC3's sync rounds
        assert not pc3.logon(pc4, "alice", "third") and pc3.logon(pc4, "alice", "second")
        assert "eve" not in pc1.users() | pc2.users()
        assert pc1.logon(pc4, "bob", "bobpw") and not pc1.logon(pc4, "bob", "stolen")

        events.terminate()
        seen = [json.loads(line) for line in events.communicate(timeout=10)[0].splitlines()]
        kinds = {e["kind"] for e in seen}
        assert "account-conflict" in kinds and "member-joined" in kinds, kinds
        assert "member-removed" in kinds, kinds
        pc4_states = {e["payload"]["state"] for e in seen
                      if e["kind"] in ("peer-added", "peer-updated")
                      and e["payload"].get("name") == "PC4"}  # fmt: skip
        assert pc4_states == {"not-a-member"}, pc4_states
        for pc in (pc1, pc2):
            assert "Traceback" not in pc.agent.log_text()
    finally:
        if events is not None and events.poll() is None:
            events.kill()
            events.wait(5)
        for pc in pcs:
            pc.agent.stop()
