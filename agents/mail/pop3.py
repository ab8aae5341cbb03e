"""The POP3 pickup server (RFC 1939) over the Maildirs the queue runner fills.

One :class:`Pop3Session` per connection: USER/PASS against the workgroup
accounts (the NT hash of the presented password is compared), failed logons
slowed down by :mod:`peerwork.logon_throttle`, a snapshot of the mailbox taken
at logon, deletions applied only at QUIT (the UPDATE state). Lines are
bounded; a silent client is dropped after the idle timeout.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from typing import BinaryIO

from peerwork.proto.dotstuff import DotStuffer
from peerwork.proto.pop3 import MAX_LINE, Command, Pop3SyntaxError, Verb, err, ok, parse_command

from .maildir import StoredMessage, mailbox_of
from .pickup_server import PickupServer

log = logging.getLogger("peerwork.mail.pop3")
CHUNK = 1 << 16
MAX_BAD_COMMANDS = 20
CAPABILITIES = (b"USER", b"UIDL", b"TOP", b"PIPELINING", b"RESP-CODES", b"IMPLEMENTATION peerwork")


class Phase(enum.Enum):
    AUTHORIZATION = "authorization"
    TRANSACTION = "transaction"


class Pop3Server(PickupServer):
    line_limit = MAX_LINE + 1
    busy_reply = err("[SYS/TEMP] too many connections; try again later")
    protocol = "POP3"

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await Pop3Session(self, reader, writer).run()


class Pop3Session:
    def __init__(
        self, server: Pop3Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.address = str(peer[0]) if isinstance(peer, tuple) else "local"
        self.phase = Phase.AUTHORIZATION
        self.user: str | None = None
        self.account = ""
        self.messages: list[StoredMessage] = []
        self.deleted: set[int] = set()

    async def run(self) -> None:
        self.writer.write(ok("peerwork POP3 ready"))
        bad = 0
        while True:
            await self.writer.drain()
            try:
                line = await asyncio.wait_for(
                    self.reader.readuntil(b"\n"), self.server.idle_timeout
                )
            except asyncio.LimitOverrunError:
                self.writer.write(err("line too long"))
                return
            try:
                command = parse_command(line)
            except Pop3SyntaxError as exc:
                bad += 1
                self.writer.write(err(str(exc)))
                if bad >= MAX_BAD_COMMANDS:
                    self.writer.write(err("too many bad commands"))
                    return
                continue
            if not await self.handle(command):
                await self.writer.drain()
                return

    async def handle(self, command: Command) -> bool:
        """Answer one command; False ends the session."""
        verb = command.verb
        if verb is Verb.QUIT:
            removed = self._update() if self.phase is Phase.TRANSACTION else 0
            self.writer.write(ok(f"bye ({removed} deleted)"))
            return False
        if verb is Verb.CAPA:
            capabilities = [*CAPABILITIES, b"STLS"] if self._can_stls() else list(CAPABILITIES)
            listing = b"".join(c + b"\r\n" for c in capabilities)
            self.writer.write(ok("capabilities follow") + listing + b".\r\n")
        elif verb is Verb.STLS:
            await self._stls()
        elif verb is Verb.NOOP:
            self.writer.write(ok())
        elif self.phase is Phase.AUTHORIZATION:
            await self._authorize(command)
        else:
            await self._transact(command)
        return True

    def _can_stls(self) -> bool:
        return (
            self.server.tls is not None
            and self.phase is Phase.AUTHORIZATION
            and self.writer.get_extra_info("ssl_object") is None
        )

    async def _stls(self) -> None:
        if not self._can_stls():
            self.writer.write(err("STLS not available now"))
            return
        assert self.server.tls is not None
        self.writer.write(ok("begin TLS negotiation"))
        await self.writer.drain()
        await asyncio.wait_for(self.writer.start_tls(self.server.tls), self.server.idle_timeout)
        self.user = None  # RFC 2595: what was said before TLS is forgotten

    async def _authorize(self, command: Command) -> None:
        if command.verb is Verb.USER:
            self.user = command.args[0].lower()
            self.writer.write(ok("send PASS"))
        elif command.verb is Verb.PASS and self.user is not None:
            await self._logon(self.user, command.args[0])
        else:
            self.writer.write(err("USER and PASS first"))

    async def _logon(self, user: str, password: str) -> None:
        result = self.server.logon.check(user, password, self.address, "pop3")
        if result.account is None:
            await asyncio.sleep(result.delay)
            self.user = None
            self.writer.write(err("[AUTH] wrong user name or password"))
            return
        self.account = result.account
        self.messages = await asyncio.to_thread(mailbox_of(self.server.mail_root, user).messages)
        self.phase = Phase.TRANSACTION
        self.writer.write(ok(f"{len(self.messages)} message(s)"))

    def _message(self, number: int) -> StoredMessage | None:
        if 1 <= number <= len(self.messages) and number not in self.deleted:
            return self.messages[number - 1]
        return None

    def _live(self) -> list[tuple[int, StoredMessage]]:
        return [(i, m) for i, m in enumerate(self.messages, 1) if i not in self.deleted]

    async def _transact(self, command: Command) -> None:
        verb, numbers = command.verb, command.numbers
        if verb in (Verb.USER, Verb.PASS):
            self.writer.write(err("already logged on"))
        elif verb is Verb.STAT:
            live = self._live()
            self.writer.write(ok(f"{len(live)} {sum(m.size for _, m in live)}"))
        elif verb is Verb.RSET:
            self.deleted.clear()
            self.writer.write(ok())
        elif verb in (Verb.LIST, Verb.UIDL):
            self._listing(verb, numbers)
        elif (message := self._message(numbers[0])) is None:
            self.writer.write(err("no such message"))
        elif verb is Verb.DELE:
            self.deleted.add(numbers[0])
            self.writer.write(ok("marked"))
        elif verb is Verb.RETR:
            await self._send(message, None)
        elif verb is Verb.TOP:
            await self._send(message, numbers[1])

    def _listing(self, verb: Verb, numbers: tuple[int, ...]) -> None:
        def line(i: int, m: StoredMessage) -> str:
            return f"{i} {m.size if verb is Verb.LIST else m.uid}"

        if numbers:
            message = self._message(numbers[0])
            self.writer.write(ok(line(numbers[0], message)) if message else err("no such message"))
            return
        body = "".join(line(i, m) + "\r\n" for i, m in self._live())
        self.writer.write(ok() + body.encode("ascii") + b".\r\n")

    async def _send(self, message: StoredMessage, top_lines: int | None) -> None:
        """RETR (``top_lines`` None) or TOP: streamed from the file, dot-stuffed."""
        mailbox = mailbox_of(self.server.mail_root, self.account)
        try:
            # IMAP may have moved it to cur/ or renamed it for its flags meanwhile.
            handle = (mailbox.locate(message) or message.path).open("rb")
        except FileNotFoundError:
            self.writer.write(err("message gone (deleted by another session)"))
            return
        with handle:
            self.writer.write(ok(f"{message.size} octets"))
            stuffer = DotStuffer()
            if top_lines is None:
                while chunk := await asyncio.to_thread(handle.read, CHUNK):
                    self.writer.write(stuffer.feed(chunk))
                    await self.writer.drain()
            else:
                self.writer.write(stuffer.feed(_head(handle, top_lines)))
            self.writer.write(stuffer.end())

    def _update(self) -> int:
        mailbox = mailbox_of(self.server.mail_root, self.account)
        for number in self.deleted:
            mailbox.remove(self.messages[number - 1])
        return len(self.deleted)


def _head(handle: BinaryIO, lines: int) -> bytes:
    """The header, the blank line and ``lines`` body lines (TOP), read line by line."""
    out = []
    in_body = False
    body_lines = 0
    for raw in handle:
        if in_body:
            if body_lines >= lines:
                break
            body_lines += 1
        elif raw in (b"\r\n", b"\n"):
            in_body = True
        out.append(raw)
    return b"".join(out)
