"""Server-wide logon limits: pending logons per connection, and failed-logon throttling.

The decisions are :mod:`peerwork.logon_throttle`'s (pure, clock injected); this
adapter owns the clock, the waiting, the log lines and the events.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from peerwork.logon_throttle import Burst, Key, KeyKind, ThrottleLimits, ThrottleTable
from peerwork.proto.ntstatus import NtStatus

from ..log_throttle import Throttle
from ..service import EventSink, no_events
from .session import Session

log = logging.getLogger(__name__)

# The event the agent's bus carries when failed logons come in a burst.
BURST_EVENT = "logon-failures"
# Account names are counted as typed (case-folded) but never stored longer than this.
_MAX_KEY = 64


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """``max_pending``: logons in progress (SESSION_SETUP not yet finished) per
    connection; ``max_sessions``: sessions per connection, logged on or not;
    ``pending_timeout``: seconds a logon may stay unfinished before it is dropped."""

    max_pending: int = 8
    max_sessions: int = 64
    pending_timeout: float = 30.0


class LogonGuard:
    def __init__(
        self,
        *,
        sessions: SessionLimits | None = None,
        throttle: ThrottleLimits | None = None,
        emit: EventSink = no_events,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions or SessionLimits()
        self.table = ThrottleTable(throttle or ThrottleLimits())
        self.emit = emit
        self.clock = clock
        self.bursts = 0
        self.refused_for_cap = 0
        # Refusals at the cap repeat with every request of a flood: one line a minute.
        self._cap_log = Throttle(log, clock=clock)

    # --- pending logons ------------------------------------------------------------

    def admit(self, sessions: Iterable[Session], peer: str) -> tuple[int | None, list[Session]]:
        """Whether a connection with ``sessions`` may start one more logon.

        Returns (None or the NTSTATUS to refuse it with, the pending sessions that
        have expired and must be dropped first). What Samba answers when its session
        table is full is STATUS_INSUFFICIENT_RESOURCES; so do we, with a much smaller
        table: the client may finish or abandon the logons it started and try again.
        """
        now = self.clock()
        limits = self.sessions
        expired = [
            s
            for s in sessions
            if not s.authenticated and not s.failing and now - s.started >= limits.pending_timeout
        ]
        gone = {id(s) for s in expired}
        live = [s for s in sessions if id(s) not in gone]
        pending = sum(1 for s in live if not s.authenticated)
        if pending < limits.max_pending and len(live) < limits.max_sessions:
            return None, expired
        self.refused_for_cap += 1
        self._cap_log.log(
            "logon cap",
            logging.WARNING,
            "SMB client %s: %d logons in progress and %d sessions on one connection; "
            "refusing more (STATUS_INSUFFICIENT_RESOURCES; logged once a minute)",
            peer,
            pending,
            len(live),
        )
        return NtStatus.INSUFFICIENT_RESOURCES, expired

    # --- failed logons -------------------------------------------------------------

    def keys(self, account: str, address: str) -> tuple[Key, ...]:
        keys = [Key(KeyKind.ADDRESS, address)]
        if account:
            keys.append(Key(KeyKind.ACCOUNT, account.lower()[:_MAX_KEY]))
        return tuple(keys)

    async def failed(self, account: str, address: str, reason: str) -> None:
        """Count a failed logon and wait before the failure may be answered.

        Runs in the request's own task: the connection's other requests (and every
        other connection) go on while this one waits."""
        verdict = self.table.failed(self.keys(account, address), self.clock())
        if verdict.log:
            log.info("SMB logon refused from %s: %s", address, reason)
        for burst in verdict.bursts:
            self._report(burst, address)
        if verdict.delay > 0:
            await asyncio.sleep(verdict.delay)

    def succeeded(self, account: str) -> None:
        if account:
            self.table.succeeded(Key(KeyKind.ACCOUNT, account.lower()[:_MAX_KEY]), self.clock())

    def _report(self, burst: Burst, address: str) -> None:
        self.bursts += 1
        what = burst.key.kind.value
        log.warning(
            "SMB: %d failed logons for %s %s (latest from %s); answering further failures "
            "more and more slowly (logged once per burst)",
            burst.failures,
            what,
            burst.key.name,
            address,
        )
        payload: dict[str, Any] = {
            "kind": what,
            "name": burst.key.name,
            "failures": burst.failures,
            "address": address,
        }
        self.emit(BURST_EVENT, payload)

    def details(self) -> dict[str, Any]:
        return {
            "throttled_keys": len(self.table),
            "failure_bursts": self.bursts,
            "refused_for_session_cap": self.refused_for_cap,
        }
