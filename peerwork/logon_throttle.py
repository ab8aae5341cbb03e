"""Failed-logon throttling: growing delays per account and per client address.

Sans-IO: :func:`step` is a pure function of ``(entry, event, now)`` for one key
(an account name or a client address), and :class:`ThrottleTable` keeps the
entries of many keys in a bounded table. The caller owns the clock and the
sleeping: it asks :meth:`ThrottleTable.failed` how long to hold back the
LOGON_FAILURE answer, then waits that long without blocking anything else.

Only failures are delayed, never a logon that succeeds: an attacker guessing
a co-worker's password slows down, while the co-worker (with the right
password) still gets in at once — throttling, not a lockout anyone can cause.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class ThrottleLimits:
    """``free_failures`` failures of a key are answered at once; each one after that
    waits ``first_delay`` doubled per further failure, at most ``max_delay`` seconds.
    A key with no failure for ``forget_after`` seconds starts over. A burst is
    ``burst_failures`` failures with no gap longer than ``burst_window``.
    The table keeps at most ``max_entries`` keys (least recently failed go first)."""

    free_failures: int = 5
    first_delay: float = 0.5
    max_delay: float = 30.0
    forget_after: float = 900.0
    burst_failures: int = 20
    burst_window: float = 60.0
    max_entries: int = 4096

    def __post_init__(self) -> None:
        if self.free_failures < 0 or self.burst_failures < 1 or self.max_entries < 1:
            raise ValueError("throttle counts must be positive")
        if not 0 <= self.first_delay <= self.max_delay:
            raise ValueError("first_delay must be between 0 and max_delay")
        if self.forget_after <= 0 or self.burst_window <= 0:
            raise ValueError("throttle windows must be positive")

    def delay_after(self, failures: int) -> float:
        """Seconds to hold back the answer to a key's ``failures``-th failure."""
        over = failures - self.free_failures
        if over <= 0:
            return 0.0
        # Capped before doubling: 2 ** over for a long-running attack would overflow a float.
        return min(self.max_delay, self.first_delay * 2.0 ** min(over - 1, 64))


class KeyKind(enum.Enum):
    ACCOUNT = "account"
    ADDRESS = "address"
    JOIN_CODE = "join-code"  # a workgroup join code's id (agents/trust_join.py)


@dataclass(frozen=True, slots=True)
class Key:
    kind: KeyKind
    name: str


@dataclass(frozen=True, slots=True)
class Entry:
    """What is remembered of one key."""

    failures: int  # since the key was last forgotten or succeeded
    last_failure: float
    burst_failures: int  # failures of the burst in progress
    burst_start: float
    burst_reported: bool


class Event(enum.Enum):
    FAILED = "failed"
    SUCCEEDED = "succeeded"


@dataclass(frozen=True, slots=True)
class Decision:
    """What a failure calls for: hold the answer back ``delay`` seconds; ``log`` says
    whether this attempt still gets a log line of its own (the first few of a key do;
    the rest are summed up by the burst report); ``burst_started`` is set once per burst."""

    delay: float = 0.0
    log: bool = True
    burst_started: bool = False


def _fresh(entry: Entry | None, now: float, limits: ThrottleLimits) -> Entry | None:
    if entry is None or now - entry.last_failure >= limits.forget_after:
        return None
    return entry


def step(
    entry: Entry | None, event: Event, now: float, limits: ThrottleLimits
) -> tuple[Entry | None, Decision]:
    """One key's next state after ``event`` at ``now`` (seconds, any monotonic origin)."""
    entry = _fresh(entry, now, limits)
    if event is Event.SUCCEEDED:
        return None, Decision()
    if entry is None:
        entry = Entry(0, now, 0, now, False)
    in_burst = now - entry.last_failure <= limits.burst_window
    if not in_burst:
        entry = replace(entry, burst_failures=0, burst_start=now, burst_reported=False)
    failures = entry.failures + 1
    burst = entry.burst_failures + 1
    started = burst >= limits.burst_failures and not entry.burst_reported
    new = Entry(failures, now, burst, entry.burst_start, entry.burst_reported or started)
    decision = Decision(
        delay=limits.delay_after(failures),
        log=failures <= limits.free_failures,
        burst_started=started,
    )
    return new, decision


@dataclass(frozen=True, slots=True)
class Burst:
    """A burst of failed logons, reported once when it reaches the threshold."""

    key: Key
    failures: int
    since: float  # the caller's clock


@dataclass(frozen=True, slots=True)
class Verdict:
    """The combined answer for one failed logon (account and address together)."""

    delay: float
    log: bool
    bursts: tuple[Burst, ...]


class ThrottleTable:
    """The entries of many keys, at most ``limits.max_entries`` of them.

    Each failure touches its keys (moving them to the young end); when the table is
    full the key that failed longest ago goes. A spray of names or addresses
    therefore costs memory only up to the bound, and the key under attack — failing
    all the time — is the last to be dropped.
    """

    def __init__(self, limits: ThrottleLimits) -> None:
        self.limits = limits
        self._entries: OrderedDict[Key, Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def failures(self, key: Key, now: float) -> int:
        entry = _fresh(self._entries.get(key), now, self.limits)
        return entry.failures if entry is not None else 0

    def failed(self, keys: tuple[Key, ...], now: float) -> Verdict:
        """Record one failed logon against every key in ``keys``."""
        self._expire(now)
        delay, log, bursts = 0.0, True, []
        for key in keys:
            entry, decision = step(self._entries.pop(key, None), Event.FAILED, now, self.limits)
            assert entry is not None
            self._entries[key] = entry
            delay = max(delay, decision.delay)
            log = log and decision.log
            if decision.burst_started:
                bursts.append(Burst(key, entry.burst_failures, entry.burst_start))
        while len(self._entries) > self.limits.max_entries:
            self._entries.popitem(last=False)
        return Verdict(delay, log, tuple(bursts))

    def succeeded(self, key: Key, now: float) -> None:
        """A logon of ``key`` succeeded: its failures are forgotten."""
        entry, _ = step(self._entries.pop(key, None), Event.SUCCEEDED, now, self.limits)
        if entry is not None:
            self._entries[key] = entry

    def _expire(self, now: float) -> None:
        # Oldest failure first (each failure moves its key to the end), so stop at the
        # first key still remembered: the work is proportional to what is dropped.
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if _fresh(entry, now, self.limits) is not None:
                return
            del self._entries[key]
