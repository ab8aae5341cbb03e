"""Hostile IMAP clients against a real agent: overlong lines, a 10 GB literal announced,
a thousand idle connections, garbage, password guessing, a large message fetched.
Real clients: plain sockets (with TLS where the attack needs a logon) and imaplib.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import smtplib
import socket
import ssl
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest

from tests.helpers.agent import AgentProcess
from tests.helpers.mail import mail_home, maildir_files, wait_until

USERS = {"alice": "alice-pw-1", "bob": "bob-pw-2"}
CAP = 40


@pytest.fixture
def office(tmp_path: Path) -> Iterator[tuple[AgentProcess, Path]]:
    home = tmp_path / "pc1"
    agent = mail_home(home, USERS, idle_timeout=5.0, max_connections=CAP)
    with agent:
        yield agent, home


def imap_port(agent: AgentProcess) -> int:
    return int(agent.service("mail")["ports"]["imap"])


def tls_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    return ctx


def imap_works(port: int, user: str = "alice") -> None:
    imap = imaplib.IMAP4("127.0.0.1", port, timeout=15)
    imap.starttls(tls_context())
    imap.login(user, USERS[user])
    assert imap.select("INBOX")[0] == "OK"
    imap.logout()


class Raw:
    """A plain socket IMAP client (after STARTTLS and LOGIN when asked)."""

    def __init__(self, port: int, logon: str | None = None) -> None:
        self.sock: socket.socket = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rb")
        assert self.line().startswith(b"* OK")
        if logon is not None:
            self.send(b"t0 STARTTLS\r\n")
            assert self.line().startswith(b"t0 OK")
            self.file.close()
            self.sock = tls_context().wrap_socket(self.sock)
            self.file = self.sock.makefile("rb")
            self.send(f"t1 LOGIN {logon} {USERS[logon]}\r\n".encode())
            assert self.line().startswith(b"t1 OK")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        return self.file.readline(100_000)

    def until(self, prefix: bytes) -> list[bytes]:
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if not line or line.startswith(prefix):
                return lines

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def test_overlong_line_closes_that_connection_only(office: tuple[AgentProcess, Path]) -> None:
    agent, _ = office
    port = imap_port(agent)
    raw = Raw(port)
    raw.send(b"a1 LOGIN " + b"a" * 20_000 + b" pw\r\n")
    assert raw.line() == b"* BYE command line too long\r\n"
    assert raw.line() == b""
    raw.close()
    imap_works(port)


def test_huge_literals_refused_before_reading(office: tuple[AgentProcess, Path]) -> None:
    agent, home = office
    port = imap_port(agent)
    # Before logon even a name literal is small: 10 GB is refused at once.
    raw = Raw(port)
    started = time.monotonic()
    raw.send(b"a1 LOGIN {10000000000}\r\n")
    assert raw.line().startswith(b"a1 NO [TOOBIG]")
    assert time.monotonic() - started < 2
    raw.send(b"a2 NOOP\r\n")
    assert raw.line().startswith(b"a2 OK")
    raw.close()
    # Logged on, an APPEND of 10 GB is over max_size: refused, nothing spooled.
    raw = Raw(port, logon="bob")
    raw.send(b"a3 APPEND INBOX {10000000000}\r\n")
    assert raw.line().startswith(b"a3 NO [TOOBIG]")
    raw.send(b"a4 NOOP\r\n")
    assert raw.line().startswith(b"a4 OK")
    # A non-synchronising one is on its way already: the server hangs up.
    raw.send(b"a5 APPEND INBOX {10000000000+}\r\nFrom: x\r\n")
    assert raw.line().startswith(b"* BYE [TOOBIG]")
    raw.close()
    assert list((home / "mail" / "bob" / "Maildir" / "tmp").iterdir()) == []
    assert maildir_files(home, "bob") == []
    imap_works(port, "bob")


def test_plaintext_pipelined_after_starttls_is_refused(office: tuple[AgentProcess, Path]) -> None:
    agent, _ = office
    port = imap_port(agent)
    raw = Raw(port)
    # A man in the middle appends a command to the client's STARTTLS (CVE-2011-0411).
    raw.send(b"a1 STARTTLS\r\na2 LOGIN bob " + USERS["bob"].encode() + b"\r\n")
    assert raw.line().startswith(b"* BYE nothing may follow STARTTLS")
    assert raw.line() == b""
    raw.close()
    imap_works(port, "bob")


def test_deep_nesting_and_garbage(office: tuple[AgentProcess, Path]) -> None:
    agent, _ = office
    port = imap_port(agent)
    raw = Raw(port, logon="alice")
    raw.send(b"s1 SELECT INBOX\r\n")
    raw.until(b"s1 ")
    hostile = [
        b"g1 FETCH 1 " + b"(" * 5000 + b"\r\n",
        b"g2 SEARCH " + b"NOT " * 1000 + b"ALL\r\n",
        b"g3 \x00\xff\xfe\r\n",
        b"g4 UID FETCH 1:* BODY[" + b"1." * 500 + b"]\r\n",
        b"\r\n",
        b"g5 STORE 1 FLAGS.NOPE (\\Seen)\r\n",
    ]
    for line in hostile:
        raw.send(line)
        answer = raw.line()
        assert b" BAD " in answer or answer.startswith(b"* BAD"), (line[:30], answer)
    raw.send(b"s2 NOOP\r\n")
    assert raw.line().startswith(b"s2 OK")
    # Twenty bad commands in a row: the server hangs up on that client.
    raw.send(b"junk\r\n" * 30)
    lines = raw.until(b"* BYE")
    assert lines[-1] == b"* BYE too many bad commands\r\n"
    raw.close()
    imap_works(port)
    assert "Traceback" not in agent.log_text()


def test_wrong_passwords_throttled(office: tuple[AgentProcess, Path]) -> None:
    agent, _ = office
    port = imap_port(agent)
    timings = []
    for _ in range(8):
        imap = imaplib.IMAP4("127.0.0.1", port, timeout=30)
        imap.starttls(tls_context())
        started = time.monotonic()
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            imap.login("bob", "guess")
        timings.append(time.monotonic() - started)
        imap.logout()
    # Five free failures, then 0.5, 1 and 2 seconds (the table POP3 and SMTP share).
    assert max(timings[:5]) < 0.4
    assert timings[5] >= 0.45 and timings[6] >= 0.9 and timings[7] >= 1.8
    started = time.monotonic()
    imap_works(port, "bob")
    assert time.monotonic() - started < 2


def open_fds(pid: int) -> int:
    return sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())


def test_thousand_idle_connections_capped(tmp_path: Path) -> None:
    idle = 10.0
    with mail_home(tmp_path / "pc1", USERS, idle_timeout=idle, max_connections=CAP) as agent:
        port = imap_port(agent)
        assert agent.proc is not None
        pid = agent.proc.pid
        fds_before = open_fds(pid)
        socks: list[socket.socket] = []
        try:
            for _ in range(1000):
                socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
            greeted = refused = 0
            for sock in socks:
                with contextlib.suppress(OSError):
                    first = sock.recv(300)
                    greeted += first.startswith(b"* OK")
                    refused += first.startswith(b"* BYE")
            assert greeted <= CAP and refused >= 1000 - CAP
            wait_until(
                lambda: open_fds(pid) - fds_before <= CAP + 10,
                5,
                "refused sockets closed",
            )
            # The held ones are dropped after the idle timeout; a real client gets in.
            started = time.monotonic()
            while True:
                try:
                    imap_works(port)
                    break
                except (imaplib.IMAP4.abort, imaplib.IMAP4.error, OSError):
                    assert time.monotonic() - started < idle + 10
                    time.sleep(0.2)
        finally:
            for sock in socks:
                sock.close()


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_large_message_streamed_from_disk(office: tuple[AgentProcess, Path]) -> None:
    agent, home = office
    ports = agent.service("mail")["ports"]
    msg = EmailMessage(policy=SMTP)
    msg["From"], msg["To"], msg["Subject"] = "alice@office.lan", "bob@office.lan", "big"
    msg.set_content("the scan\n")
    payload = os.urandom(40 * 1024 * 1024)
    msg.add_attachment(payload, maintype="application", subtype="octet-stream", filename="s.bin")
    raw = msg.as_bytes()
    del msg
    with smtplib.SMTP("127.0.0.1", int(ports["smtp"]), timeout=120) as smtp:
        smtp.sendmail("alice@office.lan", ["bob@office.lan"], raw)
    wait_until(lambda: len(maildir_files(home, "bob")) == 1, 60)
    assert agent.proc is not None
    before = peak_rss_kb(agent.proc.pid)
    imap = imaplib.IMAP4("127.0.0.1", int(ports["imap"]), timeout=120)
    imap.starttls(tls_context())
    imap.login("bob", USERS["bob"])
    imap.select("INBOX")
    typ, data = imap.fetch(b"1", "(BODYSTRUCTURE BODY[])")
    assert typ == "OK"
    assert data[0][1] == raw  # type: ignore[index]
    assert b'"OCTET-STREAM"' in data[0][0]  # type: ignore[index]
    imap.logout()
    # The 55 MB message went out in 64 KB chunks: the agent's peak grew by far less.
    grown_mb = (peak_rss_kb(agent.proc.pid) - before) / 1024
    assert grown_mb < 20, f"agent peak RSS grew {grown_mb:.0f} MB while sending 55 MB"
