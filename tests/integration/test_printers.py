"""A real agent's printers service, driven by ipptool (cups-ipp-utils) and by raw IPP
over http.client: printing lands in the file: folder, jobs survive a restart,
and hostile requests get the right IPP status while the agent keeps serving."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from peerwork.proto.ipp import attr
from peerwork.proto.ipp_constants import JobState, Op, Status, Tag
from tests.helpers.agent import AgentProcess, peerwork
from tests.helpers.cupsd import lpadmin, run_cupsd, stop
from tests.helpers.ipp import (
    TINY_PDF,
    finished_files,
    ipp_post,
    job_value,
    operation,
    printer_home,
)

needs_ipptool = pytest.mark.skipif(shutil.which("ipptool") is None, reason="ipptool missing")


def ipp_port(proc: AgentProcess) -> int:
    return int(proc.service("printers")["ports"]["ipp"])


def uri(port: int) -> str:
    return f"ipp://127.0.0.1:{port}/ipp/print/office"


def wait_for(predicate: object, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def print_pdf(port: int, name: str = "report", user: str = "alice", data: bytes = TINY_PDF) -> int:
    reply = ipp_post(
        port,
        operation(
            Op.PRINT_JOB,
            uri(port),
            attr("job-name", Tag.NAME, name),
            attr("document-format", Tag.MIME_TYPE, "application/pdf"),
            data=data,
            user=user,
        ).pack(),
    )
    assert reply.code == Status.OK, reply
    return int(job_value(reply, "job-id"))


def job_attr(port: int, job_id: int, name: str) -> object:
    request = operation(Op.GET_JOB_ATTRIBUTES, uri(port), attr("job-id", Tag.INTEGER, job_id))
    return job_value(ipp_post(port, request.pack()), name)


def get_state(port: int, job_id: int) -> JobState:
    return JobState(job_attr(port, job_id, "job-state"))


@needs_ipptool
def test_ipptool_print_lands_in_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    printer_home(tmp_path / "home", out)
    (tmp_path / "quarterly.pdf").write_bytes(TINY_PDF)
    with AgentProcess(tmp_path / "home") as proc:
        port = ipp_port(proc)
        run = subprocess.run(
            ["ipptool", "-tv", "-f", str(tmp_path / "quarterly.pdf"), uri(port), "print-job.test"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert wait_for(lambda: finished_files(out))
        (file,) = finished_files(out)
        assert file.read_bytes() == TINY_PDF
        assert file.name.startswith("000001-") and file.suffix == ".pdf"
        status = proc.service("printers")
        assert status["details"]["printers"][0]["name"] == "office"


def test_restart_keeps_a_pending_job_and_delivers_it(tmp_path: Path) -> None:
    out = tmp_path / "out"  # missing: the backend is down, the job must wait
    printer_home(tmp_path / "home", out)
    proc = AgentProcess(tmp_path / "home")
    proc.start()
    try:
        port = ipp_port(proc)
        job_id = print_pdf(port, "minutes")
        # Tried, and left waiting with a reason people can read.
        assert wait_for(
            lambda: "does not exist" in str(job_attr(port, job_id, "job-state-message"))
        )
        assert get_state(port, job_id) is JobState.PENDING
        assert job_attr(port, job_id, "job-state-reasons") == "printer-stopped"
        # Create-Job with no document yet: kept as well.
        incoming = ipp_post(port, operation(Op.CREATE_JOB, uri(port), request_id=2).pack())
        incoming_id = int(job_value(incoming, "job-id"))
    finally:
        proc.stop()
    spooled = json.loads((tmp_path / "home" / "spool" / f"{job_id}.json").read_text())
    assert spooled["state"] == JobState.PENDING and spooled["has_document"]
    assert (tmp_path / "home" / "spool" / f"{job_id}.doc").read_bytes() == TINY_PDF
    out.mkdir()
    with AgentProcess(tmp_path / "home") as proc2:
        port = ipp_port(proc2)
        assert get_state(port, incoming_id) is JobState.PENDING
        # The backend came back: the job from before the restart prints (retry within ~10 s).
        assert wait_for(lambda: finished_files(out), timeout=20)
        assert wait_for(lambda: get_state(port, job_id) is JobState.COMPLETED)
        (file,) = finished_files(out)
        assert file.read_bytes() == TINY_PDF and "minutes" in file.name
        # New jobs never reuse an id from before the restart.
        assert print_pdf(port) > incoming_id


@pytest.fixture
def agent(tmp_path: Path) -> object:
    out = tmp_path / "out"
    out.mkdir()
    printer_home(tmp_path / "home", out, max_document_mib=1, max_jobs_per_client=20)
    with AgentProcess(tmp_path / "home") as proc:
        yield proc, out, tmp_path / "home" / "spool"


def test_bad_requests_get_the_right_status(agent: tuple[AgentProcess, Path, Path]) -> None:
    proc, _, spool = agent
    port = ipp_port(proc)
    u = uri(port)

    def status(body: bytes) -> int:
        return ipp_post(port, body).code

    assert status(b"\x02\x00\x00\x0b\x00\x00") == Status.BAD_REQUEST  # truncated header
    assert status(b"\x02\x00\x00\x0b\x00\x00\x00\x01\x01\x41\xff\xff") == Status.BAD_REQUEST
    assert status(operation(0x4242, u).pack()) == Status.OPERATION_NOT_SUPPORTED
    wrong = operation(Op.GET_PRINTER_ATTRIBUTES, u)
    assert (
        status(type(wrong)((9, 9), wrong.code, 1, wrong.groups).pack())
        == Status.VERSION_NOT_SUPPORTED
    )
    missing = operation(Op.GET_PRINTER_ATTRIBUTES, u)
    no_uri = type(missing)(
        missing.version,
        missing.code,
        1,
        (type(missing.groups[0])(1, missing.groups[0].attributes[:2]),),
    )
    assert status(no_uri.pack()) == Status.BAD_REQUEST
    assert (
        status(operation(Op.GET_PRINTER_ATTRIBUTES, u.replace("office", "nope")).pack())
        == Status.NOT_FOUND
    )
    assert (
        status(operation(Op.GET_JOB_ATTRIBUTES, u, attr("job-id", Tag.INTEGER, 999)).pack())
        == Status.NOT_FOUND
    )
    text = operation(
        Op.PRINT_JOB, u, attr("document-format", Tag.MIME_TYPE, "text/plain"), data=b"hello"
    )
    assert status(text.pack()) == Status.DOCUMENT_FORMAT_NOT_SUPPORTED
    sniffed = operation(Op.PRINT_JOB, u, data=b"just some text, no magic")
    assert status(sniffed.pack()) == Status.DOCUMENT_FORMAT_NOT_SUPPORTED
    # Cancelling another user's job: refused, the job goes on.
    job_id = print_pdf(port, user="alice")
    bob = operation(Op.CANCEL_JOB, u, attr("job-id", Tag.INTEGER, job_id), user="bob")
    assert status(bob.pack()) == Status.NOT_AUTHORIZED
    assert wait_for(lambda: get_state(port, job_id) is JobState.COMPLETED)
    again = operation(Op.CANCEL_JOB, u, attr("job-id", Tag.INTEGER, job_id), user="alice")
    assert status(again.pack()) == Status.NOT_POSSIBLE  # finished jobs stay finished
    # Attributes too long to be a request.
    huge = operation(
        Op.GET_PRINTER_ATTRIBUTES, u, *(attr(f"x-{i}", Tag.TEXT, "y" * 60000) for i in range(6))
    )
    assert status(huge.pack()) == Status.REQUEST_ENTITY_TOO_LARGE
    # A document over the 1 MiB limit: refused, nothing left in the spool.
    before = sorted(p.name for p in spool.iterdir())
    big = operation(Op.PRINT_JOB, u, data=b"%PDF-" + bytes(2 * 1024 * 1024))
    assert status(big.pack()) == Status.REQUEST_ENTITY_TOO_LARGE
    assert sorted(p.name for p in spool.iterdir()) == before
    # Still serving.
    assert status(operation(Op.GET_PRINTER_ATTRIBUTES, u).pack()) == Status.OK


def test_create_job_flood_from_one_client_is_bounded(
    agent: tuple[AgentProcess, Path, Path],
) -> None:
    proc, _, _ = agent
    port = ipp_port(proc)
    create = operation(Op.CREATE_JOB, uri(port)).pack()
    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda _: ipp_post(port, create).code, range(60)))
    assert codes.count(Status.OK) == 20
    assert codes.count(Status.TOO_MANY_JOBS) == 40
    start = time.monotonic()
    assert ipp_post(port, operation(Op.GET_PRINTER_ATTRIBUTES, uri(port)).pack()).code == Status.OK
    assert time.monotonic() - start < 5


HALF_SENT = (
    b"POST /ipp/print/office HTTP/1.1\r\nHost: x\r\nContent-Type: application/ipp\r\n"
    b"Content-Length: 100000\r\n\r\n\x02\x00"
)


def test_garbage_and_slow_clients_do_not_stop_the_server(
    agent: tuple[AgentProcess, Path, Path],
) -> None:
    proc, _, _ = agent
    port = ipp_port(proc)
    socks = []
    for _ in range(20):  # half-sent requests left open
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(HALF_SENT)
        socks.append(s)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        s.recv(100)
    try:
        start = time.monotonic()
        assert (
            ipp_post(port, operation(Op.GET_PRINTER_ATTRIBUTES, uri(port)).pack()).code == Status.OK
        )
        assert time.monotonic() - start < 5
    finally:
        for s in socks:
            s.close()


def test_cli_print_printers_and_jobs(tmp_path: Path) -> None:
    """The real ``peerwork`` CLI: print a PDF through the agent's printer, list both."""
    out = tmp_path / "out"
    out.mkdir()
    home = tmp_path / "home"
    printer_home(home, out)
    (tmp_path / "budget.pdf").write_bytes(TINY_PDF)
    (tmp_path / "notes.txt").write_text("plain text")
    with AgentProcess(home):
        listed = json.loads(peerwork(home, "printers", "--json").stdout)
        (office,) = listed["printers"]
        assert office["name"] == "office" and office["uri"].endswith("/ipp/print/office")
        printed = peerwork(home, "print", str(tmp_path / "budget.pdf"), "--copies", "2")
        assert "Job 1 sent" in printed.stdout
        assert wait_for(lambda: finished_files(out))
        assert [p.name for p in finished_files(out)] == ["000001-budget.pdf"]
        jobs = json.loads(peerwork(home, "jobs", "--json").stdout)["jobs"]
        assert [(j["id"], j["copies"], j["name"]) for j in jobs] == [(1, 2, "budget.pdf")]
        refused = peerwork(home, "print", str(tmp_path / "notes.txt"), check=False)
        assert refused.returncode != 0 and "not a PDF" in refused.stderr
        missing = peerwork(
            home, "print", str(tmp_path / "budget.pdf"), "--printer", "nope", check=False
        )
        assert missing.returncode != 0 and "no printer nope" in missing.stderr


@pytest.mark.skipif(shutil.which("cupsd") is None, reason="cupsd missing (cups-daemon)")
def test_cups_adds_the_printer_driverless_and_prints_to_it(tmp_path: Path) -> None:
    """A real cupsd of our own as the client: ``lpadmin -m everywhere`` builds the queue from
    our Get-Printer-Attributes; ``lp`` sends the PDF through CUPS' ipp backend. (Without
    cups-filters CUPS cannot convert a PDF itself, so the job is sent ``-o raw``.)"""
    out = tmp_path / "out"
    out.mkdir()
    printer_home(tmp_path / "home", out)
    (tmp_path / "letter.pdf").write_bytes(TINY_PDF)
    cupsd = run_cupsd()
    try:
        with AgentProcess(tmp_path / "home") as agent:
            lpadmin(cupsd, "-p", "office", "-E", "-v", uri(ipp_port(agent)), "-m", "everywhere")
            ppd_file = cupsd.root / "ppd" / "office.ppd"
            assert wait_for(ppd_file.exists)  # cupsd writes it just after answering lpadmin
            ppd = ppd_file.read_text()
            assert "*cupsFilter2" in ppd and "application/pdf" in ppd  # from our attributes
            sent = subprocess.run(
                ["lp", "-h", cupsd.host, "-d", "office", "-o", "raw", str(tmp_path / "letter.pdf")],
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert sent.returncode == 0, sent.stderr
            assert wait_for(lambda: finished_files(out), timeout=30), (
                cupsd.root / "error_log"
            ).read_text()
            (file,) = finished_files(out)
            assert file.read_bytes() == TINY_PDF
    finally:
        stop(cupsd)
