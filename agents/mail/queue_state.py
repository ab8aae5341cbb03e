"""A queued message's life as pure functions of ``(entry, event, now)``.

An entry waits (QUEUED) until its ``next_try``; each delivery attempt either
hands over recipients (``Delivered``), refuses one for good (``Failed``: the
smarthost said 5xx), or is put off (``Deferred``) with a growing delay; an
entry with no recipient left pending is DONE, one still undelivered after
``expire_after`` seconds is EXPIRED (the bounce for ``failed`` and expired
recipients is the caller's business). ``now`` is the caller's wall clock: entries live on disk
across restarts, so a monotonic clock would not do.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

FIRST_RETRY = 30.0
MAX_RETRY = 3600.0
EXPIRE_AFTER = 5 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Timing:
    """Seconds: the first retry's delay (doubling up to ``max_retry``), and how long an
    entry may wait before it expires."""

    first_retry: float = FIRST_RETRY
    max_retry: float = MAX_RETRY
    expire_after: float = EXPIRE_AFTER


DEFAULT_TIMING = Timing()


class EntryState(enum.Enum):
    QUEUED = "queued"
    DONE = "done"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One accepted message. ``recipients`` are account names, or whole addresses
    (with ``@``) for mail that leaves through the smarthost; ``delivered`` the subset
    already handed over (a restart skips them), ``failed`` those refused for good
    (each with its reason in ``failures``, for the bounce)."""

    id: str
    sender: str
    recipients: tuple[str, ...]
    created: float
    delivered: tuple[str, ...] = ()
    state: EntryState = EntryState.QUEUED
    attempts: int = 0
    next_try: float = 0.0
    last_error: str = ""
    failed: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()  # the reason for each of ``failed``, in order

    @property
    def pending(self) -> tuple[str, ...]:
        return tuple(r for r in self.recipients if r not in self.delivered + self.failed)

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
            "failed": list(self.failed),
            "failures": list(self.failures),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> QueueEntry:
        """Raises ValueError (or TypeError/KeyError) on an envelope that is not one of ours."""
        recipients = data["recipients"]
        delivered = data.get("delivered", [])
        failed = data.get("failed", [])
        failures = data.get("failures", [])
        if not (
            isinstance(recipients, list)
            and isinstance(delivered, list)
            and isinstance(failed, list)
            and isinstance(failures, list)
        ):
            raise ValueError("recipients must be lists")
        if len(failed) != len(failures):
            raise ValueError("a reason for each failed recipient")
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
            failed=tuple(str(r) for r in failed),
            failures=tuple(str(r) for r in failures),
        )


@dataclass(frozen=True, slots=True)
class Delivered:
    recipient: str


@dataclass(frozen=True, slots=True)
class Failed:
    recipient: str
    reason: str


@dataclass(frozen=True, slots=True)
class Deferred:
    reason: str


Event = Delivered | Failed | Deferred


def retry_delay(attempts: int, timing: Timing = DEFAULT_TIMING) -> float:
    """Seconds before attempt ``attempts + 1``: doubling from the first retry's delay,
    at most ``max_retry``."""
    return min(timing.max_retry, timing.first_retry * 2.0 ** min(max(attempts - 1, 0), 32))


def step(
    entry: QueueEntry, event: Event, now: float, timing: Timing = DEFAULT_TIMING
) -> QueueEntry:
    """The entry after ``event``; events for a finished entry change nothing."""
    if entry.state is not EntryState.QUEUED:
        return entry
    if isinstance(event, Delivered | Failed):
        if event.recipient not in entry.pending:
            return entry
        if isinstance(event, Delivered):
            after = replace(entry, delivered=(*entry.delivered, event.recipient))
        else:
            after = replace(
                entry,
                failed=(*entry.failed, event.recipient),
                failures=(*entry.failures, event.reason),
            )
        return replace(after, state=EntryState.DONE) if not after.pending else after
    attempts = entry.attempts + 1
    if now - entry.created >= timing.expire_after:
        return replace(entry, state=EntryState.EXPIRED, attempts=attempts, last_error=event.reason)
    return replace(
        entry,
        attempts=attempts,
        next_try=now + retry_delay(attempts, timing),
        last_error=event.reason,
    )
