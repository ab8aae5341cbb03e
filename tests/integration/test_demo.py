"""`make run`'s demo script, as the README promises it: two PCs that find each other and share."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

# Waits for the queue runner's delivery, then prints alice's newest message.
POP_ALICE = """
import poplib, time
for _ in range(100):
    box = poplib.POP3("127.0.0.1", 1110, timeout=10)
    box.user("alice"); box.pass_("alice-demo")
    count = box.stat()[0]
    if count:
        print(b"\\n".join(box.retr(count)[1]).decode()); break
    box.quit(); time.sleep(0.1)
"""
ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_two_pcs_that_discover_each_other(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the two-PC demo needs root for its network namespace")
    ns = f"pwdemo{os.getpid()}"
    env = {**os.environ, "PEERWORK_DEMO_DIR": str(tmp_path / "demo"), "PEERWORK_DEMO_NS": ns}
    proc = subprocess.Popen(
        ["bash", str(ROOT / "samples" / "demo.sh")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out = ""
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while "Ctrl-C stops the demo" not in out and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            out += line
        assert "peerwork demo is running" in out, out
        assert f"ip netns exec {ns}" in out

        def in_ns(*argv: str, stdin: str | None = None) -> str:
            res = subprocess.run(
                ["ip", "netns", "exec", ns, *argv],
                input=stdin, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            return res.stdout + res.stderr

        pw = [sys.executable, "-m", "peerwork.cli.main"]
        back = ["--home", str(tmp_path / "demo" / "backoffice")]
        peers = ""
        for _ in range(50):
            peers = in_ns(*pw, *back, "peers")
            if "FRONTDESK" in peers:
                break
            time.sleep(0.1)
        assert "FRONTDESK" in peers and "samples" in peers, peers
        # FRONTDESK created the workgroup, BACKOFFICE joined with the code it printed.
        assert "BACKOFFICE: peerwork join" in out and "Joined workgroup DEMO" in out, out
        for home in ("frontdesk", "backoffice"):
            trust = json.loads(in_ns(*pw, "--home", str(tmp_path / "demo" / home), "status",
                                     "--json"))  # fmt: skip
            details = next(s for s in trust["services"] if s["name"] == "trust")["details"]
            assert details["member"] and len(details["members"]) == 1, details
        listed = json.loads(in_ns(*pw, *back, "peers", "--json"))["peers"]
        assert [p["state"] for p in listed if p["name"] == "FRONTDESK"] == ["member"], listed
        got = tmp_path / "Welcome.txt"
        fetched = in_ns(*pw, *back, "get", "//FRONTDESK/samples/Welcome.txt", str(got), "--user",
                        "alice", "--password-stdin", "--quiet", stdin="alice-demo\n")  # fmt: skip
        assert got.exists(), fetched
        assert got.read_text() == (ROOT / "samples" / "share" / "Welcome.txt").read_text()
        listing = in_ns("smbclient", "-L", "//127.0.0.1", "-p", "4446", "-U", "bob%bob-demo")
        assert "scans" in listing, listing
        # every service of both PCs runs (none failed on a port the other took)
        front = ["--home", str(tmp_path / "demo" / "frontdesk")]
        for home in (front, back):
            status = json.loads(in_ns(*pw, *home, "status", "--json"))
            failed = [s["name"] for s in status["services"] if s["state"] == "failed"]
            assert not failed, status
        pong = in_ns(*pw, *back, "ping", "FRONTDESK")
        assert "answered over the channel" in pong, pong
        # the post office: swaks hands bob's note to FRONTDESK, alice picks it up by POP3
        sent = in_ns("swaks", "--server", "127.0.0.1:2525", "--from", "bob@demo.lan",
                     "--to", "alice@demo.lan", "--body", "lunch at noon")  # fmt: skip
        assert "250" in sent, sent
        popped = in_ns(sys.executable, "-c", POP_ALICE)
        assert "lunch at noon" in popped, popped
        # FRONTDESK's demo printer, printed to from BACKOFFICE by its announced ipp port
        demo = tmp_path / "demo"
        printed = in_ns(
            *pw, *back, "print", str(demo / "hello.pdf"), "--printer", "FRONTDESK/office"
        )
        assert "Job 1 sent" in printed, printed
        for _ in range(100):
            if [p for p in (demo / "printed").iterdir() if not p.name.startswith(".")]:
                break
            time.sleep(0.1)
        assert [p.name for p in (demo / "printed").iterdir()] == ["000001-hello.pdf"]
        # a second demo from the same folder refuses instead of breaking the first
        second = subprocess.run(
            ["bash", str(ROOT / "samples" / "demo.sh")],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode == 1 and "already running" in second.stderr, second
        assert "FRONTDESK" in in_ns(*pw, *back, "peers")
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(30)
    assert ns not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
