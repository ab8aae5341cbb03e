"""Accepted means stored: kill -9 after 250 loses nothing and delivers nothing twice;
a 200 MB message goes through with the agent's memory staying small.

Real clients: smtplib (messages built with email.policy.SMTP) against a real agent.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import smtplib
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.agent import peerwork
from tests.helpers.mail import mail_home, mail_ports, maildir_files, message, wait_until

USERS = {"alice": "alice-pw-1", "bob": "bob-pw-2"}


def _subjects(home: Path, account: str) -> list[str]:
    subjects = []
    for path in maildir_files(home, account):
        for line in path.read_bytes().split(b"\r\n"):
            if line.startswith(b"Subject: "):
                subjects.append(line[9:].decode())
    return sorted(subjects)


def test_kill_9_after_250_then_restart_delivers_exactly_once(tmp_path: Path) -> None:
    home = tmp_path / "pc1"
    agent = mail_home(home, USERS)
    agent.start()
    # bob's mailbox cannot be made (a file in its way): his mail stays queued.
    (home / "mail").mkdir(exist_ok=True)
    (home / "mail" / "bob").write_text("in the way")
    smtp_port, _ = mail_ports(agent)
    sent = {"alice": [f"a{i}" for i in range(10)], "bob": [f"b{i}" for i in range(10)]}
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=20) as smtp:
        for i in range(10):
            for account in ("alice", "bob"):
                to = f"{account}@office.lan"
                raw = message("carol@office.lan", to, sent[account][i])
                assert smtp.sendmail("carol@office.lan", [to], raw) == {}
        # `peerwork mail queue` shows what waits and why.
        wait_until(lambda: len(_waiting(home)) == 10, what="bob's mail deferred")
        assert all(e["attempts"] >= 1 and e["last_error"] for e in _waiting(home))
        listing = peerwork(home, "mail", "queue").stdout
        assert listing.count(" to bob: queued, ") == 10
        raw = message("carol@office.lan", "alice@office.lan", "last")
        assert smtp.sendmail("carol@office.lan", ["alice@office.lan"], raw) == {}
        sent["alice"].append("last")
        # The last 250 is in: no QUIT, no clean stop.
        assert agent.proc is not None
        agent.proc.send_signal(signal.SIGKILL)
        agent.proc.wait(10)
    assert len(list((home / "mail" / "queue" / "env").iterdir())) >= 10  # bob's ten wait
    (home / "mail" / "bob").unlink()
    agent.start()
    try:
        wait_until(lambda: len(maildir_files(home, "bob")) >= 10)
        wait_until(lambda: agent.service("mail")["details"]["queued"] == 0)
        assert _subjects(home, "alice") == sorted(sent["alice"])
        assert _subjects(home, "bob") == sorted(sent["bob"])
        bob = ("mail", "inbox", "bob", "--json", "--password-stdin")
        inbox = json.loads(peerwork(home, *bob, input=USERS["bob"] + "\n").stdout)
        assert sorted(m["subject"] for m in inbox) == sorted(sent["bob"])
        assert peerwork(home, "mail", "queue").stdout.strip() == "The mail queue is empty."
    finally:
        agent.stop()
    # And a third start finds nothing left to do: still exactly one copy each.
    with agent:
        time.sleep(0.5)
        assert len(maildir_files(home, "alice")) == 11 and len(maildir_files(home, "bob")) == 10


def _waiting(home: Path) -> list[dict[str, Any]]:
    return list(json.loads(peerwork(home, "mail", "queue", "--json").stdout))


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_200_mb_message_streamed_to_disk(tmp_path: Path) -> None:
    home = tmp_path / "pc1"
    agent = mail_home(home, USERS, max_size=250_000_000)
    with agent:
        smtp_port, _ = mail_ports(agent)
        assert agent.proc is not None
        before = _peak_rss_mb(agent.proc.pid)
        head = message("alice@office.lan", "bob@office.lan", "big attachment", "see below\n")
        line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n"
        raw = head + b".dot-started line\r\n" + line * (200_000_000 // len(line))
        started = time.monotonic()
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=60) as smtp:
            assert smtp.sendmail("alice@office.lan", ["bob@office.lan"], raw) == {}
        elapsed = time.monotonic() - started
        wait_until(lambda: len(maildir_files(home, "bob")) == 1)
        stored = maildir_files(home, "bob")[0]
        assert stored.stat().st_size == len(raw)
        assert hashlib.sha256(stored.read_bytes()).digest() == hashlib.sha256(raw).digest()
        peak = _peak_rss_mb(agent.proc.pid)
        print(f"200 MB over SMTP: {elapsed:.1f} s; agent peak RSS {before:.0f} -> {peak:.0f} MB")
        assert elapsed < 60
        assert peak - before < 40, f"agent peak RSS grew {before:.0f} -> {peak:.0f} MB"


@pytest.mark.root
def test_full_disk_while_receiving_says_452(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs (in a private mount namespace) needs root")
    home = tmp_path / "pc1"
    agent = mail_home(home, USERS)
    (home / "mail").mkdir()
    # A 2 MiB tmpfs over the agent's mail folder, only in its own mount namespace.
    mount = 'mount -t tmpfs -o size=2m peerwork-test "$0" && exec "$@"'
    agent.prefix = ["unshare", "--mount", "--propagation", "private", "sh", "-c", mount,
                    str(home / "mail")]  # fmt: skip
    with agent:
        port, _ = mail_ports(agent)
        big = message("alice@office.lan", "bob@office.lan", "too big for the disk", "x" * 3_000_000)
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            with pytest.raises(smtplib.SMTPDataError) as refused:
                smtp.sendmail("alice@office.lan", ["bob@office.lan"], big)
            assert refused.value.smtp_code == 452
            # Nothing half-stored: the next message fits and arrives.
            small = message("alice@office.lan", "bob@office.lan", "small")
            assert smtp.sendmail("alice@office.lan", ["bob@office.lan"], small) == {}
        status = agent.service("mail")
        assert status["state"] == "running"
        wait_until(lambda: agent.service("mail")["details"]["delivered"] == 1)
        assert agent.service("mail")["details"]["queued"] == 0
