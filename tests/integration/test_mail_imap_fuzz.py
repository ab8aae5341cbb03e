"""Hypothesis against a live IMAP server: random and mutated commands after logon, each
followed by a NOOP that must be answered, so no input crashes, hangs or wedges a session.

The server runs in-process (its own event loop in a thread) on loopback, with TLS and a
real account, so each example costs a connection, not an agent start.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peerwork.accounts import AccountStore
from peerwork.agents.mail.imap import ImapServer
from peerwork.agents.peer_tls import peer_tls_context
from peerwork.identity import Identity
from peerwork.logon_throttle import ThrottleLimits
from peerwork.password_logon import PasswordLogon

PASSWORD = "bob-pw-2"
SEEDS = [
    b"a FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY[]<0.10>)",
    b"a UID FETCH 1:* (BODYSTRUCTURE ENVELOPE BODY.PEEK[1.MIME] RFC822.SIZE)",
    b"a SEARCH OR FROM alice NOT SEEN SINCE 2-Jan-2024 (UNDELETED 1:3) BODY hello",
    b"a STORE 1:2 +FLAGS (\\Seen \\Deleted)",
    b"a UID COPY 1:* Trash",
    b"a UID MOVE 2 Sent",
    b'a LIST "" "*"',
    b"a STATUS INBOX (MESSAGES UIDNEXT UNSEEN)",
    b"a CREATE Work.2026",
    b"a RENAME Work Archive",
    b"a EXPUNGE",
    b"a UID EXPUNGE 1:5",
    b"a EXAMINE Trash",
]
MESSAGE = (
    b"From: alice@office.lan\r\nSubject: hello\r\nContent-Type: multipart/mixed; boundary=b\r\n"
    b"\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n"
)


class Errors(logging.Handler):
    """The server's error log lines (a session that failed on a bug)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class LiveServer:
    def __init__(self, root: Path) -> None:
        self.errors = Errors()
        logging.getLogger("peerwork.mail").addHandler(self.errors)
        accounts = AccountStore(root / "accounts.toml")
        accounts.add("bob", PASSWORD)
        Identity.generate("pc1").save(root / "identity")
        self.server = ImapServer(
            PasswordLogon(accounts, ThrottleLimits(free_failures=1000)),
            root / "mail",
            max_connections=50,
            idle_timeout=10,
            max_size=10_000_000,
            tls=peer_tls_context(root / "identity"),
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.port = asyncio.run_coroutine_threadsafe(
            self.server.start("127.0.0.1", 0), self.loop
        ).result(10)

    def close(self) -> None:
        logging.getLogger("peerwork.mail").removeHandler(self.errors)
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class Session:
    def __init__(self, port: int) -> None:
        plain = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = plain.makefile("rb")
        assert self.file.readline().startswith(b"* OK")
        plain.sendall(b"t STARTTLS\r\n")
        assert self.file.readline().startswith(b"t OK")
        self.file.close()
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        self.sock = ctx.wrap_socket(plain)
        self.file = self.sock.makefile("rb")

    def command(self, line: bytes, tag: bytes) -> list[bytes]:
        """Send ``line``; read until ``tag``'s answer, a BYE, or the connection's end."""
        self.sock.sendall(line)
        lines = []
        while True:
            got = self.file.readline(1_000_000)
            lines.append(got)
            if not got or got.startswith(tag + b" ") or got.startswith(b"* BYE"):
                return lines
            if got.startswith(b"+ "):  # a literal was asked for: this input has none
                self.sock.sendall(b"\r\n")

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("imapfuzz"))
    try:
        yield server
    finally:
        server.close()


def one_example(live: LiveServer, line: bytes) -> None:
    session = Session(live.port)
    try:
        assert session.command(f"l LOGIN bob {PASSWORD}\r\n".encode(), b"l")[-1].startswith(b"l OK")
        appended = session.command(
            b"p APPEND INBOX {%d+}\r\n" % len(MESSAGE) + MESSAGE + b"\r\n", b"p"
        )
        assert appended[-1].startswith(b"p OK")
        assert session.command(b"s SELECT INBOX\r\n", b"s")[-1].startswith(b"s OK")
        answer = session.command(line.replace(b"\r", b"").replace(b"\n", b"") + b"\r\n", b"a")
        if answer[-1].startswith(b"* BYE") or not answer[-1]:
            return  # the server may hang up on a hostile client; others are still served
        last = session.command(b"zz NOOP\r\n", b"zz")
        assert last[-1].startswith(b"zz OK"), (line, answer, last)
    finally:
        session.close()
    assert not live.errors.records, live.errors.records[0].getMessage()


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 90), st.binary(min_size=1, max_size=5)), max_size=4),
)
def test_mutated_commands_after_logon(
    live: LiveServer, seed: bytes, edits: list[tuple[int, bytes]]
) -> None:
    data = bytearray(seed)
    for at, chunk in edits:
        data[at : at + len(chunk)] = chunk
    if not data.startswith(b"a "):
        data[0:0] = b"a "
    one_example(live, bytes(data))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=200))
def test_random_bytes_after_logon(live: LiveServer, junk: bytes) -> None:
    one_example(live, b"a " + junk)
