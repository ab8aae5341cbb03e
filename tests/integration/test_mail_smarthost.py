"""Outbound mail through a smarthost, relay rules and bounces, against real servers.

The smarthost is a real aiosmtpd (tests/helpers/smarthost.py) that requires
STARTTLS and AUTH, with a certificate of its own that the agent is told to
trust; clients are smtplib with this PC's pinned certificate. Workgroup mail
never reaches the smarthost; outside mail does, only from a logged-on
account; a recipient the smarthost refuses, or mail that waits too long,
comes back to the sender as an RFC 3464 report.
"""

from __future__ import annotations

import email
import email.policy
import smtplib
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.helpers.agent import AgentProcess, peerwork
from tests.helpers.mail import mail_home, mail_ports, maildir_files, message, wait_until
from tests.helpers.ports import unused_tcp_port
from tests.helpers.smarthost import PASSWORD as SMART_PASSWORD
from tests.helpers.smarthost import USER as SMART_USER
from tests.helpers.smarthost import RunningSmarthost, start_smarthost

USERS = {"alice": "alice-pw-1", "bob": "bob-pw-2"}


@pytest.fixture
def smarthost(tmp_path: Path) -> Iterator[RunningSmarthost]:
    host = start_smarthost(
        tmp_path / "isp", "127.0.0.1", unused_tcp_port(), "--refuse", "nobody@example.com"
    )
    try:
        yield host
    finally:
        host.stop()


def office(tmp_path: Path, smarthost: RunningSmarthost, **mail: object) -> AgentProcess:
    home = tmp_path / "pc1"
    agent = mail_home(
        home,
        USERS,
        smarthost=smarthost.address,
        smarthost_user=SMART_USER,
        smarthost_ca=str(smarthost.ca),
        retry_first=1,
        **mail,
    )
    # The real CLI stores the password: 0600, in the home, not in peerwork.toml.
    out = peerwork(
        home, "mail", "smarthost-password", "--password-stdin", input=SMART_PASSWORD + "\n"
    ).stdout
    secret = home / "mail" / "smarthost.secret"
    assert str(secret) in out and secret.stat().st_mode & 0o777 == 0o600
    assert SMART_PASSWORD not in (home / "peerwork.toml").read_text()
    return agent


def pinned(home: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(home / "identity" / "peer.crt"))
    ctx.check_hostname = False
    return ctx


def logged_on(agent: AgentProcess, user: str = "alice") -> smtplib.SMTP:
    port, _ = mail_ports(agent)
    smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
    smtp.starttls(context=pinned(agent.home))
    smtp.login(user, USERS[user])
    return smtp


def _report(path: Path) -> EmailMessage:
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_outside_mail_leaves_by_the_smarthost_workgroup_mail_never(
    tmp_path: Path, smarthost: RunningSmarthost
) -> None:
    with office(tmp_path, smarthost) as agent:
        raw = message("alice@office.lan", "carol@example.com, bob@office.lan", "hello both")
        with logged_on(agent) as smtp:
            refused = smtp.sendmail(
                "alice@office.lan", ["carol@example.com", "bob@office.lan"], raw
            )
            assert refused == {}
        wait_until(lambda: smarthost.messages(), 30, "the smarthost receiving it")
        wait_until(lambda: agent.service("mail")["details"]["queued"] == 0, 20, "the queue")
        assert smarthost.messages() == [raw]
        assert len(maildir_files(agent.home, "bob")) == 1
        # Workgroup-only mail: the smarthost gets not one more byte.
        before = len(smarthost.received())
        with logged_on(agent) as smtp:
            smtp.sendmail("alice@office.lan", ["bob@office.lan"], message("a", "b", "inside"))
        wait_until(lambda: len(maildir_files(agent.home, "bob")) == 2, 20)
        assert len(smarthost.received()) == before
    lines = smarthost.stop()
    assert lines == [
        {"from": "alice@office.lan", "to": ["carol@example.com"], "size": len(raw),
         "user": SMART_USER}
    ]  # fmt: skip
    log = agent.log_text()
    assert SMART_PASSWORD not in log and "Traceback" not in log


def test_smarthost_password_must_be_one_line(tmp_path: Path) -> None:
    mail_home(tmp_path / "pc1", {})
    res = peerwork(
        tmp_path / "pc1", "mail", "smarthost-password", "--password-stdin", input="\n", check=False
    )
    assert res.returncode != 0 and "one non-empty line" in res.stderr
    assert not (tmp_path / "pc1" / "mail" / "smarthost.secret").exists()


def test_relay_needs_a_logon(tmp_path: Path, smarthost: RunningSmarthost) -> None:
    with office(tmp_path, smarthost) as agent:
        port, _ = mail_ports(agent)
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            smtp.ehlo("stranger")
            smtp.mail("alice@office.lan")
            code, text = smtp.rcpt("carol@example.com")
            assert code == 554 and b"relay access denied" in text, text
            code, text = smtp.rcpt("postmaster")
            assert code == 553, text
            # Mail for the workgroup needs no logon.
            assert smtp.rcpt("bob@office.lan")[0] == 250
    assert smarthost.received() == b""


def test_refused_recipient_bounces_to_the_sender(
    tmp_path: Path, smarthost: RunningSmarthost
) -> None:
    with office(tmp_path, smarthost) as agent:
        raw = message("alice@office.lan", "nobody@example.com", "lost letter")
        with logged_on(agent) as smtp:
            assert smtp.sendmail("alice@office.lan", ["nobody@example.com"], raw) == {}
        wait_until(lambda: maildir_files(agent.home, "alice"), 30, "the bounce")
        wait_until(lambda: agent.service("mail")["details"]["queued"] == 0, 20, "the queue")
        [path] = maildir_files(agent.home, "alice")
        report = _report(path)
        assert report.get_content_type() == "multipart/report"
        assert report.get_param("report-type") == "delivery-status"
        assert report["Auto-Submitted"] == "auto-replied"
        human, status, headers = report.iter_parts()
        assert "nobody@example.com" in human.get_content()
        assert status.get_content_type() == "message/delivery-status"
        fields = status.as_string()
        assert "Final-Recipient: rfc822; nobody@example.com" in fields
        assert "Status: 5.1.1" in fields and "Action: failed" in fields
        assert headers.get_content_type() == "text/rfc822-headers"
        assert "Subject: lost letter" in headers.as_string()
    assert smarthost.messages() == []


def test_smarthost_down_then_expiry_bounces(tmp_path: Path, smarthost: RunningSmarthost) -> None:
    smarthost.stop()
    with office(tmp_path, smarthost, expire_after=3) as agent:
        with logged_on(agent) as smtp:
            raw = message("alice@office.lan", "dave@example.com", "too late")
            assert smtp.sendmail("alice@office.lan", ["dave@example.com"], raw) == {}
        wait_until(
            lambda: "smarthost 127.0.0.1" in peerwork(agent.home, "mail", "queue").stdout,
            20,
            "the queue saying why it waits",
        )
        wait_until(lambda: maildir_files(agent.home, "alice"), 30, "the expiry bounce")
        [path] = maildir_files(agent.home, "alice")
        fields = _report(path).as_string()
        assert "Final-Recipient: rfc822; dave@example.com" in fields
        assert "Status: 4.4.7" in fields
        wait_until(lambda: agent.service("mail")["details"]["queued"] == 0, 20, "the queue")
