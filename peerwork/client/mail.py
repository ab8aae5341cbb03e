"""The CLI as a mail client: submit over SMTP, list and download over IMAP, as the account.

Both go to the account's home PC (where ``/v1/mail/home/{account}`` says),
inside STARTTLS with that PC's certificate pinned, and log on with the
account's own password: the same path and checks as Thunderbird. Bytes are
streamed both ways: a message is sent from its :class:`Composition` chunk by
chunk and downloaded in partial FETCHes into a file, never held whole.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import smtplib
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import default
from typing import Any, BinaryIO

from peerwork.client.pinning import check_peer_key, peer_key_context
from peerwork.errors import ConnectFailed, InvalidInput, LogonFailed, PeerworkError
from peerwork.proto.dotstuff import DotStuffer

TIMEOUT = 60.0
DOWNLOAD_CHUNK = 4 * 1024 * 1024
Progress = Callable[[int, int], None]  # bytes done, bytes in all


def no_progress(done: int, total: int) -> None:
    """The default :data:`Progress`: show nothing."""


@dataclass(frozen=True, slots=True)
class MailHome:
    """Where an account's mailbox is: the home PC's host, ports and peer id (``pc`` names it)."""

    account: str
    address: str
    domain: str
    host: str
    smtp_port: int
    imap_port: int
    peer_id: str
    pc: str = ""
    local: bool = True

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MailHome:
        return cls(
            account=str(data["account"]),
            address=str(data["address"]),
            domain=str(data["domain"]),
            host=str(data["host"]),
            smtp_port=int(data["ports"]["smtp"]),
            imap_port=int(data["ports"]["imap"]),
            peer_id=str(data["peer_id"]),
            pc=str(data.get("pc", "")),
            local=bool(data.get("local", True)),
        )

    def tls(self) -> ssl.SSLContext:
        """A client context for the home PC's self-signed certificate: it checks no
        chain (there is none); :meth:`check` pins the key after the handshake."""
        return peer_key_context()

    def check(self, sock: Any) -> None:
        """Refuse a server whose certificate key is not the home PC's peer key (the
        handshake proved the server holds the key its certificate carries)."""
        if not isinstance(sock, ssl.SSLSocket):
            raise ConnectFailed(f"{self.host} did not start TLS: refusing to log on")
        check_peer_key(sock, self.peer_id, self.pc or self.host)


class SendRefused(PeerworkError):
    code = "mail-refused"


def submit(
    home: MailHome,
    password: str,
    sender: str,
    recipients: Iterable[str],
    chunks: Iterable[bytes],
    size: int,
    progress: Progress = no_progress,
) -> list[str]:
    """Send one message; returns the recipients refused (the rest have it).

    The server's 250 after the data means it is stored (fsynced) there."""
    try:
        smtp = smtplib.SMTP(home.host, home.smtp_port, timeout=TIMEOUT)
    except OSError as exc:
        raise ConnectFailed(f"cannot reach the post office at {home.host}: {exc}") from None
    try:
        smtp.ehlo()
        smtp.starttls(context=home.tls())
        home.check(smtp.sock)
        smtp.ehlo()
        try:
            smtp.login(home.account, password)
        except smtplib.SMTPAuthenticationError:
            raise LogonFailed(f"wrong password for {home.account}") from None
        options = [f"SIZE={size}"] if smtp.has_extn("size") else []
        code, reply = smtp.mail(sender, options)
        if code != 250:
            raise SendRefused(f"the post office refused the sender: {_text(reply)}")
        refused = []
        wanted = list(recipients)
        for rcpt in wanted:
            code, reply = smtp.rcpt(rcpt)
            if code not in (250, 251):
                refused.append(f"{rcpt}: {_text(reply)}")
        if len(refused) == len(wanted):
            smtp.rset()
            raise SendRefused("no recipient accepted: " + "; ".join(refused))
        code, reply = smtp.docmd("DATA")
        if code != 354:
            raise SendRefused(f"the post office refused the data: {_text(reply)}")
        stuffer = DotStuffer()
        assert smtp.sock is not None
        done = 0
        for chunk in chunks:
            smtp.sock.sendall(stuffer.feed(chunk))
            done += len(chunk)
            progress(done, size)
        smtp.sock.sendall(stuffer.end())
        code, reply = smtp.getreply()
        if code != 250:
            raise SendRefused(f"the message was not accepted: {_text(reply)}")
        return refused
    except (smtplib.SMTPException, OSError) as exc:
        raise ConnectFailed(f"mail to {home.host} failed: {exc}") from None
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def _text(reply: bytes) -> str:
    return reply.decode("utf-8", "replace").replace("\n", " ")


@dataclass(frozen=True, slots=True)
class Summary:
    """One message of the inbox as ``mail inbox`` shows it; ``id`` is its IMAP UID."""

    id: int
    size: int
    sender: str
    to: str
    subject: str
    date: str
    seen: bool
    flagged: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "size": self.size,
            "from": self.sender,
            "to": self.to,
            "subject": self.subject,
            "date": self.date,
            "seen": self.seen,
            "flagged": self.flagged,
        }


_FIELDS = "BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE)]"
_META = re.compile(rb"UID (\d+)|RFC822\.SIZE (\d+)|FLAGS \(([^)]*)\)")


class Mailbox:
    """An IMAP session as the account, at its home PC (a context manager)."""

    def __init__(self, home: MailHome, password: str) -> None:
        try:
            self.imap = imaplib.IMAP4(home.host, home.imap_port, timeout=TIMEOUT)
            self.imap.starttls(home.tls())
        except (OSError, imaplib.IMAP4.error) as exc:
            raise ConnectFailed(f"cannot reach the mailbox at {home.host}: {exc}") from None
        try:
            home.check(self.imap.sock)
        except ConnectFailed:
            self.imap.shutdown()
            raise
        try:
            self.imap.login(home.account, password)
        except imaplib.IMAP4.error:
            self.imap.logout()
            raise LogonFailed(f"wrong password for {home.account}") from None

    def __enter__(self) -> Mailbox:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            self.imap.logout()

    def _check(self, answer: tuple[str, Any], what: str) -> Any:
        typ, data = answer
        if typ != "OK":
            raise InvalidInput(f"{what}: {_decode(data)}")
        return data

    def inbox(self) -> list[Summary]:
        data = self._check(self.imap.select("INBOX", readonly=True), "INBOX")
        if data == [b"0"]:
            return []
        data = self._check(
            self.imap.uid("FETCH", "1:*", f"(UID FLAGS RFC822.SIZE {_FIELDS})"), "FETCH"
        )
        found = []
        for item in data:
            if not isinstance(item, tuple):
                continue
            meta, header = item
            uid = size = 0
            flags = ""
            for match in _META.finditer(meta):
                if match.group(1):
                    uid = int(match.group(1))
                elif match.group(2):
                    size = int(match.group(2))
                else:
                    flags = match.group(3).decode("ascii", "replace")
            fields = BytesHeaderParser(policy=default).parsebytes(header)
            found.append(
                Summary(
                    id=uid,
                    size=size,
                    sender=str(fields.get("From", "")),
                    to=str(fields.get("To", "")),
                    subject=str(fields.get("Subject", "")),
                    date=str(fields.get("Date", "")),
                    seen="\\Seen" in flags,
                    flagged="\\Flagged" in flags,
                )
            )
        return found

    def download(self, uid: int, out: BinaryIO, progress: Progress = no_progress) -> int:
        """Message ``uid`` of INBOX into ``out`` in partial fetches; marks it seen. Its size."""
        self._check(self.imap.select("INBOX"), "INBOX")
        data = self._check(self.imap.uid("FETCH", str(uid), "(RFC822.SIZE)"), "FETCH")
        sizes = [
            m for d in data if isinstance(d, bytes) for m in re.findall(rb"RFC822\.SIZE (\d+)", d)
        ]
        if not sizes:
            raise InvalidInput(f"no message {uid} in the inbox (see mail inbox)")
        size = int(sizes[0])
        offset = 0
        while offset < size:
            part = f"(BODY.PEEK[]<{offset}.{DOWNLOAD_CHUNK}>)"
            data = self._check(self.imap.uid("FETCH", str(uid), part), "FETCH")
            chunk = next((d[1] for d in data if isinstance(d, tuple)), b"")
            if not chunk:
                raise InvalidInput(f"message {uid} changed while it was read")
            out.write(chunk)
            offset += len(chunk)
            progress(offset, size)
        self._check(self.imap.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Seen)"), "STORE")
        return size


def _decode(data: Any) -> str:
    if isinstance(data, list) and data and isinstance(data[0], bytes):
        return data[0].decode("utf-8", "replace")
    return str(data)
