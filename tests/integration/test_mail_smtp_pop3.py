"""The post office end to end with real clients: smtplib and swaks in, poplib out.

Each test starts a real agent with ``[mail]`` on loopback ports.
"""

from __future__ import annotations

import json
import poplib
import shutil
import smtplib
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from peerwork.accounts import AccountStore
from peerwork.agents.adverts import AdvertBoard
from peerwork.agents.mail.service import MailService
from peerwork.agents.mail.settings import MailSettings
from peerwork.agents.service import RetryPolicy
from tests.helpers.agent import AgentProcess, peerwork
from tests.helpers.mail import mail_home, mail_ports, maildir_files, message, wait_until

USERS = {"alice": "alice-pw-1", "bob": "bob-pw-2"}


@pytest.fixture
def office(tmp_path: Path) -> Iterator[tuple[AgentProcess, Path]]:
    home = tmp_path / "pc1"
    agent = mail_home(home, USERS, aliases={"info": "bob"})
    agent.start()
    try:
        yield agent, home
    finally:
        agent.stop()


def pop3_fetch_all(port: int, user: str, password: str) -> list[bytes]:
    pop = poplib.POP3("127.0.0.1", port, timeout=20)
    try:
        pop.user(user)
        pop.pass_(password)
        count, _ = pop.stat()
        return [b"\r\n".join(pop.retr(i)[1]) + b"\r\n" for i in range(1, count + 1)]
    finally:
        pop.quit()


def test_smtplib_to_poplib_byte_identical(office: tuple[AgentProcess, Path]) -> None:
    agent, home = office
    smtp_port, pop3_port = mail_ports(agent)
    raw = message("alice@office.lan", "bob@office.lan", "lunch", ".starts with a dot\nok\n")
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=20) as smtp:
        code, caps = smtp.ehlo("client.office.lan")
        assert code == 250
        for extension in (b"SIZE 100000000", b"8BITMIME", b"SMTPUTF8", b"PIPELINING"):
            assert extension in caps
        refused = smtp.sendmail("alice@office.lan", ["bob@office.lan"], raw)
        assert refused == {}
    # 250 means stored: the queue runner then delivers into bob's Maildir.
    wait_until(lambda: len(maildir_files(home, "bob")) == 1)
    assert maildir_files(home, "bob")[0].read_bytes() == raw
    assert pop3_fetch_all(pop3_port, "bob", USERS["bob"]) == [raw]
    assert pop3_fetch_all(pop3_port, "alice", USERS["alice"]) == []


def test_alias_and_pop3_commands(office: tuple[AgentProcess, Path]) -> None:
    agent, home = office
    smtp_port, pop3_port = mail_ports(agent)
    raw = message("alice@office.lan", "info@office.lan", "via alias", "line1\nline2\nline3\n")
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=20) as smtp:
        smtp.sendmail("alice@office.lan", ["info@office.lan"], raw)
    wait_until(lambda: len(maildir_files(home, "bob")) == 1)
    pop = poplib.POP3("127.0.0.1", pop3_port, timeout=20)
    pop.user("bob")
    pop.pass_(USERS["bob"])
    assert pop.capa().keys() >= {"USER", "UIDL", "TOP"}
    assert pop.stat() == (1, len(raw))
    uid = maildir_files(home, "bob")[0].name
    assert pop.uidl(1).split()[-1].decode() == uid
    top = pop.top(1, 1)[1]
    assert top[-1] == b"line1" and b"Subject: via alias" in top
    assert pop.noop().startswith(b"+OK")
    pop.dele(1)
    assert pop.stat() == (0, 0)
    pop.rset()
    assert pop.stat()[0] == 1
    pop.dele(1)
    pop.quit()
    assert maildir_files(home, "bob") == []


def test_refused_at_rcpt(office: tuple[AgentProcess, Path]) -> None:
    agent, _ = office
    smtp_port, _ = mail_ports(agent)
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=20) as smtp:
        smtp.ehlo("client")
        smtp.mail("alice@office.lan")
        code, text = smtp.rcpt("nobody@office.lan")
        assert code == 550 and b"no such mailbox" in text
        code, text = smtp.rcpt("someone@example.com")
        assert code == 550 and b"smarthost" in text
        code, _ = smtp.rcpt("bob@OFFICE.LAN")
        assert code == 250


def test_oversized_refused(tmp_path: Path) -> None:
    home = tmp_path / "pc1"
    agent = mail_home(home, USERS, max_size=10_000)
    with agent:
        smtp_port, _ = mail_ports(agent)
        big = message("alice@office.lan", "bob@office.lan", "big", ("y" * 76 + "\n") * 200)
        # Announced (SIZE): smtplib sends SIZE=, refused at MAIL.
        with (
            smtplib.SMTP("127.0.0.1", smtp_port, timeout=20) as smtp,
            pytest.raises(smtplib.SMTPSenderRefused),
        ):
            smtp.sendmail("alice@office.lan", ["bob@office.lan"], big)
        # Not announced (plain HELO): refused while receiving, nothing stored.
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=20) as smtp:
            smtp.helo("client")
            smtp.mail("alice@office.lan")
            smtp.rcpt("bob@office.lan")
            code, _ = smtp.data(big)
            assert code == 552
            assert smtp.noop()[0] == 250  # the session goes on
        assert maildir_files(home, "bob") == []
        assert list((home / "mail" / "queue" / "incoming").iterdir()) == []


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks not installed (make apt-deps)")
def test_swaks_delivers(office: tuple[AgentProcess, Path]) -> None:
    agent, home = office
    smtp_port, pop3_port = mail_ports(agent)
    proc = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(smtp_port), "--pipeline",
         "--from", "alice@office.lan", "--to", "bob@office.lan", "--header", "Subject: swaks",
         "--body", "sent by swaks"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "250 2.0.0 OK queued as" in proc.stdout
    wait_until(lambda: len(maildir_files(home, "bob")) == 1)
    fetched = pop3_fetch_all(pop3_port, "bob", USERS["bob"])
    assert len(fetched) == 1 and b"Subject: swaks" in fetched[0] and b"sent by swaks" in fetched[0]


def test_status_json_shows_real_ports(office: tuple[AgentProcess, Path]) -> None:
    _, home = office
    status = json.loads(peerwork(home, "status", "--json").stdout)
    mail = next(s for s in status["services"] if s["name"] == "mail")
    assert mail["state"] == "running"
    assert set(mail["ports"]) == {"smtp", "pop3", "imap"}
    # The ports shown are the ones bound: each answers with its greeting.
    for name, greeting in (("smtp", b"220 "), ("pop3", b"+OK "), ("imap", b"* OK ")):
        with socket.create_connection(("127.0.0.1", mail["ports"][name]), timeout=10) as sock:
            assert sock.recv(100).startswith(greeting)


async def test_mail_role_and_ports_on_the_board(tmp_path: Path) -> None:
    """What discovery announces comes from the board: role ``mail`` while running, gone after."""
    board = AdvertBoard()
    service = MailService(
        settings=MailSettings(
            enabled=True, bind="127.0.0.1", smtp_port=0, pop3_port=0, imap_port=0
        ),
        accounts=AccountStore(tmp_path / "accounts.toml"),
        home=tmp_path,
        hostname="pc1.office.lan",
    )
    service.supervise(board, RetryPolicy())
    await service.start()
    try:
        assert board.roles() == ["mail"]
        assert board.ports() == service.ports() and set(board.ports()) == {"smtp", "pop3", "imap"}
    finally:
        await service.stop()
    assert board.roles() == []
