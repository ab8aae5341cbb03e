"""The backends behind a shared printer, each against a real receiver: ``socket://`` to a
plain TCP listener on loopback that records the bytes, ``cups:`` to a private cupsd's
file queue through ``lp``, ``ipp://`` forwarding to CUPS' ``ippeveprinter`` in a lab
namespace. A backend that is down leaves the job pending with a reason and retries it;
one that never will takes the job to aborted with a reason; nothing is dropped."""

from __future__ import annotations

import shutil
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from peerwork.proto.ipp import attr
from peerwork.proto.ipp_constants import JobState, Op, Status, Tag
from tests.helpers.agent import AgentProcess, peerwork
from tests.helpers.avahi import Avahi
from tests.helpers.cupsd import lpadmin, run_cupsd, stop
from tests.helpers.ipp import (
    TINY_PDF,
    finished_files,
    ipp_post,
    job_value,
    operation,
    printer_home,
)
from tests.helpers.netns import NetnsLab, lab_factory  # noqa: F401  (fixture)
from tests.helpers.ports import unused_tcp_port


def wait_for(predicate: Callable[[], object], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def uri(port: int) -> str:
    return f"ipp://127.0.0.1:{port}/ipp/print/office"


def submit(port: int, title: str = "memo", copies: int = 1) -> int:
    job = {"copies": attr("copies", Tag.INTEGER, copies)} if copies != 1 else None
    request = operation(
        Op.PRINT_JOB,
        uri(port),
        attr("job-name", Tag.NAME, title),
        attr("document-format", Tag.MIME_TYPE, "application/pdf"),
        job=job,
        data=TINY_PDF,
    )
    reply = ipp_post(port, request.pack())
    assert reply.code == Status.OK, reply
    return int(job_value(reply, "job-id"))


def job_attr(port: int, job_id: int, name: str) -> object:
    request = operation(Op.GET_JOB_ATTRIBUTES, uri(port), attr("job-id", Tag.INTEGER, job_id))
    return job_value(ipp_post(port, request.pack()), name)


class Recorder:
    """A raw (JetDirect-style) printer: accepts connections, keeps each one's bytes."""

    def __init__(self, port: int) -> None:
        self.server = socket.create_server(("127.0.0.1", port))
        self.server.settimeout(0.2)
        self.jobs: list[bytes] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(10)
                data = bytearray()
                while chunk := conn.recv(65536):
                    data += chunk
                self.jobs.append(bytes(data))

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.server.close()


@pytest.fixture
def raw_port() -> int:
    return unused_tcp_port()


def test_socket_backend_waits_for_the_printer_then_sends_every_copy(
    tmp_path: Path, raw_port: int
) -> None:
    printer_home(tmp_path / "home", tmp_path, backend=f"socket://127.0.0.1:{raw_port}")
    with AgentProcess(tmp_path / "home") as agent:
        port = agent.service("printers")["ports"]["ipp"]
        job_id = submit(port, copies=2)
        # Nothing listens yet: the job waits, saying why.
        assert wait_for(
            lambda: "does not answer" in str(job_attr(port, job_id, "job-state-message"))
        )
        assert JobState(job_attr(port, job_id, "job-state")) is JobState.PENDING
        recorder = Recorder(raw_port)
        try:
            # Retried (every 10 s): the printer gets the document twice, on one connection.
            assert wait_for(lambda: recorder.jobs, timeout=20)
            assert recorder.jobs == [TINY_PDF * 2]
            assert wait_for(
                lambda: job_attr(port, job_id, "job-state") == JobState.COMPLETED, timeout=5
            )
        finally:
            recorder.close()


needs_cupsd = pytest.mark.skipif(shutil.which("cupsd") is None, reason="cupsd missing")


@needs_cupsd
def test_cups_backend_hands_jobs_to_a_cups_queue(tmp_path: Path) -> None:
    """``laser`` (added live with ``peerwork printer add``) hands its jobs to the private
    cupsd's raw queue ``laser``, whose device is the agent's own ``office`` printer over
    ipp:// (CUPS' ipp backend; Debian's cups-daemon has no socket backend, and a raw
    file: queue completes jobs without writing them): the PDF lands in office's folder
    only if CUPS printed it."""
    out = tmp_path / "out"
    out.mkdir()
    cupsd = run_cupsd()
    try:
        printer_home(tmp_path / "home", out)
        env = {"CUPS_SERVER": cupsd.host}
        with AgentProcess(tmp_path / "home", env=env) as agent:
            port = agent.service("printers")["ports"]["ipp"]
            lpadmin(cupsd, "-p", "laser", "-E", "-v", uri(port))
            peerwork(tmp_path / "home", "printer", "add", "laser", "--backend", "cups:laser")
            laser = uri(port).replace("office", "laser")
            reply = ipp_post(
                port,
                operation(
                    Op.PRINT_JOB,
                    laser,
                    attr("job-name", Tag.NAME, "invoice"),
                    attr("document-format", Tag.MIME_TYPE, "application/pdf"),
                    data=TINY_PDF,
                ).pack(),
                path="/ipp/print/laser",
            )
            assert reply.code == Status.OK
            assert wait_for(lambda: finished_files(out), timeout=30), (
                cupsd.root / "error_log"
            ).read_text()
            (landed,) = finished_files(out)
            assert landed.read_bytes() == TINY_PDF and landed.name == "000002-invoice.pdf"
            # A queue CUPS does not have: aborted, with CUPS' own words.
            peerwork(tmp_path / "home", "printer", "add", "ghost", "--backend", "cups:ghost")
            ghost = ipp_post(
                port,
                operation(
                    Op.PRINT_JOB,
                    uri(port).replace("office", "ghost"),
                    attr("document-format", Tag.MIME_TYPE, "application/pdf"),
                    data=TINY_PDF,
                ).pack(),
                path="/ipp/print/ghost",
            )
            ghost_id = int(job_value(ghost, "job-id"))

            def ghost_state() -> object:
                get = operation(
                    Op.GET_JOB_ATTRIBUTES,
                    uri(port).replace("office", "ghost"),
                    attr("job-id", Tag.INTEGER, ghost_id),
                )
                return ipp_post(port, get.pack(), path="/ipp/print/ghost")

            assert wait_for(lambda: job_value(ghost_state(), "job-state") == JobState.ABORTED)
            assert "no queue ghost" in str(job_value(ghost_state(), "job-state-message"))
    finally:
        stop(cupsd)


@pytest.mark.root
@pytest.mark.timeout(120)
def test_ipp_backend_forwards_to_ippeveprinter(
    lab_factory: Callable[..., NetnsLab],  # noqa: F811
    tmp_path: Path,
) -> None:
    """ippeveprinter needs DNS-SD: it runs in a lab namespace beside a private avahi."""
    if shutil.which("ippeveprinter") is None:
        pytest.skip("ippeveprinter missing (cups-ipp-utils)")
    lab = lab_factory(1)
    pc = lab.pc(1)
    avahi = Avahi(lab, pc, tmp_path / "avahi", publish=True)
    spool = tmp_path / "eve"
    spool.mkdir()
    eve_port = 8650
    eve = lab.popen(
        pc,
        ["env", *(f"{k}={v}" for k, v in avahi.env.items()), "ippeveprinter", "-k",
         "-n", "localhost", "-p", str(eve_port), "-d", str(spool),
         "-f", "application/pdf,image/jpeg", "Eve"],
    )  # fmt: skip
    probe = [
        sys.executable,
        "-c",
        f"import socket; socket.create_connection(('127.0.0.1', {eve_port}), 1)",
    ]
    assert wait_for(
        lambda: lab.run(pc, probe, check=False).returncode == 0 or eve.poll() is not None,
        timeout=20,
    ), "ippeveprinter did not listen"  # fmt: skip
    assert eve.poll() is None, "ippeveprinter exited"
    home = tmp_path / "home"
    printer_home(home, tmp_path, backend=f"ipp://localhost:{eve_port}/ipp/print")
    (tmp_path / "plan.pdf").write_bytes(TINY_PDF)
    with AgentProcess(home, prefix=lab.argv(pc, [])):
        printed = peerwork(home, "print", str(tmp_path / "plan.pdf"), prefix=lab.argv(pc, []))
        assert "Job 1 sent" in printed.stdout

        def landed() -> list[Path]:
            return [p for p in spool.rglob("*") if p.is_file() and p.read_bytes() == TINY_PDF]

        assert wait_for(landed, timeout=30), sorted(spool.rglob("*"))
        jobs = peerwork(home, "jobs", "--json").stdout
        assert '"state": 9' in jobs  # completed once ippeveprinter took it
