"""A full disk over the wire: the client is told DISK_FULL and the agent keeps serving."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers.agent import PEERWORK, init_home, peerwork

pytestmark = pytest.mark.root


def test_put_to_a_full_share_says_disk_full(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs (in a private mount namespace) needs root")
    home = tmp_path / "home"
    share = tmp_path / "small"
    share.mkdir()
    init_home(home)
    peerwork(home, "user", "add", "alice", "--password-stdin", input="secret\n")
    # The 1 MiB tmpfs exists only in the agent's own mount namespace.
    mount = 'mount -t tmpfs -o size=1m peerwork-test "$0" && exec "$@"'
    log = (tmp_path / "agent.log").open("wb")
    agent = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", mount, str(share),
         *PEERWORK, "--home", str(home), "agent"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        port = None
        deadline = time.monotonic() + 20
        while port is None and time.monotonic() < deadline:
            res = peerwork(home, "status", "--json", check=False)
            if res.returncode == 0:
                files = next(s for s in json.loads(res.stdout)["services"] if s["name"] == "files")
                port = files["ports"].get("smb")
            time.sleep(0.1)
        assert port, (tmp_path / "agent.log").read_text()
        peerwork(home, "share", str(share), "--grant", "alice=change")
        big = tmp_path / "big.bin"
        big.write_bytes(os.urandom(3 * 1024 * 1024))
        small = tmp_path / "small.txt"
        small.write_text("fits\n")

        def smbclient(cmd: str) -> str:
            res = subprocess.run(
                ["smbclient", "//127.0.0.1/small", "-p", str(port), "-U", "alice%secret",
                 "-c", cmd],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            return res.stdout + res.stderr

        out = smbclient(f"put {big} big.bin")
        assert "NT_STATUS_DISK_FULL" in out, out
        # the agent is still there and the share still works once there is room again
        smbclient("rm big.bin")
        assert "small.txt" in smbclient(f"put {small} small.txt; ls")
        assert agent.poll() is None
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(20)
        log.close()
