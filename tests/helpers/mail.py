"""A home whose agent runs the post office on free loopback ports, and messages for it."""

from __future__ import annotations

import email.policy
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import tomlkit

from tests.helpers.agent import AgentProcess, init_home, peerwork


def mail_home(
    home: Path, users: dict[str, str], *, workgroup: str = "OFFICE", **mail: Any
) -> AgentProcess:
    """Init ``home`` with ``users`` and ``[mail]`` on (ports 0 on loopback, ``mail`` keys
    override); returns the agent, not started."""
    init_home(home, workgroup=workgroup)
    path = home / "peerwork.toml"
    doc = tomlkit.parse(path.read_text())
    section = doc["mail"]
    section.update(
        {"enabled": True, "bind": "127.0.0.1", "port": 0, "pop3_port": 0, "imap_port": 0, **mail}
    )  # type: ignore[union-attr]
    path.write_text(tomlkit.dumps(doc))
    for user, password in users.items():
        peerwork(home, "user", "add", user, "--password-stdin", input=f"{password}\n")
    return AgentProcess(home)


def mail_ports(agent: AgentProcess) -> tuple[int, int]:
    ports = agent.service("mail")["ports"]
    return int(ports["smtp"]), int(ports["pop3"])


def message(sender: str, to: str, subject: str, body: str = "hello\n") -> bytes:
    """A message as a mail client sends it: CRLF lines (email.policy.SMTP)."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg.set_content(body)
    return msg.as_bytes()


def maildir_files(home: Path, account: str) -> list[Path]:
    root = home / "mail" / account / "Maildir"
    return sorted(
        p for sub in ("new", "cur") if (root / sub).is_dir() for p in (root / sub).iterdir()
    )


def wait_until(check: Callable[[], object], timeout: float = 20, what: str = "delivery") -> None:
    """Poll ``check`` until true; AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
