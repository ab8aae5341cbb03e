"""The spool's group-commit journal survives SIGKILL: four clients send a bounded burst
of Print-Jobs (raw IPP over http.client) to a real agent, which is killed with SIGKILL
while answers are still arriving. Restarted, it has every job it answered, each whole and
once, and prints each exactly once when its backend comes back."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from peerwork.proto.ipp import attr
from peerwork.proto.ipp_constants import JobState, Op, Status, Tag
from tests.helpers.agent import AgentProcess, peerwork
from tests.helpers.ipp import (
    TINY_PDF,
    finished_files,
    ipp_exchange,
    job_value,
    operation,
    printer_home,
)

pytestmark = pytest.mark.timeout(180)
CLIENTS, PER_CLIENT = 4, 60  # bounded: 240 jobs at most
KILL_AFTER = 120  # answers seen before the SIGKILL


def payload(name: str) -> bytes:
    """A distinct document per job (a PDF comment after %%EOF), so bytes show whose it is."""
    return TINY_PDF + f"% {name}\n".encode()


def test_sigkill_during_a_burst_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    home, out = tmp_path / "home", tmp_path / "out"  # out missing: the backend is down
    printer_home(home, out)
    answered: dict[int, str] = {}  # job id -> job name, for every successful answer
    lock = threading.Lock()
    enough = threading.Event()
    agent = AgentProcess(home)
    agent.start()
    port = int(agent.service("printers")["ports"]["ipp"])
    target = f"ipp://127.0.0.1:{port}/ipp/print/office"

    def client(index: int) -> None:
        for n in range(PER_CLIENT):
            name = f"c{index}-{n:03d}"
            request = operation(
                Op.PRINT_JOB,
                target,
                attr("job-name", Tag.NAME, name),
                attr("document-format", Tag.MIME_TYPE, "application/pdf"),
                data=payload(name),
            )
            try:
                status, reply, _ = ipp_exchange(port, request.pack(), timeout=10)
            except (OSError, ValueError):
                return  # the agent is gone: this request was never answered
            if status == 200 and reply.code == Status.OK:
                with lock:
                    answered[int(job_value(reply, "job-id"))] = name
                    if len(answered) >= KILL_AFTER:
                        enough.set()

    assert agent.proc is not None
    with ThreadPoolExecutor(CLIENTS) as pool:
        runs = [pool.submit(client, i) for i in range(CLIENTS)]
        assert enough.wait(60), f"only {len(answered)} jobs answered"
        agent.proc.kill()  # SIGKILL while the others still send: no checkpoint, no stop
        agent.proc.wait(10)
        for run in runs:
            run.result()
    with lock:
        acknowledged = dict(answered)
    assert len(acknowledged) >= KILL_AFTER

    spool = home / "spool"
    # Killed between checkpoints: acknowledged jobs were still covered by the journal.
    journalled = (spool / "journal").stat().st_size
    assert journalled > 0
    with AgentProcess(home) as again:
        # Every answered job is back, once, with its own document, not yet printed.
        jobs = json.loads(peerwork(home, "jobs", "--json").stdout)["jobs"]
        ids = [j["id"] for j in jobs]
        assert len(ids) == len(set(ids))
        by_id = {j["id"]: j for j in jobs}
        missing = sorted(set(acknowledged) - set(by_id))
        assert not missing, f"answered but lost: {missing}"
        for job_id, job in by_id.items():
            # Jobs recovered but never answered may be there too: whole, or not at all.
            assert job["state"] in (JobState.PENDING, JobState.PROCESSING), job
            if job_id in acknowledged:
                assert job["name"] == acknowledged[job_id]
            assert (spool / f"{job_id}.doc").read_bytes() == payload(job["name"])
        assert not [
            p.name for p in spool.iterdir() if p.name.startswith(".") or p.suffix == ".part"
        ]
        # New jobs get new ids.
        port = int(again.service("printers")["ports"]["ipp"])
        later = operation(
            Op.PRINT_JOB,
            f"ipp://127.0.0.1:{port}/ipp/print/office",
            attr("job-name", Tag.NAME, "after"),
            attr("document-format", Tag.MIME_TYPE, "application/pdf"),
            data=payload("after"),
        )
        _, reply, _ = ipp_exchange(port, later.pack())
        assert reply.code == Status.OK and int(job_value(reply, "job-id")) > max(by_id)
        # The backend comes back: each job prints exactly once, with its own bytes.
        out.mkdir()
        deadline = time.monotonic() + 60
        while len(finished_files(out)) < len(by_id) + 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        printed = finished_files(out)
        assert len(printed) == len(by_id) + 1
        for path in printed:
            job_id, _, name = path.stem.partition("-")
            assert path.read_bytes() == payload(name), path.name
            assert int(job_id) in by_id or name == "after"
    print(
        f"answered before SIGKILL: {len(acknowledged)}, journal {journalled} bytes, "
        f"back after restart: {len(by_id)}"
    )
