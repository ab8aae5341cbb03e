"""``peerwork mail send|inbox|read`` run as the real CLI against a real agent: the CLI
submits over SMTP (STARTTLS + AUTH, certificate pinned) and reads over IMAP as the account.
"""

from __future__ import annotations

import json
import os
import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest

from tests.helpers.agent import AgentProcess, peerwork
from tests.helpers.mail import mail_home, maildir_files, wait_until

USERS = {"alice": "alice-pw-1", "bob": "bob-pw-2"}


@pytest.fixture
def office(tmp_path: Path) -> Iterator[tuple[AgentProcess, Path]]:
    home = tmp_path / "pc1"
    agent = mail_home(home, USERS)  # the PC's owner is alice
    with agent:
        yield agent, home


def as_user(home: Path, user: str, *args: str, check: bool = True) -> str:
    done = peerwork(
        home, "mail", *args, "--user", user, "--password-stdin", input=USERS[user] + "\n",
        check=check,
    )  # fmt: skip
    return done.stdout if check else done.stdout + done.stderr


def test_send_inbox_read_with_attachments(
    office: tuple[AgentProcess, Path], tmp_path: Path
) -> None:
    _, home = office
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"%PDF-1.4\n" + os.urandom(3 * 1024 * 1024))
    notes = tmp_path / "notes.txt"
    notes.write_text("line one\nline two\n")
    body = tmp_path / "body.txt"
    body.write_text("Hi Bob,\n.a line starting with a dot\nthe scan is attached.\n")
    out = as_user(
        home, "alice", "send", "--to", "bob", "--cc", "alice", "--subject", "Grüße: scan",
        "--attach", str(scan), "--attach", str(notes), "--body-file", str(body),
    )  # fmt: skip
    assert out.startswith("Sent to bob@office.lan, alice@office.lan (")
    wait_until(lambda: len(maildir_files(home, "bob")) == 1 and maildir_files(home, "alice"))
    inbox = json.loads(as_user(home, "bob", "inbox", "--json"))
    assert len(inbox) == 1
    entry = inbox[0]
    assert entry["subject"] == "Grüße: scan" and entry["from"] == "alice@office.lan"
    assert entry["seen"] is False and entry["size"] > 4_000_000
    saved = tmp_path / "saved"
    shown = as_user(home, "bob", "read", str(entry["id"]), "--save-attachments", str(saved))
    assert "Subject: Grüße: scan" in shown
    assert ".a line starting with a dot\nthe scan is attached." in shown
    assert "[1] scan.pdf  application/pdf" in shown and "[2] notes.txt  text/plain" in shown
    assert (saved / "scan.pdf").read_bytes() == scan.read_bytes()
    assert (saved / "notes.txt").read_bytes().replace(b"\r\n", b"\n") == notes.read_bytes()
    # Reading marked it seen; the text listing shows it without the N.
    assert json.loads(as_user(home, "bob", "inbox", "--json"))[0]["seen"] is True
    listing = as_user(home, "bob", "inbox")
    assert "Grüße: scan" in listing and " N" not in listing.split("Grüße")[0]
    # The copy alice sent herself is in her own inbox, as the PC's owner by default.
    mine = peerwork(home, "mail", "inbox", "--password-stdin", input=USERS["alice"] + "\n")
    assert "Grüße: scan" in mine.stdout


def test_wrong_password_and_unknown_message(office: tuple[AgentProcess, Path]) -> None:
    _, home = office
    wrong = peerwork(
        home, "mail", "inbox", "--user", "bob", "--password-stdin", input="nope\n", check=False
    )
    assert wrong.returncode == 1 and "wrong password for bob" in wrong.stderr
    missing = peerwork(
        home, "mail", "read", "99", "--user", "bob", "--password-stdin",
        input=USERS["bob"] + "\n", check=False,
    )  # fmt: skip
    assert missing.returncode == 1 and "no message 99" in missing.stderr
    nobody = peerwork(
        home, "mail", "send", "--to", "nobody", "--subject", "x", "--user", "alice",
        "--password-stdin", input=USERS["alice"] + "\n", check=False,
    )  # fmt: skip
    assert nobody.returncode == 1 and "no recipient accepted" in nobody.stderr
    assert "No mail for bob@office.lan." in as_user(home, "bob", "inbox")
    stranger = peerwork(home, "mail", "inbox", "--user", "mallory", "--password-stdin",
                        input="x\n", check=False)  # fmt: skip
    assert stranger.returncode == 1 and "no account 'mallory'" in stranger.stderr


def test_hostile_attachment_names_stay_in_the_folder(
    office: tuple[AgentProcess, Path], tmp_path: Path
) -> None:
    agent, home = office
    msg = EmailMessage(policy=SMTP)
    msg["From"], msg["To"], msg["Subject"] = "alice@office.lan", "bob@office.lan", "names"
    msg.set_content("see\n")
    for name in ("../../escape.txt", "/etc/passwd", ".hidden", "same.txt", "same.txt"):
        msg.add_attachment(b"payload", maintype="text", subtype="plain", filename=name)
    port = int(agent.service("mail")["ports"]["smtp"])
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as smtp:
        smtp.sendmail("alice@office.lan", ["bob@office.lan"], msg.as_bytes())
    wait_until(lambda: len(maildir_files(home, "bob")) == 1)
    uid = json.loads(as_user(home, "bob", "inbox", "--json"))[0]["id"]
    saved = tmp_path / "box" / "saved"
    as_user(home, "bob", "read", str(uid), "--save-attachments", str(saved))
    assert sorted(p.name for p in saved.iterdir()) == [
        "escape.txt",
        "hidden",
        "passwd",
        "same (1).txt",
        "same.txt",
    ]
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "box" / "escape.txt").exists()
