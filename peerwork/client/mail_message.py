"""A downloaded message read from its file: headers, the text to show, the attachments.

The structure comes from :func:`peerwork.proto.mime_scan.scan` (offsets, one
pass); attachments are decoded from their byte range chunk by chunk into
their own files, so a 200 MB attachment is never held in memory. Names come
from a stranger: only a plain file name is used, never a path, and an
existing file is never overwritten.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import default
from pathlib import Path
from typing import BinaryIO

from peerwork.proto.mime_scan import MimePart, scan

MAX_TEXT = 1024 * 1024  # of the text part shown
READ = 1 << 16
BLOCK = 1 << 20
_NOT_BASE64 = bytes(
    c
    for c in range(256)
    if chr(c) not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
)
HEADERS = ("From", "To", "Cc", "Date", "Subject")


@dataclass(frozen=True, slots=True)
class Attachment:
    number: int
    filename: str
    content_type: str
    encoded_size: int
    part: MimePart

    @property
    def size(self) -> int:
        """About the decoded size (base64 carries 57 bytes in a 78-byte line)."""
        if self.part.encoding.lower() == "base64":
            return self.encoded_size * 57 // 78
        return self.encoded_size


@dataclass(frozen=True, slots=True)
class Reading:
    headers: tuple[tuple[str, str], ...]
    text: str
    attachments: tuple[Attachment, ...]


def _pieces(handle: BinaryIO) -> Iterator[bytes]:
    while piece := handle.readline(READ):
        yield piece


def _leaves(part: MimePart) -> Iterator[MimePart]:
    if part.is_multipart:
        for child in part.children:
            yield from _leaves(child)
    else:
        yield part


def _filename(part: MimePart) -> str | None:
    params = dict(part.disposition[1]) if part.disposition else {}
    return params.get("filename") or dict(part.params).get("name")


def _is_attachment(part: MimePart) -> bool:
    if part.disposition is not None and part.disposition[0] == "attachment":
        return True
    return _filename(part) is not None or part.type not in ("text", "multipart")


def read_message(path: Path) -> Reading:
    with path.open("rb") as handle:
        root = scan(_pieces(handle))
    fields = BytesHeaderParser(policy=default).parsebytes(root.header)
    headers = tuple((name, str(fields[name])) for name in HEADERS if fields[name] is not None)
    leaves = list(_leaves(root))
    text_part = next(
        (p for p in leaves if (p.type, p.subtype) == ("text", "plain") and not _is_attachment(p)),
        None,
    )
    text = ""
    if text_part is not None:
        with path.open("rb") as handle:
            raw = b"".join(decode(handle, text_part, limit=MAX_TEXT))
        charset = dict(text_part.params).get("charset", "utf-8")
        try:
            text = raw.decode(charset, "replace")
        except LookupError:
            text = raw.decode("utf-8", "replace")
        text = text.replace("\r\n", "\n")
    attachments: list[Attachment] = []
    for part in leaves:
        if part is text_part or not _is_attachment(part):
            continue
        name = _filename(part) or f"part-{len(attachments) + 1}"
        attachments.append(
            Attachment(
                len(attachments) + 1,
                name,
                f"{part.type}/{part.subtype}",
                part.size,
                part,
            )
        )
    return Reading(headers, text, tuple(attachments))


def decode(handle: BinaryIO, part: MimePart, limit: int | None = None) -> Iterator[bytes]:
    """The decoded body of ``part`` (base64, quoted-printable or as is), chunk by chunk."""
    handle.seek(part.body_start)
    encoding = part.encoding.lower()
    chunks = _base64(handle, part.size) if encoding == "base64" else _lines(handle, part.size)
    produced = 0
    for raw in chunks:
        out = binascii.a2b_qp(raw) if encoding == "quoted-printable" else raw
        if limit is not None and produced + len(out) > limit:
            yield out[: limit - produced]
            return
        produced += len(out)
        yield out


def _lines(handle: BinaryIO, size: int) -> Iterator[bytes]:
    # Line by line: a quoted-printable escape or soft break never spans two reads.
    left = size
    while left > 0 and (raw := handle.readline(min(READ, left))):
        left -= len(raw)
        yield raw


def _base64(handle: BinaryIO, size: int) -> Iterator[bytes]:
    left = size
    carry = b""
    while left > 0 and (raw := handle.read(min(BLOCK, left))):
        left -= len(raw)
        data = carry + raw.translate(None, _NOT_BASE64)
        usable = len(data) - len(data) % 4
        carry = data[usable:]
        yield _b64(data[:usable])
    if carry:
        yield _b64(carry + b"=" * (-len(carry) % 4))


def _b64(data: bytes) -> bytes:
    try:
        return binascii.a2b_base64(data)
    except binascii.Error:
        return b""  # damaged base64: what can't be decoded is left out


def safe_name(name: str) -> str:
    """A plain file name from a sender's suggestion: no folders, no hidden or odd names."""
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(c for c in base if c.isprintable()).strip().lstrip(".")
    return base[:200] or "attachment"


def save_attachment(path: Path, attachment: Attachment, folder: Path) -> Path:
    """Decode ``attachment`` of the message file ``path`` into ``folder``; the file written."""
    folder.mkdir(parents=True, exist_ok=True)
    name = safe_name(attachment.filename)
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    target = folder / name
    for n in range(1, 1000):
        try:
            out = target.open("xb")
            break
        except FileExistsError:
            target = folder / (f"{stem} ({n}).{suffix}" if suffix else f"{stem} ({n})")
    else:
        raise FileExistsError(f"too many files named {name!r} in {folder}")
    with out, path.open("rb") as handle:
        for chunk in decode(handle, attachment.part):
            out.write(chunk)
    return target
