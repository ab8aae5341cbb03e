"""CUPS' ipptool (cups-ipp-utils) runs its stock conformance files against a real agent.

``ipp-1.1.test``, ``ipp-2.0.test`` (which includes 1.1) and
``ipp-everywhere.test`` are copied from /usr/share/cups/ipptool beside the
sample documents they name (Debian ships none): small PDFs made here and a
tiny JPEG. Every test that ran is asserted to pass, and every skip is listed
with ipptool's reason, so this file is the honest state of conformance. Each
file runs over plain IPP and over IPPS (CUPS' own TLS, trusting the peer
certificate on first use, in a HOME of its own).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.agent import AgentProcess
from tests.helpers.ipp import TINY_PDF, finished_files, printer_home

STOCK = Path("/usr/share/cups/ipptool")
DATA = Path(__file__).parent.parent / "data" / "ipp"
pytestmark = pytest.mark.skipif(shutil.which("ipptool") is None, reason="ipptool missing")

# Skipped by ipptool itself because the printer does not offer what they test; each
# skip must match one of these (pattern, why).
SKIPS = (
    (r"Print-URI|Send-URI", "optional operations not offered: clients send documents"),
    (r"RFC 8011 section 4\.2\.4: Create-Job Operation", "the Create-Job of the Send-URI group"),
    (r"Duplex", "the test printer is configured simplex (duplex = false)"),
    (r"PostScript", "PostScript is not an IPP Everywhere format"),
    (r"4x6", "4x6 media is not offered (A4 and Letter only)"),
    (r"Standard Sheet", "no banner pages (job-sheets none)"),
    (r"2-Up", "number-up 1 only"),
    (r"Draft Quality", "the file tests 'print-quality', not print-quality-supported"),
    (r"job-hold-until|Release-Job", "Hold-Job/Release-Job not offered"),
)
# ipp-everywhere.test goes on to the PWG raster sample files (not in Debian); ipptool
# stops reading the file at the first, as it does against ippeveprinter here.
MISSING_SAMPLES = re.compile(r"pwg-raster-samples-\d+dpi/.* cannot be read")
MUST_PASS = {
    "ipp-1.1.test": {
        "RFC 8011 section 4.1.1: Bad request-id value 0",
        "RFC 8011 section 4.1.8: Unsupported IPP version 0.0",
        "RFC 8011 section 4.2: No printer-uri operation attribute",
        "RFC 8011 section 4.2.1: Print-Job Operation",
        "RFC 8011 section 4.2.3: Validate-Job Operation",
        "RFC 8011 section 4.2.5: Get-Printer-Attributes Operation (default)",
        "RFC 8011 section 4.2.6: Get-Jobs Operation (which-jobs=completed)",
        "RFC 8011 section 4.3.3: Cancel-Job Operation (completed job)",
        "RFC 8011 section 4.3.1: Send-Document Operation",
        "Send-Document missing last-document: Send-Document Operation",
        "Print-Job with copies",
    },
    "ipp-2.0.test": {"PWG 5100.12 section 6.2 - Required Printer Description Attributes"},
    "ipp-everywhere.test": {
        "PWG 5100.14 section 5.1/5.2 - Required Operations and Attributes",
    },
}
_RESULT = re.compile(r"^\s+(.+?)\s+\[(PASS|FAIL|SKIP)\]$", re.M)


def minimal_pdf(width: int, height: int) -> bytes:
    return TINY_PDF.replace(b"[0 0 595 842]", f"[0 0 {width} {height}]".encode())


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AgentProcess, Path]]:
    tmp = tmp_path_factory.mktemp("ipptool")
    out = tmp / "out"
    out.mkdir()
    printer_home(tmp / "home", out)
    with AgentProcess(tmp / "home") as proc:
        yield proc, out


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("suite")
    for name in MUST_PASS:
        shutil.copy(STOCK / name, folder / name)
    (folder / "document-a4.pdf").write_bytes(minimal_pdf(595, 842))
    (folder / "document-letter.pdf").write_bytes(minimal_pdf(612, 792))
    (folder / "document-a4.ps").write_text("%!PS\nshowpage\n")  # named, never sent (no PostScript)
    (folder / "document-letter.ps").write_text("%!PS\nshowpage\n")
    for jpeg in ("color.jpg", "gray.jpg"):
        shutil.copy(DATA / "color.jpg", folder / jpeg)
    (folder / "testfile.pdf").write_bytes(TINY_PDF)
    return folder


@pytest.mark.parametrize("scheme", ["ipp", "ipps"])
@pytest.mark.parametrize("name", sorted(MUST_PASS))
def test_ipptool_conformance_file(
    agent: tuple[AgentProcess, Path], suite: Path, name: str, scheme: str
) -> None:
    proc, out = agent
    port = int(proc.service("printers")["ports"][scheme])
    uri = f"{scheme}://127.0.0.1:{port}/ipp/print/office"
    run = subprocess.run(
        ["ipptool", "-T", "20", "-t", "-f", "testfile.pdf", uri, name],
        cwd=suite,
        capture_output=True,
        text=True,
        timeout=120,
        env={"HOME": str(suite), "PATH": "/usr/bin:/bin"},  # CUPS keeps trusted certs there
    )
    results = dict((m.group(1), m.group(2)) for m in _RESULT.finditer(run.stdout))
    failed = sorted(n for n, r in results.items() if r == "FAIL")
    assert not failed, f"ipptool {name}: failed {failed}\n{run.stdout[-4000:]}"
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr
    unreadable = [line for line in run.stderr.splitlines() if "cannot be read" in line]
    assert all(MISSING_SAMPLES.search(line) for line in unreadable), run.stderr
    passed = {n for n, r in results.items() if r == "PASS"}
    assert MUST_PASS[name] <= passed, sorted(MUST_PASS[name] - passed)
    skipped = {n for n, r in results.items() if r == "SKIP"}
    unexplained = [n for n in skipped if not any(re.search(p, n) for p, _ in SKIPS)]
    assert not unexplained, unexplained
    assert len(passed) >= 30 and finished_files(out), "print jobs should land in the folder"
