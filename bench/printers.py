"""Benchmark: peerwork's printers service vs cupsd, both accepting IPP Print-Job.

    .venv/bin/python bench/printers.py [--jobs 800] [--clients 4] [--big-mb 50]

Both run on 127.0.0.1 with a free port and a file device: peerwork the way a
user starts it (temp ``--home``, ``peerwork init``, a ``file:`` printer,
``agent`` bound to loopback), cupsd (Debian ``cups-daemon``) from a private
config dir with a raw queue whose device is a file. The same Python client
(our IPP codec over http.client, one keep-alive connection per client thread)
sends a burst of ``--jobs`` Print-Jobs of a small PDF from ``--clients``
threads, then one ``--big-mb`` MB PDF. Printed: accepted jobs/s, refusals,
MB/s, and the peerwork/cupsd ratio. peerwork makes every job durable before
answering (small jobs by group commit: one fdatasync of the spool journal per
batch of concurrent jobs); cupsd does not fsync by default (SyncOnClose No).
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from peerwork.proto.ipp import Group, Message, attr
from peerwork.proto.ipp_constants import GroupTag, Op, Tag

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.helpers.agent import AgentProcess  # noqa: E402
from tests.helpers.cupsd import add_file_queue, run_cupsd, stop  # noqa: E402
from tests.helpers.ipp import TINY_PDF, printer_home  # noqa: E402

MB = 1024 * 1024


def print_job(uri: str, fmt: str, name: str) -> bytes:
    op = (
        attr("attributes-charset", Tag.CHARSET, "utf-8"),
        attr("attributes-natural-language", Tag.LANGUAGE, "en"),
        attr("printer-uri", Tag.URI, uri),
        attr("requesting-user-name", Tag.NAME, "bench"),
        attr("job-name", Tag.NAME, name),
        attr("document-format", Tag.MIME_TYPE, fmt),
    )
    return Message((2, 0), Op.PRINT_JOB, 1, (Group(GroupTag.OPERATION, op),)).pack()


def burst(uri: str, fmt: str, jobs: int, clients: int) -> tuple[float, int, dict[int, int]]:
    """(seconds, accepted, refusals by status) for ``jobs`` Print-Jobs from ``clients`` threads."""
    parts = urlsplit(uri)
    body = print_job(uri, fmt, "small") + TINY_PDF

    def client(count: int) -> list[int]:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        codes = []
        for _ in range(count):
            conn.request("POST", parts.path, body=body, headers={"Content-Type": "application/ipp"})
            codes.append(Message.parse(conn.getresponse().read()).code)
        conn.close()
        return codes

    shares = [jobs // clients + (1 if i < jobs % clients else 0) for i in range(clients)]
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        codes = [c for part in pool.map(client, shares) for c in part]
    took = time.perf_counter() - start
    refused: dict[int, int] = {}
    for code in codes:
        if code >= 0x100:
            refused[code] = refused.get(code, 0) + 1
    return took, codes.count(0) + codes.count(1), refused


def big(uri: str, fmt: str, size_mb: int, folder: Path) -> float:
    """MB/s of one Print-Job of a ``size_mb`` MB PDF-looking document, streamed."""
    parts = urlsplit(uri)
    head = print_job(uri, fmt, "big")
    block = b"%PDF-1.4\n" + bytes(MB - 9)
    start = time.perf_counter()
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
    conn.request(
        "POST",
        parts.path,
        body=iter([head, *([block] * size_mb)]),
        headers={
            "Content-Type": "application/ipp",
            "Content-Length": str(len(head) + size_mb * MB),
        },
    )
    code = Message.parse(conn.getresponse().read()).code
    took = time.perf_counter() - start
    conn.close()
    assert code < 0x100, hex(code)
    del folder
    return size_mb / took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=800)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--big-mb", type=int, default=50)
    args = ap.parse_args()
    results: dict[str, tuple[float, float, dict[int, int], float]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "pw-out").mkdir()
        printer_home(
            tmp / "home",
            tmp / "pw-out",
            max_jobs_per_client=10 * args.jobs,
            max_jobs=10 * args.jobs,
        )
        with AgentProcess(tmp / "home") as agent:
            port = int(agent.service("printers")["ports"]["ipp"])
            uri = f"ipp://127.0.0.1:{port}/ipp/print/office"
            seq = burst(uri, "application/pdf", args.jobs // 4, 1)
            took, ok, refused = burst(uri, "application/pdf", args.jobs, args.clients)
            results["peerwork"] = (
                args.jobs // 4 / seq[0],
                ok / took,
                refused,
                big(uri, "application/pdf", args.big_mb, tmp),
            )
        if shutil.which("cupsd") and shutil.which("lpadmin"):
            cupsd = run_cupsd()
            try:
                uri = add_file_queue(cupsd, "bench")
                fmt = "application/octet-stream"
                seq = burst(uri, fmt, args.jobs // 4, 1)
                took, ok, refused = burst(uri, fmt, args.jobs, args.clients)
                big_rate = big(uri, fmt, args.big_mb, tmp)
                results["cupsd"] = (args.jobs // 4 / seq[0], ok / took, refused, big_rate)
            finally:
                stop(cupsd)
        else:
            print("cupsd/lpadmin not installed (Debian cups-daemon, cups-client): peerwork only")
    many = f"{args.clients}-client jobs/s"
    print(f"{'server':<10} {'seq jobs/s':>11} {many:>17} {'refused':>8} {args.big_mb:>7} MB")
    for name, (seq_rate, rate, refused, mbs) in results.items():
        lost = sum(refused.values())
        print(f"{name:<10} {seq_rate:>11.0f} {rate:>17.0f} {lost:>8} {mbs:>7.0f} MB/s")
    if "cupsd" in results:
        pw, cu = results["peerwork"], results["cupsd"]
        print(
            f"ratio peerwork/cupsd: sequential {pw[0] / cu[0]:.2f}, "
            f"{args.clients} clients {pw[1] / cu[1]:.2f}, big {pw[3] / cu[3]:.2f}"
        )


if __name__ == "__main__":
    main()
