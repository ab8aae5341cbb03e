"""STARTTLS with the PC's peer certificate, AUTH PLAIN/LOGIN only over TLS, POP3 STLS.

Real clients: smtplib and poplib with a context that pins the PC's certificate, swaks.
"""

from __future__ import annotations

import poplib
import shutil
import smtplib
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.agent import AgentProcess
from tests.helpers.mail import mail_home, mail_ports, maildir_files, message, wait_until

USERS = {"alice": "alice pw 1", "bob": "bob-pw-2"}


@pytest.fixture
def office(tmp_path: Path) -> Iterator[tuple[AgentProcess, Path]]:
    home = tmp_path / "pc1"
    with mail_home(home, USERS) as agent:
        yield agent, home


def pinned(home: Path) -> ssl.SSLContext:
    """Trust exactly this PC's self-signed peer certificate (named by key, not host)."""
    ctx = ssl.create_default_context(cafile=str(home / "identity" / "peer.crt"))
    ctx.check_hostname = False
    return ctx


def test_auth_needs_tls_then_works(office: tuple[AgentProcess, Path]) -> None:
    agent, home = office
    port, _ = mail_ports(agent)
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as smtp:
        _, caps = smtp.ehlo("client")
        assert b"STARTTLS" in caps and b"AUTH" not in caps
        code, _ = smtp.docmd("AUTH", "PLAIN AGFsaWNlAHg=")
        assert code == 538
        smtp.starttls(context=pinned(home))
        _, caps = smtp.ehlo("client")
        assert b"AUTH LOGIN PLAIN" in caps
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login("alice", "wrong")
        smtp.login("alice", USERS["alice"])  # smtplib picks PLAIN
        raw = message("alice@office.lan", "bob@office.lan", "over tls")
        assert smtp.sendmail("alice@office.lan", ["bob@office.lan"], raw) == {}
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as smtp:
        smtp.starttls(context=pinned(home))
        smtp.ehlo("client")
        smtp.user, smtp.password = "bob", USERS["bob"]
        code, _ = smtp.auth("LOGIN", smtp.auth_login)
        assert code == 235


def test_pop3_stls(office: tuple[AgentProcess, Path]) -> None:
    agent, home = office
    smtp_port, pop3_port = mail_ports(agent)
    raw = message("alice@office.lan", "bob@office.lan", "fetched over tls")
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=20) as smtp:
        smtp.sendmail("alice@office.lan", ["bob@office.lan"], raw)
    pop = poplib.POP3("127.0.0.1", pop3_port, timeout=20)
    assert "STLS" in pop.capa()
    pop.stls(context=pinned(home))
    assert "STLS" not in pop.capa()
    wait_until(lambda: maildir_files(home, "bob"))
    pop.user("bob")
    pop.pass_(USERS["bob"])
    assert b"\r\n".join(pop.retr(1)[1]) + b"\r\n" == raw
    pop.quit()


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks not installed (make apt-deps)")
def test_swaks_starttls_auth(office: tuple[AgentProcess, Path]) -> None:
    agent, _ = office
    port, _ = mail_ports(agent)
    base = ["swaks", "--server", "127.0.0.1", "--port", str(port), "--tls",
            "--from", "alice@office.lan", "--to", "bob@office.lan",
            "--header", "Subject: swaks tls"]  # fmt: skip
    for mechanism in ("PLAIN", "LOGIN"):
        proc = subprocess.run(
            [*base, "--auth", mechanism, "--auth-user", "alice",
             "--auth-password", USERS["alice"]],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "235 2.7.0 Authentication successful" in proc.stdout
        assert "250 2.0.0 OK queued as" in proc.stdout
    bad = subprocess.run(
        [*base, "--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "nope"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert bad.returncode != 0 and "535" in bad.stdout
