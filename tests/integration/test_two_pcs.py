"""Two PCs on one LAN (network namespaces on a bridge): share on PC1, discover and copy from PC2.

This is the issue's "done when" scenario as a user runs it: real ``peerwork``
commands, real agents, ``smbclient`` and ``peerwork get/put`` across the LAN.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.helpers.agent import AgentProcess, lab_agent, peerwork
from tests.helpers.netns import NetnsLab, lab_factory  # noqa: F401  (fixture)
from tests.helpers.tree_snapshot import snapshot

pytestmark = pytest.mark.root

ALICE_PW = "alice-pw-1"
BOB_PW = "bob-pw-2"


def _agent(lab: NetnsLab, index: int, tmp_path: Path) -> tuple[AgentProcess, Path]:
    return lab_agent(lab, index, tmp_path, {"alice": ALICE_PW, "bob": BOB_PW})


def _smbclient(lab: NetnsLab, index: int, unc: str, auth: list[str], cmd: str) -> str:
    res = lab.run(
        lab.pc(index),
        ["smbclient", unc, *auth, "-c", cmd],  # smbclient's default port, 445
        check=False,
        timeout=60,
    )
    return res.stdout + res.stderr


def test_share_discover_and_copy_both_ways(lab_factory, tmp_path: Path) -> None:  # noqa: F811
    lab = lab_factory(2)
    agent1, home1 = _agent(lab, 1, tmp_path)
    agent2, home2 = _agent(lab, 2, tmp_path)
    work1 = tmp_path / "work1"
    (work1 / "docs").mkdir(parents=True)
    (work1 / "docs" / "hello.txt").write_text("hello from PC1\n")
    payload = tmp_path / "report.bin"
    payload.write_bytes(bytes(range(256)) * 4096)  # 1 MiB
    p1 = lab.argv(lab.pc(1), [])
    p2 = lab.argv(lab.pc(2), [])
    pc1_addr = lab.pc(1).address

    with agent1, agent2:
        # As the issue has it: a relative ./docs, run from PC1's working folder.
        import subprocess

        from tests.helpers.agent import PEERWORK

        shared_at = time.monotonic()
        subprocess.run(
            [*p1, *PEERWORK, "--home", str(home1), "share", "./docs",
             "--grant", "alice=change", "--grant", "everyone=read", "--grant", "anonymous=read"],
            cwd=work1, check=True, capture_output=True, text=True, timeout=30,
        )  # fmt: skip

        seen = None
        while time.monotonic() - shared_at < 10:
            peers = json.loads(peerwork(home2, "peers", "--json", prefix=p2).stdout)["peers"]
            seen = next((p for p in peers if p["name"] == "PC1" and "docs" in p["shares"]), None)
            if seen:
                break
            time.sleep(0.1)
        elapsed = time.monotonic() - shared_at
        assert seen is not None, peerwork(home2, "peers", prefix=p2).stdout
        print(f"PC2 listed the new share {elapsed:.2f}s after PC1 ran peerwork share")
        # The time includes two CLI start-ups per poll; ~0.5 s on a quiet machine, but
        # CI runs this beside other suites on 2 cores, where 2 s was missed repeatedly.
        assert elapsed < 5.0, f"PC2 saw the share after {elapsed:.2f}s"
        assert seen["verified"] is True
        assert pc1_addr in seen["addresses"]
        assert seen["smb_port"] == 445
        assert "PC1" in peerwork(home2, "peers", prefix=p2).stdout

        env_alice = {"PEERWORK_PASSWORD": ALICE_PW}
        env_bob = {"PEERWORK_PASSWORD": BOB_PW}
        out = tmp_path / "out"
        out.mkdir()

        # peerwork browse/get/put from PC2, by peer name (resolved through PC2's discovery)
        shares = peerwork(
            home2, "browse", "PC1", "--user", "alice", "--json", prefix=p2, env=env_alice
        )
        assert "docs" in [s["name"] for s in json.loads(shares.stdout)]
        listing = peerwork(home2, "ls", "//PC1/docs", "--user", "alice", prefix=p2, env=env_alice)
        assert "hello.txt" in listing.stdout
        peerwork(home2, "get", "//PC1/docs/hello.txt", str(out / "hello.txt"), "--user", "alice",
                 "--quiet", prefix=p2, env=env_alice)  # fmt: skip
        assert (out / "hello.txt").read_text() == "hello from PC1\n"
        peerwork(home2, "put", str(payload), "//PC1/docs/report.bin", "--user", "alice",
                 "--quiet", prefix=p2, env=env_alice)  # fmt: skip
        assert (work1 / "docs" / "report.bin").read_bytes() == payload.read_bytes()

        # bob has no grant of his own: everyone=read applies — he reads, he cannot write
        peerwork(home2, "get", "//PC1/docs/report.bin", str(out / "r.bin"), "--user", "bob",
                 "--quiet", prefix=p2, env=env_bob)  # fmt: skip
        assert (out / "r.bin").read_bytes() == payload.read_bytes()
        before = snapshot(work1 / "docs")
        res = peerwork(home2, "put", str(payload), "//PC1/docs/bob.bin", "--user", "bob",
                       "--quiet", prefix=p2, env=env_bob, check=False)  # fmt: skip
        assert res.returncode != 0 and "denied" in res.stderr.lower(), res.stderr
        res = peerwork(home2, "rm", "//PC1/docs/hello.txt", "--user", "bob",
                       prefix=p2, env=env_bob, check=False)  # fmt: skip
        assert res.returncode != 0
        assert snapshot(work1 / "docs") == before

        # smbclient from PC2 to PC1's address, with the same grants
        unc = f"//{pc1_addr}/docs"
        (tmp_path / "up.txt").write_text("from smbclient\n")
        text = _smbclient(lab, 2, unc, ["-U", f"alice%{ALICE_PW}"],
                          f"put {tmp_path / 'up.txt'} up.txt; ls")  # fmt: skip
        assert "up.txt" in text, text
        assert (work1 / "docs" / "up.txt").read_text() == "from smbclient\n"
        text = _smbclient(lab, 2, unc, ["-U", f"alice%{ALICE_PW}"],
                          f"get hello.txt {out / 'smb-hello.txt'}")  # fmt: skip
        assert (out / "smb-hello.txt").read_text() == "hello from PC1\n", text
        before = snapshot(work1 / "docs")
        text = _smbclient(lab, 2, unc, ["-U", f"bob%{BOB_PW}"], f"put {tmp_path / 'up.txt'} b.txt")
        assert "NT_STATUS_ACCESS_DENIED" in text, text
        # anonymous=read lets an anonymous logon (no guest) read, never write
        text = _smbclient(lab, 2, unc, ["-N"], f"get hello.txt {out / 'anon.txt'}")
        assert (out / "anon.txt").read_text() == "hello from PC1\n", text
        peerwork(home2, "get", "//PC1/docs/hello.txt", str(out / "anon2.txt"), "--user", "",
                 "--quiet", prefix=p2)  # fmt: skip
        assert (out / "anon2.txt").read_text() == "hello from PC1\n"
        text = _smbclient(lab, 2, unc, ["-N"], "rm hello.txt")
        assert "NT_STATUS_ACCESS_DENIED" in text, text
        text = _smbclient(lab, 2, unc, ["-U", "alice%wrong"], "ls")
        assert "NT_STATUS_LOGON_FAILURE" in text, text
        assert snapshot(work1 / "docs") == before

        # PC1 also sees PC2, and PC2 disappears from PC1's table on a clean stop
        peers1 = json.loads(peerwork(home1, "peers", "--json", prefix=p1).stdout)["peers"]
        assert [p["name"] for p in peers1] == ["PC2"]
        assert agent2.stop() == 0, agent2.log_text()[-4000:]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            peers1 = json.loads(peerwork(home1, "peers", "--json", prefix=p1).stdout)["peers"]
            if not peers1:
                break
            time.sleep(0.2)
        assert peers1 == [], "PC2 still listed after its goodbye"
