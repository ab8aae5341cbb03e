"""Hostile SMTP and POP3 clients against a real agent: stalled DATA, a thousand idle
connections, garbage lines, password guessing. Real clients: plain sockets, smtplib, poplib.
"""

from __future__ import annotations

import contextlib
import poplib
import smtplib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.agent import AgentProcess
from tests.helpers.mail import mail_home, mail_ports, maildir_files, message, wait_until

USERS = {"alice": "alice-pw-1", "bob": "bob-pw-2"}
IDLE = 2.0
CAP = 40


@pytest.fixture
def office(tmp_path: Path) -> Iterator[tuple[AgentProcess, Path]]:
    home = tmp_path / "pc1"
    agent = mail_home(home, USERS, idle_timeout=IDLE, max_connections=CAP)
    with agent:
        yield agent, home


def _dialogue(sock: socket.socket, *lines: bytes) -> bytes:
    for line in lines:
        sock.sendall(line)
    time.sleep(0.3)
    return sock.recv(65536)


def _smtp_works(port: int) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        assert smtp.noop()[0] == 250


def test_stalled_data_is_dropped_and_nothing_stored(office: tuple[AgentProcess, Path]) -> None:
    agent, home = office
    port, _ = mail_ports(agent)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.recv(1000)
        reply = _dialogue(
            sock, b"EHLO x\r\n", b"MAIL FROM:<a@office.lan>\r\n", b"RCPT TO:<bob@office.lan>\r\n"
        )
        sock.sendall(b"DATA\r\n")
        assert b"354" in sock.recv(1000) or b"354" in reply
        sock.sendall(b"Subject: never ends\r\n\r\nhalf a message")
        time.sleep(0.2)
        assert len(list((home / "mail" / "queue" / "incoming").iterdir())) == 1
        started = time.monotonic()
        sock.settimeout(IDLE + 10)
        assert sock.recv(1000) == b""  # closed by the server after the idle timeout
        assert time.monotonic() - started < IDLE + 5
    time.sleep(0.3)
    assert list((home / "mail" / "queue" / "incoming").iterdir()) == []
    assert list((home / "mail" / "queue" / "env").iterdir()) == []
    assert maildir_files(home, "bob") == []
    _smtp_works(port)


def test_data_cut_before_the_dot_stores_nothing(office: tuple[AgentProcess, Path]) -> None:
    agent, home = office
    port, _ = mail_ports(agent)
    for cut in (b"", b"Subject: cut\r\n\r\nhalf", b"Subject: cut\r\n\r\nall but the dot\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.recv(1000)
            _dialogue(
                sock,
                b"EHLO x\r\nMAIL FROM:<a@office.lan>\r\nRCPT TO:<bob@office.lan>\r\nDATA\r\n",
            )
            sock.sendall(cut)
    incoming = home / "mail" / "queue" / "incoming"
    wait_until(lambda: not any(incoming.iterdir()), 5, "cut messages swept")
    assert list((home / "mail" / "queue" / "env").iterdir()) == []
    assert maildir_files(home, "bob") == []
    assert "Traceback" not in agent.log_text()
    _smtp_works(port)


def test_thousand_idle_connections_bounded(tmp_path: Path) -> None:
    # Idle long enough that none of the held connections times out while the rest connect.
    idle = 10.0
    with mail_home(tmp_path / "pc1", USERS, idle_timeout=idle, max_connections=CAP) as agent:
        _thousand_idle(agent, idle)


def _thousand_idle(agent: AgentProcess, idle: float) -> None:
    port, pop3_port = mail_ports(agent)
    assert agent.proc is not None
    fds_before = _fd_count(agent.proc.pid)
    socks: list[socket.socket] = []
    try:
        for _ in range(1000):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        greeted = refused = 0
        for sock in socks:
            with contextlib.suppress(OSError):
                first = sock.recv(200)
                greeted += first.startswith(b"220")
                refused += first.startswith(b"421")
        assert greeted <= CAP and refused >= 1000 - CAP
        # The agent holds at most the cap, not a thousand sockets.
        # The agent holds at most the cap, not a thousand sockets (refused ones are closed
        # as soon as its loop gets to them).
        pid = agent.proc.pid
        wait_until(lambda: _fd_count(pid) - fds_before <= CAP + 10, 5, "refused sockets closed")
        # The held ones are dropped after the idle timeout: a real client gets in,
        # within seconds, while the attacker still keeps its sockets open.
        started = time.monotonic()
        while True:
            try:
                _smtp_works(port)
                break
            except (smtplib.SMTPException, OSError):
                assert time.monotonic() - started < idle + 10
                time.sleep(0.2)
        # POP3 is capped the same way and answers meanwhile.
        pop = poplib.POP3("127.0.0.1", pop3_port, timeout=10)
        pop.quit()
    finally:
        for sock in socks:
            sock.close()


def test_smtp_garbage_lines(office: tuple[AgentProcess, Path]) -> None:
    agent, home = office
    port, _ = mail_ports(agent)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.recv(1000)
        replies = _dialogue(
            sock,
            b"\x00\xff\xfe garbage\r\n",
            b"EHLO x\r\nMAIL FROM:<a@office.lan> BODY=NONSENSE\r\n",
            b"RCPT TO:<bob@office.lan\x00>\r\n",
            b"RCPT TO:<@@@>\r\n",
            b"DATA\r\n",
        )
        assert b"500" in replies or b"501" in replies
        assert b"354" not in replies  # no valid MAIL/RCPT: no DATA
        sock.sendall(b"X" * 5000 + b"\r\n")
        time.sleep(0.3)
        sock.sendall(b"NOOP\r\n")
        time.sleep(0.3)
        assert b"250" in sock.recv(65536)
    assert maildir_files(home, "bob") == []
    _smtp_works(port)
    # Bare LF and NULs inside DATA are stored as sent, nothing else changed.
    raw = message("alice@office.lan", "bob@office.lan", "odd") + b"nul\x00 and bare\nlf\r\n"
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        assert smtp.sendmail("alice@office.lan", ["bob@office.lan"], raw) == {}


def test_pop3_garbage_and_overlong_lines(office: tuple[AgentProcess, Path]) -> None:
    agent, _ = office
    _, port = mail_ports(agent)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        assert sock.recv(100).startswith(b"+OK")
        replies = _dialogue(sock, b"\x00\xff\r\n", b"RETR 1\r\n", b"STAT\r\n", b"TOP x y\r\n")
        assert replies.count(b"-ERR") == 4
        sock.sendall(b"USER " + b"a" * 5000 + b"\r\n")
        time.sleep(0.3)
        sock.settimeout(5)
        tail = sock.recv(1000)
        assert b"-ERR line too long" in tail
        assert sock.recv(1000) == b""  # and the connection is closed
    pop = poplib.POP3("127.0.0.1", port, timeout=10)
    pop.user("alice")
    assert pop.pass_(USERS["alice"]).startswith(b"+OK")
    pop.quit()


def test_pop3_wrong_passwords_throttled(office: tuple[AgentProcess, Path]) -> None:
    agent, _ = office
    _, port = mail_ports(agent)
    pop = poplib.POP3("127.0.0.1", port, timeout=30)
    timings = []
    for _ in range(8):
        pop.user("bob")
        started = time.monotonic()
        with pytest.raises(poplib.error_proto):
            pop.pass_("guess")
        timings.append(time.monotonic() - started)
    pop.quit()
    # Five free failures, then 0.5, 1 and 2 seconds (peerwork.logon_throttle defaults).
    assert max(timings[:5]) < 0.4
    assert timings[5] >= 0.45 and timings[6] >= 0.9 and timings[7] >= 1.8
    # The owner with the right password is not locked out, nor slowed down.
    pop = poplib.POP3("127.0.0.1", port, timeout=10)
    pop.user("bob")
    started = time.monotonic()
    assert pop.pass_(USERS["bob"]).startswith(b"+OK")
    assert time.monotonic() - started < 0.4
    pop.quit()


def _fd_count(pid: int) -> int:
    return sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())
