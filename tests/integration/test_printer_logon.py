"""``peerwork print|jobs|cancel --user`` to a peer's printer that refuses anonymous
printing: two agents in two namespaces, the real CLI on PC2 talking IPP over ipps:// to
PC1 with HTTP Basic, PC1's peer key pinned from its signed record."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.agent import lab_agent, peerwork
from tests.helpers.ipp import TINY_PDF, finished_files
from tests.helpers.netns import NetnsLab, lab_factory  # noqa: F401  (fixture)

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]
Lab = Callable[..., NetnsLab]
USERS = {"alice": "pw-alice-1", "bob": "pw-bob-22", "carol": "pw-carol-3"}


def _wait(predicate: Callable[[], object], timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_print_with_a_logon_to_a_peer_printer(lab_factory: Lab, tmp_path: Path) -> None:  # noqa: F811
    lab = lab_factory(2)
    pc1, home1 = lab_agent(lab, 1, tmp_path, USERS)
    pc2, home2 = lab_agent(lab, 2, tmp_path, USERS)
    out = tmp_path / "out"
    out.mkdir()
    memo = tmp_path / "memo.pdf"
    memo.write_bytes(TINY_PDF)
    on_pc2 = lab.argv(lab.pc(2), [])

    def cli(*args: str, stdin: str | None = None) -> tuple[int, str]:
        run = peerwork(home2, *args, input=stdin, prefix=on_pc2, check=False)
        return run.returncode, run.stdout + run.stderr

    with pc1, pc2:
        peerwork(
            home1,
            "printer",
            "add",
            "office",
            "--backend",
            f"file:{out}",
            "--grant",
            "anonymous=none",
            "--grant",
            "everyone=print",
        )
        assert _wait(lambda: json.loads(peerwork(home2, "printers", "--json").stdout)["peers"])
        # No logon: refused, and told what to do.
        code, text = cli("print", str(memo), "--printer", "PC1/office")
        assert code != 0 and "--user" in text and "needs a logon" in text, text
        # As alice over ipps://: the job lands in PC1's folder, owned by alice.
        code, text = cli(
            "print",
            str(memo),
            "--printer",
            "PC1/office",
            "--user",
            "alice",
            "--password-stdin",
            stdin="pw-alice-1\n",
        )
        assert code == 0 and "ipps://" in text, text
        assert _wait(lambda: finished_files(out), 10)
        (landed,) = finished_files(out)
        assert landed.read_bytes() == TINY_PDF
        (job,) = json.loads(peerwork(home1, "jobs", "--json").stdout)["jobs"]
        assert job["user"] == "alice"
        # A wrong password: refused, nothing printed; after the free failures, held back.
        took = []
        for _ in range(6):
            start = time.monotonic()
            code, text = cli(
                "print",
                str(memo),
                "--printer",
                "PC1/office",
                "--user",
                "bob",
                "--password-stdin",
                stdin="guess\n",
            )
            took.append(time.monotonic() - start)
            assert code != 0 and "wrong user name or password" in text, text
        # The free failures answer at once; the sixth waits out the first delay (0.5 s).
        assert took[-1] >= min(took[:5]) + 0.4, took
        assert len(finished_files(out)) == 1
        assert len(json.loads(peerwork(home1, "jobs", "--json").stdout)["jobs"]) == 1


def test_jobs_and_cancel_on_a_peer_printer(lab_factory: Lab, tmp_path: Path) -> None:  # noqa: F811
    """PC1's printer has a backend that is down (nothing listens on its socket), so jobs
    wait: PC2 lists them over IPP and cancels its own; another's only with manage."""
    lab = lab_factory(2)
    pc1, home1 = lab_agent(lab, 1, tmp_path, USERS)
    pc2, home2 = lab_agent(lab, 2, tmp_path, USERS)
    memo = tmp_path / "memo.pdf"
    memo.write_bytes(TINY_PDF)
    on_pc2 = lab.argv(lab.pc(2), [])
    printer = ("--printer", "PC1/laser")

    def cli(*args: str, user: str = "") -> tuple[int, str]:
        logon = ("--user", user, "--password-stdin") if user else ()
        run = peerwork(
            home2, *args, *logon, input=f"{USERS.get(user, '')}\n", prefix=on_pc2, check=False
        )
        return run.returncode, run.stdout + run.stderr

    def remote_jobs(user: str = "bob") -> dict[int, dict[str, object]]:
        code, text = cli("jobs", *printer, "--json", user=user)
        assert code == 0, text
        return {j["id"]: j for j in json.loads(text)["jobs"]}

    with pc1, pc2:
        peerwork(
            home1,
            "printer",
            "add",
            "laser",
            "--backend",
            "socket://127.0.0.1:9",
            "--grant",
            "anonymous=none",
            "--grant",
            "everyone=print",
            "--grant",
            "carol=manage",
        )
        assert _wait(lambda: json.loads(peerwork(home2, "printers", "--json").stdout)["peers"])
        assert cli("print", str(memo), *printer, user="alice")[0] == 0
        assert cli("print", str(memo), *printer, "--title", "mine", user="bob")[0] == 0
        listed = remote_jobs()
        assert {i: (j["user"], j["state"]) for i, j in listed.items()} == {
            1: ("alice", 3),
            2: ("bob", 3),
        }, listed
        code, text = cli("jobs", *printer, user="bob")
        assert code == 0 and "alice" in text and "mine" in text, text
        # Another's job: refused to bob (print), to no logon; carol (manage) may.
        code, text = cli("cancel", "1", *printer, user="bob")
        assert code != 0 and "forbidden" in text, text
        code, text = cli("cancel", "1", *printer)
        assert code != 0 and "--user" in text, text
        assert remote_jobs()[1]["state"] == 3
        code, text = cli("cancel", "1", *printer, user="carol")
        assert code == 0 and "canceled" in text, text
        # bob cancels his own; a job that does not exist is refused.
        assert cli("cancel", "2", *printer, user="bob")[0] == 0
        assert {i: j["state"] for i, j in remote_jobs().items()} == {1: 7, 2: 7}
        code, text = cli("cancel", "99", *printer, user="bob")
        assert code != 0 and "no job 99" in text, text
        local = {
            j["id"]: j["state"]
            for j in json.loads(peerwork(home1, "jobs", "--json").stdout)["jobs"]
        }
        assert local == {1: 7, 2: 7}
