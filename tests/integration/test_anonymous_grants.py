"""Anonymous logons cannot walk around an account's grant (issue 12, finding 6).

Real clients against a real agent (``peerwork agent`` as a subprocess, on
127.0.0.1): smbclient with ``-N`` (an anonymous logon) and with ``-U bob``, and
``peerwork put/get --user ''`` (pysmb, anonymous). ``everyone`` means every
account that logs on; no-logon access is the ``anonymous`` grant, ``none``
unless the share says otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.agent import PEERWORK, AgentProcess, init_home, peerwork

PASSWORDS = {"alice": "al1ce-pw", "bob": "b0b-pw"}


@dataclass
class Office:
    home: Path
    agent: AgentProcess
    team: Path
    upload: Path  # a local file to put

    @property
    def port(self) -> int:
        return self.agent.smb_port()

    def share_set(self, *grants: str) -> subprocess.CompletedProcess[str]:
        args = [a for g in grants for a in ("--grant", g)]
        return peerwork(self.home, "share-set", "team", *args)

    def smbclient(self, auth: list[str], command: str) -> str:
        res = subprocess.run(
            ["smbclient", "//127.0.0.1/team", "-p", str(self.port), *auth, "-c", command],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return res.stdout + res.stderr

    def anon(self, command: str) -> str:
        return self.smbclient(["-N"], command)

    def bob(self, command: str) -> str:
        return self.smbclient(["-U", f"bob%{PASSWORDS['bob']}"], command)

    def pw_anon(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``peerwork ARGS --user ''`` as a client (no agent of its own, no password)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PEERWORK_")}
        env["PEERWORK_HOME"] = str(self.home.parent / "client-home")
        return subprocess.run(
            [*PEERWORK, *args, "--user", ""],
            env=env,
            input="",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def url(self, path: str) -> str:
        return f"//127.0.0.1:{self.port}/team/{path}"


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    home = tmp_path / "home"
    init_home(home, owner="alice")
    for user, pw in PASSWORDS.items():
        peerwork(home, "user", "add", user, "--password-stdin", input=pw + "\n")
    team = tmp_path / "team"
    team.mkdir()
    (team / "notice.txt").write_text("team notice\n")
    upload = tmp_path / "upload.txt"
    upload.write_text("planted\n")
    with AgentProcess(home) as agent:
        peerwork(home, "share", str(team), "--name", "team")
        yield Office(home, agent, team, upload)


def _refused_anonymous_writes(office: Office, name: str) -> None:
    text = office.anon(f"put {office.upload} {name}")
    assert "NT_STATUS_ACCESS_DENIED" in text or "NT_STATUS_LOGON_FAILURE" in text, text
    res = office.pw_anon("put", str(office.upload), office.url(name))
    assert res.returncode != 0, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    assert not (office.team / name).exists()


@pytest.mark.parametrize(
    "grants",
    [("everyone=change", "bob=read"), ("everyone=read", "bob=none")],
    ids=["everyone-change-bob-read", "everyone-read-bob-none"],
)
def test_anonymous_cannot_walk_around_bobs_grant(office: Office, grants: tuple[str, ...]) -> None:
    office.share_set(*grants)
    bob_access = grants[1].split("=")[1]
    # As bob: his own grant holds.
    text = office.bob(f"put {office.upload} bob.txt")
    assert "NT_STATUS_ACCESS_DENIED" in text, text
    assert not (office.team / "bob.txt").exists()
    if bob_access == "none":
        assert "NT_STATUS_ACCESS_DENIED" in office.bob("ls")
    # Anonymously: no share grants anonymous, so the logon itself is refused.
    text = office.anon("ls")
    assert "NT_STATUS_ACCESS_DENIED" in text and "notice.txt" not in text, text
    _refused_anonymous_writes(office, "anon.txt")
    res = office.pw_anon("ls", office.url(""))
    assert res.returncode != 0 and "notice.txt" not in res.stdout
    assert "anonymous" in res.stderr, res.stderr
    # The listing says anonymous gets nothing, and warns of nothing.
    listed = json.loads(peerwork(office.home, "shares", "--json").stdout)["shares"][0]
    assert listed["anonymous"] == "none" and listed["warnings"] == []
    assert "anonymous=none" in peerwork(office.home, "shares").stdout


def test_anonymous_gets_exactly_its_grant_and_is_called_out(office: Office) -> None:
    office.share_set("everyone=change", "bob=read")
    res = office.share_set("anonymous=read")
    # anonymous=read is not more than bob's read: no walk-around warning yet
    assert "gets around" not in res.stderr
    assert "anonymous=read" in res.stdout
    status = peerwork(office.home, "status").stdout
    assert "anonymous (no logon): team=read" in status, status
    # read: listing and get work, writes are refused (smbclient -N and peerwork --user '')
    assert "notice.txt" in office.anon("ls")
    got = office.home.parent / "got.txt"
    res = office.pw_anon("get", office.url("notice.txt"), str(got), "--quiet")
    assert res.returncode == 0, res.stderr
    assert got.read_text() == "team notice\n"
    _refused_anonymous_writes(office, "anon.txt")
    assert "NT_STATUS_ACCESS_DENIED" in office.anon("rm notice.txt")
    assert (office.team / "notice.txt").exists()

    # change: now more than bob's own read — allowed, and called out everywhere it shows.
    res = office.share_set("anonymous=change")
    assert "anonymous=change gives more than bob" in res.stderr, res.stderr
    assert "without any password" in res.stderr
    text = peerwork(office.home, "shares").stdout
    assert "anonymous=change" in text and "gives more than bob" in text, text
    office.anon(f"put {office.upload} anon.txt")
    assert (office.team / "anon.txt").read_text() == "planted\n"
    res = office.pw_anon("put", str(office.upload), office.url("anon2.txt"), "--quiet")
    assert res.returncode == 0, res.stderr
    assert (office.team / "anon2.txt").read_text() == "planted\n"
    # Bob logged on is still read-only: his grant is his, whatever anonymous gets.
    assert "NT_STATUS_ACCESS_DENIED" in office.bob(f"put {office.upload} bob.txt")
    assert not (office.team / "bob.txt").exists()

    # Back to none: refused at once, the logon too.
    office.share_set("anonymous=none")
    assert "NT_STATUS_ACCESS_DENIED" in office.anon("ls")
    assert "anonymous (no logon): none" in peerwork(office.home, "status").stdout
