"""Bounces (RFC 3464 reports): their structure, and hostile values kept in their place."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerwork.agents.mail.bounce import failures_of, queue_bounce, status_of
from peerwork.agents.mail.queue_state import (
    Deferred,
    EntryState,
    Failed,
    QueueEntry,
    Timing,
    step,
)
from peerwork.agents.mail.spool import Spool
from peerwork.proto.dsn import MAX_ORIGINAL_HEADERS, RecipientFailure, build_dsn, header_block

T0 = 1_800_000_000.0
ORIGINAL = b"From: alice@office.lan\r\nTo: carol@example.com\r\nSubject: hi\r\n\r\nbody\r\n"


def dsn(failures: list[RecipientFailure], headers: bytes = ORIGINAL) -> EmailMessage:
    raw = build_dsn(
        reporting_mta="pc1.office.lan",
        postmaster="MAILER-DAEMON@office.lan",
        to="alice@office.lan",
        arrival=T0,
        now=T0 + 60,
        failures=failures,
        original_headers=headers,
    )
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF lines only
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_report_structure() -> None:
    msg = dsn([RecipientFailure("carol@example.com", "5.1.1", "550 5.1.1 User unknown")])
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    assert str(msg["To"]) == "alice@office.lan" and msg["Auto-Submitted"] == "auto-replied"
    human, status, headers = msg.iter_parts()
    assert human.get_content_type() == "text/plain" and "carol@example.com" in human.get_content()
    text = status.as_string()
    assert "Reporting-MTA: dns; pc1.office.lan" in text
    assert "Final-Recipient: rfc822; carol@example.com" in text
    assert "Status: 5.1.1" in text and "Diagnostic-Code: smtp; 550 5.1.1 User unknown" in text
    assert headers.get_content_type() == "text/rfc822-headers"
    assert "Subject: hi" in headers.as_string() and "body" not in headers.as_string()


def test_bad_status_or_nothing_failed_is_refused() -> None:
    with pytest.raises(ValueError, match="RFC 3463"):
        dsn([RecipientFailure("x@y", "550")])
    with pytest.raises(ValueError, match="at least one"):
        dsn([])


@given(st.text(max_size=200), st.binary(max_size=3000))
def test_hostile_diagnostics_and_headers_cannot_inject(diagnostic: str, headers: bytes) -> None:
    msg = dsn([RecipientFailure("carol@example.com\r\nBcc: evil@x", "4.4.7", diagnostic)], headers)
    parts = list(msg.iter_parts())
    assert len(parts) == 3 and msg["Bcc"] is None
    assert parts[1].as_string().count("Final-Recipient:") == 1


def test_header_block_keeps_whole_lines_within_the_limit() -> None:
    huge = b"".join(b"X-Pad: " + b"a" * 100 + b"\r\n" for _ in range(2000)) + b"\r\nbody"
    block = header_block(huge)
    assert len(block) <= MAX_ORIGINAL_HEADERS and block.endswith(b"\r\n")
    assert header_block(b"A: 1\nB: 2\n\nbody") == b"A: 1\r\nB: 2\r\n"


def test_status_codes_from_replies() -> None:
    assert status_of("550 5.1.1 <x>: unknown") == "5.1.1"
    assert status_of("452 too many") == "4.0.0"
    assert status_of("smarthost down") == "5.0.0"


def test_failed_and_expired_recipients_both_reported() -> None:
    timing = Timing(first_retry=1, max_retry=1, expire_after=10)
    e = QueueEntry("1.a", "alice@office.lan", ("x@example.com", "bob"), created=T0)
    e = step(e, Failed("x@example.com", "550 5.1.1 no"), T0, timing)
    assert e.pending == ("bob",) and e.state is EntryState.QUEUED
    assert QueueEntry.from_json(e.to_json()) == e
    e = step(e, Failed("x@example.com", "again"), T0, timing)  # not pending any more
    assert e.failures == ("550 5.1.1 no",)
    e = step(e, Deferred("home PC off"), T0 + 11, timing)
    assert e.state is EntryState.EXPIRED
    found = failures_of(e, lambda r: r if "@" in r else f"{r}@office.lan")
    assert [(f.recipient, f.status) for f in found] == [
        ("x@example.com", "5.1.1"),
        ("bob@office.lan", "4.4.7"),
    ]


@pytest.mark.parametrize(
    ("sender", "to"),
    [
        ("alice@office.lan", ("alice",)),  # her own mailbox, wherever its home is
        ("x@example.com", ("x@example.com",)),  # out by the smarthost
        ("ghost@office.lan", None),  # ours, but no such account: never out by the smarthost
        ("", None),  # a bounce is never bounced
    ],
)
def test_bounce_goes_to_the_sender(tmp_path: Path, sender: str, to: tuple[str, ...] | None) -> None:
    spool = Spool(tmp_path / "queue")
    spool.prepare()
    incoming = spool.receive("1800000000.00000000000000aa")
    incoming.write(ORIGINAL)
    incoming.finish()
    entry = QueueEntry(incoming.id, sender, ("carol@example.com",), created=T0)
    spool.commit(incoming, entry)
    entry = step(entry, Failed("carol@example.com", "550 5.1.1 unknown"), T0)
    queued = queue_bounce(
        spool, entry, reporting_mta="pc1.office.lan", domain="office.lan",
        resolve=lambda a: "alice" if a == "alice@office.lan" else None, now=T0 + 5,
    )  # fmt: skip
    if to is None:
        assert queued is None and len(spool.entries()) == 1
        return
    assert queued is not None and queued.recipients == to and queued.sender == ""
    raw = spool.data_path(queued.id).read_bytes()
    assert b"Final-Recipient: rfc822; carol@example.com" in raw
