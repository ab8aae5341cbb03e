"""A MIME message written as a stream: headers, a text part, then each attachment
read from its file and base64-encoded chunk by chunk (a 200 MB attachment is
never held in memory). :meth:`Composition.size` is known before the first
byte, so a progress bar can show the whole.
"""

from __future__ import annotations

import base64
import email.policy
import mimetypes
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from peerwork.errors import InvalidInput

LINE = 57  # input bytes per base64 line of 76 characters (RFC 2045 6.8)
READ = LINE * 1024 * 4  # ~228 KB of the file per read


@dataclass(frozen=True, slots=True)
class Draft:
    sender: str
    to: tuple[str, ...]
    subject: str
    body: str
    cc: tuple[str, ...] = ()
    attachments: tuple[Path, ...] = ()

    @property
    def recipients(self) -> tuple[str, ...]:
        return (*self.to, *self.cc)


def recipient(name: str, domain: str) -> str:
    """``bob`` is ``bob@<domain>``; a full address stays as it is."""
    name = name.strip()
    if not name or any(c in name for c in "\r\n<>,"):
        raise InvalidInput(f"bad recipient {name!r}")
    return name if "@" in name else f"{name}@{domain}"


def _headers(draft: Draft, domain: str) -> EmailMessage:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = draft.sender
    msg["To"] = ", ".join(draft.to)
    if draft.cc:
        msg["Cc"] = ", ".join(draft.cc)
    msg["Subject"] = draft.subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=domain)
    msg["MIME-Version"] = "1.0"
    return msg


def _text_part(body: str) -> EmailMessage:
    part = EmailMessage(policy=email.policy.SMTP)
    part.set_content(body if body.endswith("\n") or not body else body + "\n")
    del part["MIME-Version"]
    return part


def _attachment_head(path: Path) -> bytes:
    guessed, _ = mimetypes.guess_type(path.name)
    maintype, _, subtype = (guessed or "application/octet-stream").partition("/")
    part = EmailMessage(policy=email.policy.SMTP)
    part["Content-Type"] = f"{maintype}/{subtype}"
    part.set_param("name", path.name)
    part["Content-Transfer-Encoding"] = "base64"
    part.add_header("Content-Disposition", "attachment", filename=path.name)
    return part.as_bytes()  # the header block and its blank line; the body is streamed


def base64_size(size: int) -> int:
    """Bytes of the base64 body of ``size`` input bytes, 76-character CRLF lines."""
    full, rest = divmod(size, LINE)
    lines = full + (1 if rest else 0)
    return 4 * ((size + 2) // 3) + 2 * lines


def base64_stream(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(READ):
            encoded = base64.b64encode(chunk)
            yield b"".join(encoded[i : i + 76] + b"\r\n" for i in range(0, len(encoded), 76))


class Composition:
    """The message of ``draft``: iterate for its bytes; ``size`` is their total."""

    def __init__(self, draft: Draft, domain: str) -> None:
        self.draft = draft
        head = _headers(draft, domain)
        text = _text_part(draft.body).as_bytes()
        if not draft.attachments:
            # A plain single-part message: the text part's headers join the message's.
            self._parts: Sequence[bytes | Path] = [_header_block(head, blank=False) + text]
        else:
            boundary = "=_peerwork_" + secrets.token_hex(12)
            head["Content-Type"] = "multipart/mixed"
            head.set_param("boundary", boundary)
            mark = b"--" + boundary.encode() + b"\r\n"
            parts: list[bytes | Path] = [_header_block(head, blank=True), mark + text]
            for path in draft.attachments:
                parts += [b"\r\n" + mark + _attachment_head(path), path]
            parts.append(b"\r\n--" + boundary.encode() + b"--\r\n")
            self._parts = parts
        self.size = sum(
            len(p) if isinstance(p, bytes) else base64_size(p.stat().st_size) for p in self._parts
        )

    def __iter__(self) -> Iterator[bytes]:
        for part in self._parts:
            if isinstance(part, bytes):
                yield part
            else:
                yield from base64_stream(part)


def _header_block(msg: EmailMessage, *, blank: bool) -> bytes:
    """The header fields of ``msg``, folded and encoded, then (``blank``) the empty line."""
    fields = b"".join(msg.policy.fold_binary(name, value) for name, value in msg.items())
    return fields + (b"\r\n" if blank else b"")
