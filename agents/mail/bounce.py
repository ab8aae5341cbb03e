"""Bounces: a DSN for the recipients a queued message did not reach, queued in turn.

The bounce goes to the message's sender like any mail: into the sender's own
mailbox (wherever its home PC is) when the sender is one of ours, out through
the smarthost otherwise. A bounce has the null sender ``<>``, so a bounce
that cannot be delivered is never bounced again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

from peerwork.proto.dsn import RecipientFailure, build_dsn

from .queue_state import EntryState, QueueEntry
from .spool import Spool, new_id

log = logging.getLogger("peerwork.mail.queue")
HEAD_BYTES = 64 * 1024
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
EXPIRED_STATUS = "4.4.7"  # RFC 3463: delivery time expired


def status_of(reply: str) -> str:
    """The RFC 3463 code in a server's reply (``550 5.1.1 …``), else one from its class."""
    found = _STATUS.search(reply)
    if found:
        return found.group(1)
    return "4.0.0" if reply.startswith("4") else "5.0.0"


def failures_of(entry: QueueEntry, address: Callable[[str], str]) -> list[RecipientFailure]:
    """Who the entry did not reach and why: refused ones, then (if it expired) the rest."""
    out = [
        RecipientFailure(address(r), status_of(reason), reason)
        for r, reason in zip(entry.failed, entry.failures, strict=True)
    ]
    if entry.state is EntryState.EXPIRED:
        out += [
            RecipientFailure(address(r), EXPIRED_STATUS, entry.last_error) for r in entry.pending
        ]
    return out


def queue_bounce(
    spool: Spool,
    entry: QueueEntry,
    *,
    reporting_mta: str,
    domain: str,
    resolve: Callable[[str], str | None],
    now: float,
) -> QueueEntry | None:
    """Queue the DSN for ``entry`` (blocking: run in a thread); None when there is no one
    to tell (a bounce of a bounce, or nobody failed). ``resolve``: the local account an
    address delivers to, or None for an address of another domain."""
    if not entry.sender:
        return None
    failures = failures_of(entry, lambda r: r if "@" in r else f"{r}@{domain}")
    if not failures:
        return None
    bounce = build_dsn(
        reporting_mta=reporting_mta,
        postmaster=f"MAILER-DAEMON@{domain}",
        to=entry.sender,
        arrival=entry.created,
        now=now,
        failures=failures,
        original_headers=_head(spool.data_path(entry.id)),
    )
    to = resolve(entry.sender)
    if to is None and entry.sender.rsplit("@", 1)[-1].lower() == domain:
        # A sender of our domain with no account: nobody here to tell, and a bounce for
        # our own domain must never leave by the smarthost.
        log.warning("mail %s: not bouncing to %s, no such account", entry.id, entry.sender)
        return None
    to = to or entry.sender
    incoming = spool.receive(new_id(now))
    try:
        incoming.write(bounce)
        incoming.finish()
        queued = QueueEntry(incoming.id, "", (to,), created=now)
        spool.commit(incoming, queued)
    except BaseException:
        incoming.abort()
        raise
    log.info("mail %s: bounce %s queued for %s", entry.id, queued.id, to)
    return queued


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(HEAD_BYTES)
    except OSError:
        return b""
