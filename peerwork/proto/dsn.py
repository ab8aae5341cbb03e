"""Delivery status notifications (RFC 3464): the bounce a sender gets back.

Sans-IO: :func:`build_dsn` makes the whole message as bytes (CRLF lines) from
plain values; the caller supplies the clock reading and the original header
block, and queues the result like any other message. The report is
``multipart/report; report-type=delivery-status`` with three parts: a
human-readable explanation, the ``message/delivery-status`` fields, and the
original message's headers (``text/rfc822-headers``: never its body, which
may be 100 MB).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, formatdate

MAX_ORIGINAL_HEADERS = 64 * 1024
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]+")
_STATUS = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")


@dataclass(frozen=True, slots=True)
class RecipientFailure:
    """One recipient the message did not reach: ``status`` an RFC 3463 code
    (``5.1.1``, ``4.4.7``), ``diagnostic`` what the remote server said, if any."""

    recipient: str
    status: str
    diagnostic: str = ""


def one_line(text: str, limit: int = 900) -> str:
    """``text`` fit for a header field: control characters (CR, LF, NUL…) become spaces."""
    return _UNSAFE.sub(" ", text).strip()[:limit]


def header_block(message_head: bytes) -> bytes:
    """The header block at the start of ``message_head`` (up to the first empty line),
    with CRLF line ends and at most MAX_ORIGINAL_HEADERS bytes of whole lines."""
    text = message_head.replace(b"\r\n", b"\n")
    end = text.find(b"\n\n")
    block = text[:end] if end >= 0 else text
    lines = block.split(b"\n")
    out = bytearray()
    for line in lines:
        if len(out) + len(line) + 2 > MAX_ORIGINAL_HEADERS:
            break
        out += line.replace(b"\r", b" ") + b"\r\n"
    return bytes(out)


def build_dsn(
    *,
    reporting_mta: str,
    postmaster: str,
    to: str,
    arrival: float,
    now: float,
    failures: Sequence[RecipientFailure],
    original_headers: bytes,
) -> bytes:
    """The bounce for ``failures``, addressed to ``to`` (the original sender), from
    ``postmaster`` (``MAILER-DAEMON@office.lan``). Raises ValueError for a status
    that is not an RFC 3463 code, or no failures at all."""
    if not failures:
        raise ValueError("a bounce needs at least one failed recipient")
    for failure in failures:
        if not _STATUS.match(failure.status):
            raise ValueError(f"{failure.status!r} is not an RFC 3463 status code")
    boundary = f"peerwork-dsn-{secrets.token_hex(12)}"
    mta = one_line(reporting_mta, 255)
    when = format_datetime(datetime.fromtimestamp(arrival, UTC))
    failed = [one_line(f.recipient, 320) for f in failures]
    temporary = all(f.status.startswith("4") for f in failures)
    why = "could not be delivered in time" if temporary else "could not be delivered"
    human = [
        f"This is the post office at {mta}.",
        "",
        f"Your message of {when} {why} to:",
        *(
            f"  {r}: {one_line(f.diagnostic) or 'refused'}"
            for r, f in zip(failed, failures, strict=True)
        ),
        "",
        "Its headers are attached below.",
    ]
    status_fields = [f"Reporting-MTA: dns; {mta}", f"Arrival-Date: {when}", ""]
    for recipient, failure in zip(failed, failures, strict=True):
        status_fields += [
            f"Final-Recipient: rfc822; {recipient}",
            "Action: failed",
            f"Status: {failure.status}",
        ]
        if failure.diagnostic:
            status_fields.append(f"Diagnostic-Code: smtp; {one_line(failure.diagnostic)}")
        status_fields.append("")
    head = [
        f"From: Mail Delivery System <{one_line(postmaster, 320)}>",
        f"To: <{one_line(to, 320)}>",
        "Subject: Undelivered Mail Returned to Sender",
        f"Date: {formatdate(now, localtime=False)}",
        f"Message-ID: <{secrets.token_hex(16)}@{mta}>",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        "This is a MIME-encapsulated delivery status notification.",
        f"--{boundary}",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Description: Notification",
        "",
        *human,
        f"--{boundary}",
        "Content-Type: message/delivery-status",
        "Content-Description: Delivery report",
        "",
        *status_fields,
        f"--{boundary}",
        "Content-Type: text/rfc822-headers",
        "Content-Description: Undelivered message headers",
        "",
    ]
    text = "\r\n".join(head).encode("utf-8") + b"\r\n"
    return text + header_block(original_headers) + f"\r\n--{boundary}--\r\n".encode()
