"""Managing shared printers with the real ``peerwork`` CLI while the agent runs: added,
regranted and removed live (no restart), jobs cancelled by the PC's owner, bad input
refused with a message; and the same commands editing peerwork.toml with no agent."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import tomlkit

from peerwork.proto.ipp import attr
from peerwork.proto.ipp_constants import JobState, Op, Status, Tag
from tests.helpers.agent import AgentProcess, init_home, peerwork
from tests.helpers.ipp import TINY_PDF, finished_files, ipp_post, job_value, operation


def wait_for(predicate: Callable[[], object], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def loopback_printers(home: Path) -> None:
    """[printers] on loopback with free ports, and no printer yet."""
    init_home(home)
    path = home / "peerwork.toml"
    doc = tomlkit.parse(path.read_text())
    doc["printers"].update({"bind": "127.0.0.1", "port": 0, "ipps_port": 0})  # type: ignore[union-attr]
    path.write_text(tomlkit.dumps(doc))


def uri(port: int, name: str = "office") -> str:
    return f"ipp://127.0.0.1:{port}/ipp/print/{name}"


def print_pdf(port: int, name: str = "office") -> int:
    request = operation(
        Op.PRINT_JOB,
        uri(port, name),
        attr("document-format", Tag.MIME_TYPE, "application/pdf"),
        data=TINY_PDF,
    )
    return int(ipp_post(port, request.pack(), path=f"/ipp/print/{name}").code)


@pytest.fixture
def bare(tmp_path: Path) -> object:
    home = tmp_path / "home"
    loopback_printers(home)
    with AgentProcess(home) as agent:
        yield agent, home, tmp_path


def test_add_regrant_cancel_remove_while_running(bare: tuple[AgentProcess, Path, Path]) -> None:
    agent, home, tmp = bare
    printers = agent.service("printers")
    assert printers["state"] == "running" and printers["ports"] == {}
    assert "no printers shared" in printers["summary"]
    out = tmp / "out"
    out.mkdir()
    added = peerwork(
        home, "printer", "add", "office", "--backend", f"file:{out}", "--grant", "bob=manage",
        "--info", "Front desk", "--location", "Reception", "--make-model", "Acme LaserJet 9",
    )  # fmt: skip
    assert "Sharing printer 'office'" in added.stdout
    assert "no account 'bob' yet" in added.stderr
    listed = json.loads(peerwork(home, "printers", "--json").stdout)
    (office,) = listed["printers"]
    assert office["grants"] == {
        "alice": "manage",  # the PC's owner
        "anonymous": "print",
        "bob": "manage",
        "everyone": "print",
    }
    assert (office["info"], office["location"], office["make_model"]) == (
        "Front desk",
        "Reception",
        "Acme LaserJet 9",
    )
    ports = agent.service("printers")["ports"]
    port = ports["ipp"]
    assert office["uri"].endswith(f":{port}/ipp/print/office") and ports["ipps"]
    # Served at once, and kept in peerwork.toml.
    assert print_pdf(port) == Status.OK
    assert wait_for(lambda: finished_files(out))
    saved = tomlkit.parse((home / "peerwork.toml").read_text())
    assert saved["printers"]["printer"][0]["backend"] == f"file:{out}"  # type: ignore[index]
    # No more printing without a logon: applied live.
    peerwork(home, "printer-set", "office", "--grant", "anonymous=none")
    assert print_pdf(port) == Status.NOT_AUTHORIZED
    peerwork(home, "printer-set", "office", "--revoke", "anonymous", "--grant", "everyone=none")
    data = json.loads(peerwork(home, "printers", "--json").stdout)["printers"][0]
    assert "anonymous" not in data["grants"] and data["grants"]["everyone"] == "none"
    peerwork(home, "printer-set", "office", "--grant", "anonymous=print")
    # The owner cancels anyone's job from the CLI.
    created = ipp_post(port, operation(Op.CREATE_JOB, uri(port), user="carol").pack())
    job_id = int(job_value(created, "job-id"))
    cancelled = peerwork(home, "cancel", str(job_id))
    assert f"Job {job_id}" in cancelled.stdout and "carol" in cancelled.stdout
    get = operation(Op.GET_JOB_ATTRIBUTES, uri(port), attr("job-id", Tag.INTEGER, job_id))
    assert job_value(ipp_post(port, get.pack()), "job-state") == JobState.CANCELED
    again = peerwork(home, "cancel", str(job_id), check=False)
    assert again.returncode != 0 and "canceled" in again.stderr
    missing = peerwork(home, "cancel", "999", check=False)
    assert missing.returncode != 0 and "no job 999" in missing.stderr
    # Removed: nothing listens any more, nothing is announced.
    peerwork(home, "printer", "remove", "office")
    assert agent.service("printers")["ports"] == {}
    assert json.loads(peerwork(home, "printers", "--json").stdout)["printers"] == []
    saved = tomlkit.parse((home / "peerwork.toml").read_text())
    assert not saved["printers"].get("printer")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["printer", "add", "x", "--backend", "lpd://host/q"], "is not one of"),
        (["printer", "add", "x", "--backend", "file:relative"], "absolute"),
        (["printer", "add", "bad name", "--backend", "file:/tmp"], "letters, digits"),
        (["printer", "add", "x", "--backend", "file:/tmp", "--grant", "bob=full"], "none, print"),
        (["printer-set", "nope", "--grant", "bob=print"], "no printer named 'nope'"),
        (["printer", "remove", "nope"], "no printer named 'nope'"),
        (["cancel", "12"], "no job 12"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    bare: tuple[AgentProcess, Path, Path], args: list[str], message: str
) -> None:
    agent, home, _ = bare
    before = (home / "peerwork.toml").read_text()
    res = peerwork(home, *args, check=False)
    assert res.returncode != 0 and message in res.stderr, res.stderr
    assert (home / "peerwork.toml").read_text() == before
    assert agent.service("printers")["state"] == "running"


def test_duplicate_printer_is_refused(bare: tuple[AgentProcess, Path, Path]) -> None:
    _, home, tmp = bare
    peerwork(home, "printer", "add", "office", "--backend", f"file:{tmp}")
    dup = peerwork(home, "printer", "add", "OFFICE", "--backend", f"file:{tmp}", check=False)
    assert dup.returncode != 0 and "already" in dup.stderr


def test_without_an_agent_the_commands_edit_peerwork_toml(tmp_path: Path) -> None:
    home = tmp_path / "home"
    loopback_printers(home)
    out = tmp_path / "out"
    out.mkdir()
    peerwork(home, "printer", "add", "office", "--backend", f"file:{out}")
    peerwork(home, "printer-set", "office", "--grant", "anonymous=none")
    with AgentProcess(home) as agent:
        listed = json.loads(peerwork(home, "printers", "--json").stdout)["printers"]
        assert [(p["name"], p["grants"]["anonymous"]) for p in listed] == [("office", "none")]
        assert print_pdf(agent.service("printers")["ports"]["ipp"]) == Status.NOT_AUTHORIZED
    peerwork(home, "printer", "remove", "office")
    saved = tomlkit.parse((home / "peerwork.toml").read_text())
    assert not saved["printers"].get("printer")  # type: ignore[union-attr]


def test_a_hand_edit_applies_with_reload(bare: tuple[AgentProcess, Path, Path]) -> None:
    agent, home, tmp = bare
    path = home / "peerwork.toml"
    doc = tomlkit.parse(path.read_text())
    printer = tomlkit.table()
    printer.update({"name": "office", "backend": f"file:{tmp}"})
    doc["printers"]["printer"] = tomlkit.aot()  # type: ignore[index]
    doc["printers"]["printer"].append(printer)  # type: ignore[index]
    path.write_text(tomlkit.dumps(doc))
    assert agent.service("printers")["ports"] == {}
    report = peerwork(home, "reload").stdout
    assert "printers" in report
    port = agent.service("printers")["ports"]["ipp"]
    assert print_pdf(port) == Status.OK
