"""A home whose agent runs the post office on free loopback ports, and messages for it."""

from __future__ import annotations

import email.policy
import json
import sys
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import tomlkit

from tests.helpers.agent import AgentProcess, init_home, lab_agent, peerwork
from tests.helpers.netns import PC, NetnsLab


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


def lab_mail_agent(
    lab: NetnsLab, index: int, tmp_path: Path, users: dict[str, str], **mail: Any
) -> AgentProcess:
    """An office PC in ``lab`` (see ``lab_agent``) running the post office on its LAN
    address, SMTP 2525, POP3 1110 and IMAP 1143; ``mail`` keys override ``[mail]``."""
    agent, home = lab_agent(lab, index, tmp_path, users)
    path = home / "peerwork.toml"
    doc = tomlkit.parse(path.read_text())
    section = doc["mail"]
    section.update(
        {"enabled": True, "bind": "0.0.0.0", "port": 2525, "pop3_port": 1110, "imap_port": 1143}
        | mail
    )  # type: ignore[union-attr]
    path.write_text(tomlkit.dumps(doc))
    return agent


# What each fetch script prints per message: size, sha256, subject, attachments' sha256.
_SUMMARY = """
import email, email.policy, hashlib, json, ssl, sys
host, user, password = sys.argv[1:4]
out = []
def summary(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    parts = [hashlib.sha256(p.get_content()).hexdigest() for p in msg.iter_attachments()]
    out.append({"size": len(raw), "sha256": hashlib.sha256(raw).hexdigest(),
                "subject": str(msg["Subject"]), "attachments": parts})
"""

POP3_FETCH = (
    _SUMMARY
    + """
import poplib
pop = poplib.POP3(host, 1110, timeout=60)
pop.stls(ssl._create_unverified_context())
pop.user(user)
pop.pass_(password)
for i in range(1, len(pop.list()[1]) + 1):
    lines = pop.retr(i)[1]
    summary(b"\\r\\n".join(lines) + b"\\r\\n")
pop.quit()
print(json.dumps(out))
"""
)

IMAP_FETCH = (
    _SUMMARY
    + """
import imaplib
imap = imaplib.IMAP4(host, 1143, timeout=60)
imap.starttls(ssl._create_unverified_context())
imap.login(user, password)
imap.select("INBOX", readonly=True)
typ, data = imap.uid("SEARCH", "ALL")
for uid in data[0].split():
    typ, got = imap.uid("FETCH", uid, "(BODY.PEEK[])")
    summary(next(d[1] for d in got if isinstance(d, tuple)))
imap.logout()
print(json.dumps(out))
"""
)


def pop3_in(lab: NetnsLab, pc: PC, user: str, password: str) -> list[dict[str, Any]]:
    """Every message in ``user``'s mailbox on ``pc``, fetched with poplib (STLS) inside
    its namespace: size, sha256, subject and the sha256 of each attachment's content."""
    return _fetched(lab, pc, POP3_FETCH, user, password)


def imap_in(lab: NetnsLab, pc: PC, user: str, password: str) -> list[dict[str, Any]]:
    """As :func:`pop3_in`, over IMAP (imaplib, STARTTLS) on port 1143."""
    return _fetched(lab, pc, IMAP_FETCH, user, password)


def _fetched(lab: NetnsLab, pc: PC, script: str, user: str, password: str) -> list[dict[str, Any]]:
    res = lab.run(pc, [sys.executable, "-c", script, pc.address, user, password], timeout=120)
    return list(json.loads(res.stdout))
