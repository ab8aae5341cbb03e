"""A PC whose address changes (a DHCP renewal, a cable moved) is announced again at the new one."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import tomlkit

from tests.helpers.agent import AgentProcess, init_home, peerwork
from tests.helpers.netns import NetnsLab, lab_factory  # noqa: F401  (fixture)

pytestmark = pytest.mark.root


def _home(lab: NetnsLab, index: int, tmp_path: Path) -> tuple[Path, list[str]]:
    home = tmp_path / f"pc{index}"
    prefix = lab.argv(lab.pc(index), [])
    init_home(home, name=f"PC{index}", smb_port=4445, bind="0.0.0.0", discovery=True,
              interfaces=["eth0"], prefix=prefix)  # fmt: skip
    doc = tomlkit.parse((home / "peerwork.toml").read_text())
    doc["discovery"]["address_check"] = 0.5  # type: ignore[index]
    (home / "peerwork.toml").write_text(tomlkit.dumps(doc))
    return home, prefix


def _addresses_of(home: Path, prefix: list[str], name: str) -> list[str]:
    peers = json.loads(peerwork(home, "peers", "--json", prefix=prefix).stdout)["peers"]
    return next((p["addresses"] for p in peers if p["name"] == name), [])


def test_new_address_is_announced(lab_factory, tmp_path: Path) -> None:  # noqa: F811
    lab = lab_factory(2)
    home1, p1 = _home(lab, 1, tmp_path)
    home2, p2 = _home(lab, 2, tmp_path)
    pc1 = lab.pc(1)
    new = pc1.address.rsplit(".", 1)[0] + ".101"
    with AgentProcess(home1, prefix=p1), AgentProcess(home2, prefix=p2):
        deadline = time.monotonic() + 5
        while pc1.address not in _addresses_of(home2, p2, "PC1") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _addresses_of(home2, p2, "PC1") == [pc1.address]

        def ip(*args: str) -> None:
            subprocess.run(["ip", "-n", pc1.ns, *args], check=True, capture_output=True)

        # Deleting a primary address deletes its secondaries too, so swap in that order.
        ip("addr", "del", f"{pc1.address}/24", "dev", "eth0")
        ip("addr", "add", f"{new}/24", "dev", "eth0")
        ip("route", "replace", "224.0.0.0/4", "dev", "eth0")
        deadline = time.monotonic() + 10
        while _addresses_of(home2, p2, "PC1") != [new] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _addresses_of(home2, p2, "PC1") == [new]
        status = json.loads(peerwork(home1, "status", "--json", prefix=p1).stdout)
        disc = next(s for s in status["services"] if s["name"] == "discovery")
        assert disc["state"] == "running"
        assert disc["details"]["interfaces"] == [{"name": "eth0", "ipv4": [new]}]
