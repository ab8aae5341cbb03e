"""A shared printer as other systems' print dialogs find it: avahi-browse (avahi-utils)
against a private avahi-daemon in a second namespace sees the agent's ``_ipp._tcp``
record, its ``_universal`` subtype and the TXT keys, and ipptool prints to the
address it advertises."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.agent import lab_agent, peerwork
from tests.helpers.avahi import Avahi
from tests.helpers.ipp import TINY_PDF, add_printer, finished_files
from tests.helpers.netns import NetnsLab, lab_factory  # noqa: F401  (fixture)

pytestmark = [pytest.mark.root, pytest.mark.timeout(90)]
Lab = Callable[..., NetnsLab]


def txt_of(record: list[str]) -> dict[str, str]:
    """avahi-browse -p TXT: "k=v" "k=v" ..."""
    pairs = [item.strip('"') for item in record[9].split('" "')]
    return dict(p.split("=", 1) for p in pairs if "=" in p)


def _unescape(label: str) -> str:
    return re.sub(r"\\(\d{3})", lambda m: chr(int(m.group(1))), label)


def browse_until(avahi: Avahi, service: str, name: str, timeout: float = 10) -> list[str]:
    """The resolved record of instance ``name`` (avahi -p escapes " " as \\032, "@" as \\064)."""
    deadline = time.monotonic() + timeout
    seen: list[list[str]] = []
    while time.monotonic() < deadline:
        seen = avahi.browse(service, timeout=timeout)
        found = [r for r in seen if _unescape(r[3]) == name]
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"avahi-browse never resolved {name!r} as {service}: {seen}")


def test_avahi_sees_the_printer_and_ipptool_prints_to_it(
    lab_factory: Lab,  # noqa: F811
    tmp_path: Path,
) -> None:
    if shutil.which("ipptool") is None:
        pytest.skip("ipptool missing")
    lab = lab_factory(2)
    agent, home = lab_agent(lab, 1, tmp_path, {"alice": "pw-alice-1"})
    out = tmp_path / "out"
    out.mkdir()
    add_printer(home, out)  # as root: IPP on 631, every address of the PC
    avahi = Avahi(lab, lab.pc(2), tmp_path / "avahi")
    with agent:
        assert agent.service("printers")["ports"] == {"ipp": 631, "ipps": 8632}
        # -p lines: =;iface;proto;name;type;domain;host;address;port;txt
        record = browse_until(avahi, "_ipp._tcp", "office @ PC1")
        assert record[6:9] == ["PC1.local", lab.pc(1).address, "631"]
        txt = txt_of(record)
        assert txt["rp"] == "ipp/print/office" and txt["kind"] == "document"
        assert txt["pdl"] == "application/pdf,image/pwg-raster,image/urf,image/jpeg"
        assert txt["Color"] == "T" and "UUID" in txt and txt["URF"].startswith("V1.4")
        universal = browse_until(avahi, "_universal._sub._ipp._tcp", "office @ PC1")
        assert universal[8] == "631"
        # IPPS beside it, on its own port, saying it speaks TLS.
        ipps_port = str(agent.service("printers")["ports"]["ipps"])
        secure = browse_until(avahi, "_ipps._tcp", "office @ PC1")
        assert secure[8] == ipps_port and txt_of(secure)["TLS"] == "1.3"
        assert txt_of(secure)["rp"] == "ipp/print/office"
        # Print from PC2 to the advertised host, port and resource path.
        (tmp_path / "memo.pdf").write_bytes(TINY_PDF)
        uri = f"ipp://{record[7]}:{record[8]}/{txt['rp']}"
        run = lab.run(
            lab.pc(2),
            ["ipptool", "-t", "-f", str(tmp_path / "memo.pdf"), uri, "print-job.test"],
            timeout=30,
            check=False,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        deadline = time.monotonic() + 10
        while not finished_files(out) and time.monotonic() < deadline:
            time.sleep(0.05)
        (landed,) = finished_files(out)
        assert landed.read_bytes() == TINY_PDF


def test_a_printer_on_pc1_is_listed_and_printed_to_from_pc2(
    lab_factory: Lab,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Two agents in two namespaces. ``peerwork printer add`` on the running PC1 shares a
    printer (no restart); within seconds PC2's ``peerwork printers`` lists it by name (from
    PC1's signed record) and ``peerwork print --printer PC1/office`` lands the file in
    PC1's folder."""
    lab = lab_factory(2)
    users = {"alice": "pw-alice-1"}
    pc1, home1 = lab_agent(lab, 1, tmp_path, users)
    pc2, home2 = lab_agent(lab, 2, tmp_path, users)
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "plan.pdf").write_bytes(TINY_PDF)
    with pc1, pc2:
        assert pc1.service("printers")["ports"] == {}  # nothing shared yet
        peerwork(home1, "printer", "add", "office", "--backend", f"file:{out}")
        start = time.monotonic()
        listed: dict[str, object] = {}
        while time.monotonic() - start < 15:
            listed = json.loads(peerwork(home2, "printers", "--json").stdout)
            if listed["peers"]:
                break
            time.sleep(0.2)
        address = lab.pc(1).address
        assert listed["peers"] == [
            {
                "peer": "PC1",
                "name": "office",
                "uri": f"ipp://{address}:631/ipp/print/office",
                "ipps_uri": f"ipps://{address}:8632/ipp/print/office",
                "peer_id": json.loads(peerwork(home1, "status", "--json").stdout)["peer"]["id"],
            }
        ], listed
        seen_after = time.monotonic() - start
        text = peerwork(home2, "printers").stdout
        assert f"PC1/office       ipp://{address}:631/ipp/print/office" in text
        printed = peerwork(
            home2,
            "print",
            str(tmp_path / "plan.pdf"),
            "--printer",
            "PC1/office",
            prefix=lab.argv(lab.pc(2), []),
        )
        assert "Job 1 sent" in printed.stdout
        deadline = time.monotonic() + 10
        while not finished_files(out) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [p.name for p in finished_files(out)] == ["000001-plan.pdf"]
        assert seen_after < 10
