"""A full spool disk and a read-only backend folder, as the agent meets them: a 1 MiB
tmpfs over the spool and a read-only tmpfs as a file: printer's folder, both mounted in
the agent's own mount namespace. The client is told to try later (nothing half-written
is left), the job for the read-only folder waits with the reason, and the agent keeps
serving."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from peerwork.proto.ipp import Message, attr
from peerwork.proto.ipp_constants import GroupTag, JobState, Op, Status, Tag
from tests.helpers.agent import PEERWORK, peerwork
from tests.helpers.ipp import TINY_PDF, finished_files, ipp_post, job_value, operation, printer_home

pytestmark = [pytest.mark.root, pytest.mark.timeout(90)]


def wait_for(predicate: Callable[[], object], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def print_to(port: int, name: str, data: bytes) -> Message:
    request = operation(
        Op.PRINT_JOB,
        f"ipp://127.0.0.1:{port}/ipp/print/{name}",
        attr("job-name", Tag.NAME, "report"),
        attr("document-format", Tag.MIME_TYPE, "application/pdf"),
        data=data,
    )
    return ipp_post(port, request.pack(), path=f"/ipp/print/{name}")


def status_message(reply: Message) -> str:
    group = reply.group(GroupTag.OPERATION)
    found = group.get("status-message") if group else None
    return str(found.value) if found else ""


def test_full_spool_and_read_only_folder(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting tmpfs (in a private mount namespace) needs root")
    home, ro, out = tmp_path / "home", tmp_path / "ro", tmp_path / "out"
    for folder in (ro, out):
        folder.mkdir()
    printer_home(home, ro)  # "office" prints into the read-only folder
    spool = home / "spool"
    spool.mkdir()
    # sh -c SCRIPT SPOOL RO AGENT...: $0 is the spool, $1 the folder, the rest the agent.
    mounts = (
        'mount -t tmpfs -o size=1m peerwork-spool "$0" && '
        'mount -t tmpfs -o ro peerwork-ro "$1" && shift && exec "$@"'
    )
    log = (tmp_path / "agent.log").open("wb")
    agent = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", mounts,
         str(spool), str(ro), *PEERWORK, "--home", str(home), "agent"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        port = 0

        def up() -> bool:
            nonlocal port
            res = peerwork(home, "status", "--json", check=False)
            if res.returncode == 0:
                svc = next(s for s in json.loads(res.stdout)["services"] if s["name"] == "printers")
                port = svc["ports"].get("ipp", 0)
            return bool(port)

        assert wait_for(up, 20), (tmp_path / "agent.log").read_text()
        peerwork(home, "printer", "add", "spare", "--backend", f"file:{out}")
        # The read-only folder: the job is taken, then waits with the reason.
        reply = print_to(port, "office", TINY_PDF)
        assert reply.code == Status.OK
        job_id = int(job_value(reply, "job-id"))
        uri = f"ipp://127.0.0.1:{port}/ipp/print/office"
        get = operation(Op.GET_JOB_ATTRIBUTES, uri, attr("job-id", Tag.INTEGER, job_id))
        assert wait_for(
            lambda: (
                "Read-only file system"
                in str(job_value(ipp_post(port, get.pack()), "job-state-message"))
            )
        )
        assert job_value(ipp_post(port, get.pack()), "job-state") == JobState.PENDING
        # A document bigger than the spool's room: try again later; nothing half-written.
        big = print_to(port, "spare", b"%PDF-1.4\n" + os.urandom(2 * 1024 * 1024))
        assert big.code == Status.TEMPORARY_ERROR and "spool is full" in status_message(big)
        listing = subprocess.run(
            ["nsenter", f"--mount=/proc/{agent.pid}/ns/mnt", "ls", "-a", str(spool)],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        assert not [n for n in listing if n.endswith((".part", ".tmp"))], listing
        assert agent.poll() is None
        # Still serving: a small job prints.
        assert print_to(port, "spare", TINY_PDF).code == Status.OK
        assert wait_for(lambda: finished_files(out))
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(20)
        log.close()
