"""The IMAP4rev1 pickup server (RFC 3501; IDLE, UIDPLUS, MOVE, UNSELECT, LITERAL+, SASL-IR).

One :class:`ImapSession` per connection, on the same Maildirs as POP3 (see
:mod:`.imap_store`). Logons (LOGIN, AUTHENTICATE PLAIN) are accepted only
inside TLS (STARTTLS with the peer certificate; LOGINDISABLED before it),
checked and throttled by the shared :class:`~peerwork.password_logon.PasswordLogon`. A command's
literals are judged by their announced size before a byte is read: a name or
password literal may be 64 KB, an APPENDed message up to ``max_size``, and
the message goes straight to a file. Connections are capped, silent clients
dropped after the idle timeout.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import re
import ssl
from pathlib import Path

from peerwork.errors import PeerworkError, describe_os_error
from peerwork.password_logon import PasswordLogon
from peerwork.proto.imap import (
    Append,
    Authenticate,
    Command,
    Condition,
    CopyArgs,
    Fetch,
    ListArgs,
    Login,
    Mailbox,
    Rename,
    Search,
    SetOnly,
    Status,
    Store,
    Verb,
    continuation,
    parse_command,
    tagged,
)
from peerwork.proto.imap_syntax import (
    MAX_LINE,
    ImapSyntaxError,
    Spooled,
    quoted,
)

from .imap_input import Closing, CommandInput, tag_of
from .imap_selected import Selected, uid_set
from .imap_store import DELIMITER, SPECIAL, Mailboxes
from .maildir import mailbox_of
from .pickup_server import PickupServer

log = logging.getLogger("peerwork.mail.imap")
MAX_BAD_COMMANDS = 20
MAX_FAILED_LOGONS = 5
IDLE_POLL = 1.0  # seconds between looks at the folder while a client IDLEs
IDLE_LIMIT = 1800.0  # RFC 2177: clients re-issue IDLE within 29 minutes
BASE_CAPS = "IMAP4rev1 LITERAL+ SASL-IR IDLE UIDPLUS MOVE UNSELECT SPECIAL-USE"


class ImapServer(PickupServer):
    line_limit = MAX_LINE + 2
    busy_reply = b"* BYE [UNAVAILABLE] too many connections; try again later\r\n"
    protocol = "IMAP"

    def __init__(
        self,
        logon: PasswordLogon,
        mail_root: Path,
        *,
        max_connections: int,
        idle_timeout: float,
        max_size: int,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(
            logon, mail_root, max_connections=max_connections, idle_timeout=idle_timeout, tls=tls
        )
        self.max_size = max_size

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await ImapSession(self, reader, writer).run()
        except Closing:
            with contextlib.suppress(ConnectionError):
                await writer.drain()


class ImapSession:
    def __init__(
        self, server: ImapServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.address = str(peer[0]) if isinstance(peer, tuple) else "local"
        self.account: str | None = None
        self.boxes: Mailboxes | None = None
        self.selected: Selected | None = None
        self.failed_logons = 0
        self.input = CommandInput(reader, writer, server.idle_timeout, server.max_size)

    # -- the connection loop ------------------------------------------------------
    async def run(self) -> None:
        self.writer.write(
            f"* OK [CAPABILITY {self.capabilities()}] peerwork IMAP ready\r\n".encode()
        )
        bad = 0
        while True:
            await self.writer.drain()
            try:
                segments = await self.input.command()
                if segments is None:
                    continue
                try:
                    command = parse_command(segments)
                except ImapSyntaxError as exc:
                    bad += 1
                    self.writer.write(f"{tag_of(segments)} BAD {exc}\r\n".encode())
                    if bad >= MAX_BAD_COMMANDS:
                        self.writer.write(b"* BYE too many bad commands\r\n")
                        raise Closing from None
                    continue
                if not await self._dispatch(command):
                    return
            finally:
                self.input.drop_spooled()

    # -- dispatch -----------------------------------------------------------------
    def capabilities(self) -> str:
        caps = BASE_CAPS
        if self.account is None:
            if self._can_starttls():
                caps += " STARTTLS"
            caps += " AUTH=PLAIN" if self._tls_on() else " LOGINDISABLED"
        return caps

    def _tls_on(self) -> bool:
        return self.writer.get_extra_info("ssl_object") is not None

    def _can_starttls(self) -> bool:
        return self.server.tls is not None and not self._tls_on()

    def ok(self, tag: str, text: str, code: str | None = None) -> None:
        self.writer.write(tagged(tag, Condition.OK, text, code))

    def no(self, tag: str, text: str, code: str | None = None) -> None:
        self.writer.write(tagged(tag, Condition.NO, text, code))

    def bad(self, tag: str, text: str) -> None:
        self.writer.write(tagged(tag, Condition.BAD, text))

    async def _dispatch(self, command: Command) -> bool:
        """Answer one command; False ends the session."""
        tag, verb = command.tag, command.verb
        if verb is Verb.LOGOUT:
            self.writer.write(b"* BYE logging out\r\n")
            self.ok(tag, "LOGOUT completed")
            await self.writer.drain()
            return False
        if verb is Verb.CAPABILITY:
            self.writer.write(f"* CAPABILITY {self.capabilities()}\r\n".encode())
            self.ok(tag, "CAPABILITY completed")
        elif verb is Verb.NOOP:
            await self._sync()
            self.ok(tag, "NOOP completed")
        elif self.account is None:
            await self._unauthenticated(command)
        else:
            try:
                await self._authenticated(command)
            except PeerworkError as exc:
                self.no(tag, exc.message)
            except ConnectionError:
                raise
            except OSError as exc:
                # A full disk while APPENDing or copying: nothing was half-stored.
                self.no(tag, describe_os_error(exc), "SERVERBUG")
        return True

    async def _unauthenticated(self, command: Command) -> None:
        tag, args = command.tag, command.args
        if command.verb is Verb.STARTTLS:
            await self._starttls(tag)
        elif isinstance(args, Login):
            await self._logon(tag, args.user, args.password)
        elif isinstance(args, Authenticate):
            await self._authenticate(tag, args)
        else:
            self.bad(tag, "log on first")

    async def _starttls(self, tag: str) -> None:
        if not self._can_starttls():
            self.bad(tag, "STARTTLS not available now")
            return
        assert self.server.tls is not None
        # Plaintext sent after STARTTLS would be taken as said inside TLS (CVE-2011-0411);
        # StreamReader has no public way to see what it buffered.
        if getattr(self.reader, "_buffer", b""):
            self.writer.write(b"* BYE nothing may follow STARTTLS before the handshake\r\n")
            raise Closing
        self.ok(tag, "begin TLS negotiation now")
        await self.writer.drain()
        await asyncio.wait_for(self.writer.start_tls(self.server.tls), self.server.idle_timeout)

    async def _authenticate(self, tag: str, args: Authenticate) -> None:
        if args.mechanism != "PLAIN":
            self.no(tag, "only AUTHENTICATE PLAIN is supported")
            return
        if not self._tls_on():
            self.no(tag, "STARTTLS first: no passwords in the clear", "PRIVACYREQUIRED")
            return
        answer = args.initial
        if answer is None:
            self.writer.write(b"+ \r\n")
            await self.writer.drain()
            answer = (await self.input.line()).decode("ascii", "replace").strip()
        if answer == "*":
            self.bad(tag, "AUTHENTICATE cancelled")
            return
        try:
            decoded = base64.b64decode(answer, validate=True).decode("utf-8")
            _authz, user, password = decoded.split("\x00")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            self.bad(tag, "malformed PLAIN response")
            return
        await self._logon(tag, user, password)

    async def _logon(self, tag: str, user: str, password: str) -> None:
        if not self._tls_on():
            self.no(tag, "STARTTLS first: no passwords in the clear", "PRIVACYREQUIRED")
            return
        result = self.server.logon.check(user, password, self.address, "imap")
        if result.account is None:
            await asyncio.sleep(result.delay)
            self.failed_logons += 1
            self.no(tag, "wrong user name or password", "AUTHENTICATIONFAILED")
            if self.failed_logons >= MAX_FAILED_LOGONS:
                self.writer.write(b"* BYE too many failed logons\r\n")
                raise Closing
            return
        boxes = Mailboxes(mailbox_of(self.server.mail_root, result.account).root)
        await asyncio.to_thread(boxes.ensure)
        self.account, self.boxes = result.account, boxes
        self.input.spool_dir = boxes.root / "tmp"
        self.ok(tag, "logged on", f"CAPABILITY {self.capabilities()}")

    async def _sync(self, *, cheap: bool = False) -> None:
        if self.selected is not None:
            for line in await self.selected.sync(cheap=cheap):
                self.writer.write(line)

    async def _authenticated(self, command: Command) -> None:
        tag, args, verb = command.tag, command.args, command.verb
        boxes = self.boxes
        assert boxes is not None
        if verb in (Verb.SELECT, Verb.EXAMINE) and isinstance(args, Mailbox):
            await self._select(tag, args.name, verb is Verb.EXAMINE)
        elif verb is Verb.CREATE and isinstance(args, Mailbox):
            name = args.name.rstrip(DELIMITER)
            await asyncio.to_thread(boxes.create, name)
            self.ok(tag, "CREATE completed")
        elif verb is Verb.DELETE and isinstance(args, Mailbox):
            if self.selected is not None and self.selected.name == args.name:
                self.selected = None
            await asyncio.to_thread(boxes.delete, args.name)
            self.ok(tag, "DELETE completed")
        elif isinstance(args, Rename):
            await asyncio.to_thread(boxes.rename, args.old, args.new)
            self.ok(tag, "RENAME completed")
        elif verb in (Verb.SUBSCRIBE, Verb.UNSUBSCRIBE) and isinstance(args, Mailbox):
            await asyncio.to_thread(boxes.subscribe, args.name, verb is Verb.SUBSCRIBE)
            self.ok(tag, f"{verb.value} completed")
        elif isinstance(args, ListArgs):
            await self._list(tag, verb, args)
        elif isinstance(args, Status):
            await self._status(tag, args)
        elif isinstance(args, Append):
            await self._append(tag, args)
        elif verb is Verb.IDLE:
            await self._idle(tag)
        elif self.selected is None:
            self.bad(tag, f"{verb.value} needs a selected folder")
        else:
            await self._in_folder(command, self.selected)

    async def _select(self, tag: str, name: str, read_only: bool) -> None:
        assert self.boxes is not None
        self.selected = None
        folder = await asyncio.to_thread(self.boxes.folder, name)
        selected = Selected(name, folder, read_only)
        for line in await selected.open():
            self.writer.write(line)
        self.selected = selected
        access = "READ-ONLY" if read_only else "READ-WRITE"
        self.ok(tag, f"{'EXAMINE' if read_only else 'SELECT'} completed", access)

    async def _list(self, tag: str, verb: Verb, args: ListArgs) -> None:
        assert self.boxes is not None
        if not args.pattern:
            self.writer.write(f'* {verb.value} (\\Noselect) "{DELIMITER}" ""\r\n'.encode())
            self.ok(tag, f"{verb.value} completed")
            return
        names = await asyncio.to_thread(self.boxes.names)
        if verb is Verb.LSUB:
            subscribed = set(await asyncio.to_thread(self.boxes.subscribed))
            names = [n for n in names if n in subscribed]
        pattern = _pattern(args.reference + args.pattern)
        for name in names:
            if not pattern.fullmatch(name):
                continue
            children = any(n.startswith(name + DELIMITER) for n in names)
            attributes = ["\\HasChildren" if children else "\\HasNoChildren"]
            if name in SPECIAL:
                attributes.append(SPECIAL[name])
            line = f'* {verb.value} ({" ".join(attributes)}) "{DELIMITER}" '.encode()
            self.writer.write(line + quoted(name.encode()) + b"\r\n")
        self.ok(tag, f"{verb.value} completed")

    async def _status(self, tag: str, args: Status) -> None:
        assert self.boxes is not None
        folder = await asyncio.to_thread(self.boxes.folder, args.mailbox)
        entries, validity, next_uid = await asyncio.to_thread(folder.status)
        values = {
            "MESSAGES": len(entries),
            "RECENT": sum(1 for e in entries if e.fresh),
            "UIDNEXT": next_uid,
            "UIDVALIDITY": validity,
            "UNSEEN": sum(1 for e in entries if "\\Seen" not in e.flags),
        }
        body = " ".join(f"{item} {values[item]}" for item in args.items)
        self.writer.write(b"* STATUS " + quoted(args.mailbox.encode()) + f" ({body})\r\n".encode())
        self.ok(tag, "STATUS completed")

    async def _append(self, tag: str, args: Append) -> None:
        assert self.boxes is not None
        try:
            folder = await asyncio.to_thread(self.boxes.folder, args.mailbox)
        except PeerworkError:
            self.no(tag, f"no folder {args.mailbox!r}", "TRYCREATE")
            return
        source = Path(args.message.ref) if isinstance(args.message, Spooled) else args.message
        when = args.date.timestamp() if args.date is not None else None
        uid = await asyncio.to_thread(folder.add, source, args.flags, when)
        if self.selected is not None and self.selected.folder.root == folder.root:
            await self._sync()
        self.ok(tag, "APPEND completed", f"APPENDUID {folder.uidvalidity} {uid}")

    async def _idle(self, tag: str) -> None:
        self.writer.write(continuation("idling"))
        await self.writer.drain()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(self.server.idle_timeout, IDLE_LIMIT)
        done = asyncio.ensure_future(self.reader.readuntil(b"\n"))
        try:
            while True:
                finished, _ = await asyncio.wait({done}, timeout=IDLE_POLL)
                if finished:
                    try:
                        line = done.result()
                    except asyncio.LimitOverrunError:
                        self.writer.write(b"* BYE command line too long\r\n")
                        raise Closing from None
                    break
                if loop.time() > deadline:
                    self.writer.write(b"* BYE idle for too long\r\n")
                    raise Closing
                await self._sync(cheap=True)
                await self.writer.drain()
        finally:
            if not done.done():
                done.cancel()
        if line.strip().upper() != b"DONE":
            self.bad(tag, "expected DONE")
            return
        await self._sync()
        self.ok(tag, "IDLE terminated")

    async def _in_folder(self, command: Command, selected: Selected) -> None:
        tag, args, verb, uid = command.tag, command.args, command.verb, command.uid
        writes = not selected.read_only
        if verb is Verb.CHECK:
            await self._sync()
            self.ok(tag, "CHECK completed")
        elif verb in (Verb.CLOSE, Verb.UNSELECT):
            if verb is Verb.CLOSE and writes:
                await selected.expunge()  # CLOSE expunges silently
            self.selected = None
            self.ok(tag, f"{verb.value} completed")
        elif isinstance(args, Fetch):
            await selected.fetch(args, uid, self.writer)
            self.ok(tag, f"{'UID ' if uid else ''}FETCH completed")
        elif isinstance(args, Search):
            if args.charset not in (None, "US-ASCII", "UTF-8"):
                self.no(tag, "unsupported charset", "BADCHARSET (US-ASCII UTF-8)")
                return
            self.writer.write(await selected.search(args.key, uid))
            self.ok(tag, "SEARCH completed")
        elif not writes and verb in (Verb.STORE, Verb.EXPUNGE, Verb.MOVE):
            self.no(tag, "the folder is open read-only (EXAMINE)")
        elif isinstance(args, Store):
            for line in await selected.store(args, uid):
                self.writer.write(line)
            self.ok(tag, "STORE completed")
        elif verb is Verb.EXPUNGE:
            only = args if isinstance(args, SetOnly) else None
            for line in await selected.expunge(only):
                self.writer.write(line)
            self.ok(tag, "EXPUNGE completed")
        elif isinstance(args, CopyArgs):
            await self._copy(tag, verb, uid, args, selected)
        else:
            self.bad(tag, f"{verb.value} is not served here")

    async def _copy(
        self, tag: str, verb: Verb, uid: bool, args: CopyArgs, selected: Selected
    ) -> None:
        assert self.boxes is not None
        try:
            target = await asyncio.to_thread(self.boxes.folder, args.mailbox)
        except PeerworkError:
            self.no(tag, f"no folder {args.mailbox!r}", "TRYCREATE")
            return
        chosen = selected.targets(args.set, uid)
        code = await selected.copy(args, uid, target)
        if verb is Verb.COPY:
            self.ok(tag, "COPY completed", code)
            return
        # RFC 6851: COPYUID in an untagged OK before the EXPUNGEs.
        if code is not None:
            self.writer.write(f"* OK [{code}] moved\r\n".encode())
        for line in await selected.remove(chosen):
            self.writer.write(line)
        if target.root == selected.folder.root:
            await self._sync()
        self.ok(tag, "MOVE completed")


def _pattern(pattern: str) -> re.Pattern[str]:
    """LIST wildcards: ``*`` matches anything, ``%`` anything but the delimiter."""
    pieces = []
    for char in pattern:
        if char == "*":
            pieces.append(".*")
        elif char == "%":
            pieces.append(f"[^{re.escape(DELIMITER)}]*")
        else:
            pieces.append(re.escape(char))
    regex = "".join(pieces)
    # INBOX is case-insensitive (RFC 3501 5.1).
    return re.compile(regex if not pattern.upper().startswith("INBOX") else "(?i:" + regex + ")")


__all__ = ["ImapServer", "uid_set"]
