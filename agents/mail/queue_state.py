"""A queued message's life as pure functions of ``(entry, event, now)``.

An entry waits (QUEUED) until its ``next_try``; each delivery attempt either
hands over recipients (``Delivered``), or is put off (``Deferred``) with a
growing delay; an entry whose every recipient is handed over is DONE, one
still undelivered after ``expire_after`` seconds is EXPIRED (a bounce is the
caller's business). ``now`` is the caller's wall clock: entries live on disk
across restarts, so a monotonic clock would not do.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

FIRST_RETRY = 30.0
MAX_RETRY = 3600.0
EXPIRE_AFTER = 5 * 24 * 3600.0


class EntryState(enum.Enum):
    QUEUED = "queued"
    DONE = "done"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One accepted message. ``recipients`` are account names; ``delivered`` the subset
    already handed over (a restart skips them)."""

    id: str
    sender: str
    recipients: tuple[str, ...]
    created: float
    delivered: tuple[str, ...] = ()
    state: EntryState = EntryState.QUEUED
    attempts: int = 0
    next_try: float = 0.0
    last_error: str = ""

    @property
    def pending(self) -> tuple[str, ...]:
        return tuple(r for r in self.recipients if r not in self.delivered)

    def due(self, now: float) -> bool:
        return self.state is EntryState.QUEUED and now >= self.next_try

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "sender": self.sender,
            "recipients": list(self.recipients),
            "created": self.created,
            "delivered": list(self.delivered),
            "state": self.state.value,
            "attempts": self.attempts,
            "next_try": self.next_try,
            "last_error": self.last_error,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> QueueEntry:
        """Raises ValueError (or TypeError/KeyError) on an envelope that is not one of ours."""
        recipients = data["recipients"]
        delivered = data.get("delivered", [])
        if not isinstance(recipients, list) or not isinstance(delivered, list):
            raise ValueError("recipients must be lists")
        return cls(
            id=str(data["id"]),
            sender=str(data["sender"]),
            recipients=tuple(str(r) for r in recipients),
            created=float(data["created"]),  # type: ignore[arg-type]
            delivered=tuple(str(r) for r in delivered),
            state=EntryState(data.get("state", "queued")),
            attempts=int(data.get("attempts", 0)),  # type: ignore[call-overload]
            next_try=float(data.get("next_try", 0.0)),  # type: ignore[arg-type]
            last_error=str(data.get("last_error", "")),
        )


@dataclass(frozen=True, slots=True)
class Delivered:
    recipient: str


@dataclass(frozen=True, slots=True)
class Deferred:
    reason: str


Event = Delivered | Deferred


def retry_delay(attempts: int) -> float:
    """Seconds before attempt ``attempts + 1``: doubling from FIRST_RETRY, at most MAX_RETRY."""
    return min(MAX_RETRY, FIRST_RETRY * 2.0 ** min(max(attempts - 1, 0), 32))


def step(entry: QueueEntry, event: Event, now: float) -> QueueEntry:
    """The entry after ``event``; events for a finished entry change nothing."""
    if entry.state is not EntryState.QUEUED:
        return entry
    if isinstance(event, Delivered):
        if event.recipient not in entry.recipients or event.recipient in entry.delivered:
            return entry
        after = replace(entry, delivered=(*entry.delivered, event.recipient))
        return replace(after, state=EntryState.DONE) if not after.pending else after
    attempts = entry.attempts + 1
    if now - entry.created >= EXPIRE_AFTER:
        return replace(entry, state=EntryState.EXPIRED, attempts=attempts, last_error=event.reason)
    return replace(
        entry, attempts=attempts, next_try=now + retry_delay(attempts), last_error=event.reason
    )
