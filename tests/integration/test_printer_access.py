"""Who may print: a real agent's printer with grants, driven by raw IPP over http.client
(plain and TLS, with HTTP Basic) and by ipptool over ipps://. A request without a logon
gets the ``anonymous`` grant whatever requesting-user-name says; passwords count only
over IPPS; failed ones are throttled; ``manage`` cancels others' jobs and pauses."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from peerwork.client.ipp import Logon, PrintError, print_file
from peerwork.proto.ipp import Message, attr
from peerwork.proto.ipp_constants import GroupTag, JobState, Op, Status, Tag
from tests.helpers.agent import AgentProcess, peerwork
from tests.helpers.ipp import (
    TINY_PDF,
    finished_files,
    ipp_exchange,
    job_value,
    operation,
    printer_home,
)

GRANTS = {"anonymous": "none", "everyone": "print", "alice": "manage", "carol": "none"}
PASSWORDS = {"alice": "pw-alice-1", "bob": "pw-bob-22", "carol": "pw-carol-3"}
PAUSE, RESUME = 0x0010, 0x0011


def wait_for(predicate: object, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def office(tmp_path: Path) -> object:
    out = tmp_path / "out"
    out.mkdir()
    home = tmp_path / "home"
    printer_home(home, out, grants=GRANTS)
    for user, pw in PASSWORDS.items():
        peerwork(home, "user", "add", user, "--password-stdin", input=f"{pw}\n")
    with AgentProcess(home) as proc:
        ports = proc.service("printers")["ports"]
        yield ports["ipp"], ports["ipps"], out


def uri(port: int, scheme: str = "ipp") -> str:
    return f"{scheme}://127.0.0.1:{port}/ipp/print/office"


def print_job(port: int, scheme: str, user: str = "mallory", title: str = "memo") -> Message:
    return operation(
        Op.PRINT_JOB,
        uri(port, scheme),
        attr("job-name", Tag.NAME, title),
        attr("document-format", Tag.MIME_TYPE, "application/pdf"),
        data=TINY_PDF,
        user=user,
    )


def message_of(reply: Message) -> str:
    group = reply.group(GroupTag.OPERATION)
    found = group.get("status-message") if group else None
    return str(found.value) if found else ""


def printer_value(reply: Message, name: str) -> object:
    group = reply.group(GroupTag.PRINTER)
    found = group.get(name) if group else None
    return found.value if found else None


def test_grants_decide_who_prints(office: tuple[int, int, Path]) -> None:
    plain, tls, out = office
    # No logon: the anonymous grant (none), whatever name the client gives.
    code, reply, _ = ipp_exchange(plain, print_job(plain, "ipp", user="alice").pack())
    assert (code, reply.code) == (200, Status.NOT_AUTHORIZED)
    assert "ipps://" in message_of(reply)
    # A password in the clear is refused without being checked.
    code, reply, _ = ipp_exchange(
        plain, print_job(plain, "ipp").pack(), auth=("bob", PASSWORDS["bob"])
    )
    assert reply.code == Status.NOT_AUTHORIZED and "only over ipps" in message_of(reply)
    # Over IPPS without credentials: HTTP 401 with a Basic challenge, so clients ask.
    code, reply, response = ipp_exchange(tls, print_job(tls, "ipps").pack(), tls=True)
    assert (code, reply.code) == (401, Status.NOT_AUTHORIZED)
    assert response.getheader("WWW-Authenticate", "").startswith("Basic ")
    # bob (everyone=print) logs on and prints; the job is his, whatever name he gave.
    code, reply, _ = ipp_exchange(
        tls, print_job(tls, "ipps", user="alice").pack(), tls=True, auth=("bob", "pw-bob-22")
    )
    assert (code, reply.code) == (200, Status.OK), message_of(reply)
    assert wait_for(lambda: finished_files(out))
    assert [p.name for p in finished_files(out)] == ["000001-memo.pdf"]
    # carol's own entry (none) replaces everyone: forbidden, no challenge.
    code, reply, _ = ipp_exchange(
        tls, print_job(tls, "ipps").pack(), tls=True, auth=("carol", PASSWORDS["carol"])
    )
    assert (code, reply.code) == (200, Status.FORBIDDEN)
    # A wrong password: challenged again.
    code, reply, _ = ipp_exchange(tls, print_job(tls, "ipps").pack(), tls=True, auth=("bob", "x"))
    assert (code, reply.code) == (401, Status.NOT_AUTHORIZED)
    assert len(finished_files(out)) == 1
    # Anyone may read the attributes; over IPPS they say a logon is wanted.
    attrs = operation(Op.GET_PRINTER_ATTRIBUTES, uri(tls, "ipps"))
    _, reply, _ = ipp_exchange(tls, attrs.pack(), tls=True)
    assert reply.code == Status.OK
    assert printer_value(reply, "uri-security-supported") == "tls"
    assert printer_value(reply, "uri-authentication-supported") == "basic"
    assert printer_value(reply, "printer-uri-supported") == uri(tls, "ipps")
    _, reply, _ = ipp_exchange(plain, operation(Op.GET_PRINTER_ATTRIBUTES, uri(plain)).pack())
    assert printer_value(reply, "uri-security-supported") == "none"


def test_manage_cancels_others_jobs_and_pauses(office: tuple[int, int, Path]) -> None:
    plain, tls, out = office
    bob, alice, carol = ("bob", "pw-bob-22"), ("alice", "pw-alice-1"), ("carol", "pw-carol-3")

    def send(message: Message, auth: tuple[str, str] | None) -> Message:
        return ipp_exchange(tls, message.pack(), tls=True, auth=auth)[1]

    def job_state(job_id: int) -> JobState:
        get = operation(
            Op.GET_JOB_ATTRIBUTES, uri(tls, "ipps"), attr("job-id", Tag.INTEGER, job_id)
        )
        return JobState(job_value(send(get, None), "job-state"))

    # Paused by someone who may only print: forbidden; by alice (manage): paused.
    assert send(operation(PAUSE, uri(tls, "ipps")), bob).code == Status.FORBIDDEN
    assert send(operation(PAUSE, uri(tls, "ipps")), alice).code == Status.OK
    reply = send(operation(Op.GET_PRINTER_ATTRIBUTES, uri(tls, "ipps")), None)
    assert printer_value(reply, "printer-state") == 5
    assert printer_value(reply, "printer-state-reasons") == "paused"
    # bob's job waits while the printer is paused.
    job_id = int(job_value(send(print_job(tls, "ipps"), bob), "job-id"))
    time.sleep(1.5)
    assert job_state(job_id) is JobState.PENDING and not finished_files(out)

    def cancel(auth: tuple[str, str] | None, user: str = "bob", port: int = tls) -> Message:
        request = operation(
            Op.CANCEL_JOB,
            uri(port, "ipps" if port == tls else "ipp"),
            attr("job-id", Tag.INTEGER, job_id),
            user=user,
        )
        return ipp_exchange(port, request.pack(), tls=port == tls, auth=auth)[1]

    # Nobody else: not carol (forbidden), not a client without a logon that says "bob".
    assert cancel(carol).code == Status.FORBIDDEN
    assert cancel(None, port=plain).code == Status.NOT_AUTHORIZED
    # alice manages the printer: she cancels bob's job.
    assert cancel(alice).code == Status.OK
    assert job_state(job_id) is JobState.CANCELED
    # Resumed, a new job prints.
    assert send(operation(RESUME, uri(tls, "ipps")), alice).code == Status.OK
    send(print_job(tls, "ipps", title="after"), bob)
    assert wait_for(lambda: finished_files(out))
    assert [p.name for p in finished_files(out)] == ["000002-after.pdf"]


def test_failed_logons_are_throttled(office: tuple[int, int, Path]) -> None:
    _, tls, _ = office
    body = print_job(tls, "ipps").pack()
    for _ in range(5):  # the free failures, answered at once
        assert ipp_exchange(tls, body, tls=True, auth=("bob", "guess"))[0] == 401
    start = time.monotonic()
    assert ipp_exchange(tls, body, tls=True, auth=("bob", "guess"))[0] == 401
    assert time.monotonic() - start >= 0.45  # the throttle's first delay (0.5 s)
    start = time.monotonic()  # the right password is never held back
    assert ipp_exchange(tls, body, tls=True, auth=("bob", "pw-bob-22"))[1].code == Status.OK
    assert time.monotonic() - start < 0.45


@pytest.mark.skipif(shutil.which("ipptool") is None, reason="ipptool missing")
def test_ipptool_prints_over_ipps(tmp_path: Path) -> None:
    """ipptool (CUPS' TLS, trust on first use with HOME of its own) over ipps://."""
    out = tmp_path / "out"
    out.mkdir()
    printer_home(tmp_path / "home", out)
    (tmp_path / "memo.pdf").write_bytes(TINY_PDF)
    with AgentProcess(tmp_path / "home") as proc:
        port = proc.service("printers")["ports"]["ipps"]
        run = subprocess.run(
            ["ipptool", "-T", "20", "-tv", "-f", str(tmp_path / "memo.pdf"), uri(port, "ipps"),
             "print-job.test"],
            capture_output=True,
            text=True,
            timeout=60,
            env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
        assert wait_for(lambda: finished_files(out))
        assert finished_files(out)[0].read_bytes() == TINY_PDF


def test_cli_logs_on_over_ipps_with_the_pc_key_pinned(
    office: tuple[int, int, Path], tmp_path: Path
) -> None:
    """``peerwork print --user`` on this PC goes over ipps:// as the account; our client
    sends nothing to a server whose key is not the expected PC's."""
    _, tls, out = office
    home = tmp_path / "home"
    memo = tmp_path / "memo.pdf"
    memo.write_bytes(TINY_PDF)
    refused = peerwork(home, "print", str(memo), check=False)
    assert refused.returncode != 0 and "--user" in refused.stderr
    done = peerwork(
        home, "print", str(memo), "--user", "bob", "--password-stdin", input="pw-bob-22\n"
    )
    assert f"ipps://127.0.0.1:{tls}/ipp/print/office" in done.stdout
    assert wait_for(lambda: finished_files(out))
    (job,) = json.loads(peerwork(home, "jobs", "--json").stdout)["jobs"]
    assert job["user"] == "bob"
    wrong_id = "a" * 32
    with pytest.raises(PrintError, match="presented the key of peer"):
        print_file(
            uri(tls, "ipps"), memo, user="x", logon=Logon("bob", "pw-bob-22"), peer_id=wrong_id
        )
    assert len(finished_files(out)) == 1
