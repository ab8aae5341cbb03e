"""The failed-logon throttle: a pure state machine, the clock injected."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerwork.logon_throttle import (
    Entry,
    Event,
    Key,
    KeyKind,
    ThrottleLimits,
    ThrottleTable,
    step,
)

LIMITS = ThrottleLimits(
    free_failures=3,
    first_delay=0.5,
    max_delay=8.0,
    forget_after=100.0,
    burst_failures=5,
    burst_window=10.0,
    max_entries=50,
)
BOB = Key(KeyKind.ACCOUNT, "bob")
HOST = Key(KeyKind.ADDRESS, "10.0.0.9")


def test_delays_grow_and_stop_growing() -> None:
    delays = [LIMITS.delay_after(n) for n in range(1, 12)]
    assert delays == [0, 0, 0, 0.5, 1, 2, 4, 8, 8, 8, 8]
    assert LIMITS.delay_after(10**9) == 8.0  # no overflow after a very long attack


def test_success_forgets_the_failures() -> None:
    entry = None
    for i in range(6):
        entry, _ = step(entry, Event.FAILED, float(i), LIMITS)
    assert entry is not None and entry.failures == 6
    entry, decision = step(entry, Event.SUCCEEDED, 7.0, LIMITS)
    assert entry is None and decision.delay == 0


def test_quiet_key_starts_over() -> None:
    entry = None
    for i in range(6):
        entry, _ = step(entry, Event.FAILED, float(i), LIMITS)
    entry, decision = step(entry, Event.FAILED, 5.0 + LIMITS.forget_after, LIMITS)
    assert entry is not None and entry.failures == 1 and decision.delay == 0


def test_burst_reported_once_and_again_after_a_pause() -> None:
    entry = None
    started = []
    for i in range(30):
        entry, decision = step(entry, Event.FAILED, i * 0.1, LIMITS)
        started.append(decision.burst_started)
    assert started.count(True) == 1 and started.index(True) == LIMITS.burst_failures - 1
    # Quiet for longer than the burst window, but not forgotten: a new burst is new news.
    later = []
    for i in range(10):
        entry, decision = step(entry, Event.FAILED, 25.0 + i, LIMITS)
        later.append(decision.burst_started)
    assert later.index(True) == LIMITS.burst_failures - 1 and later.count(True) == 1
    # The failures of the first burst still count for the delay.
    assert entry is not None and entry.failures == 40


def test_only_the_first_failures_are_logged_one_by_one() -> None:
    entry = None
    logs = []
    for i in range(10):
        entry, decision = step(entry, Event.FAILED, float(i), LIMITS)
        logs.append(decision.log)
    assert logs == [True] * 3 + [False] * 7


def test_table_combines_account_and_address() -> None:
    table = ThrottleTable(LIMITS)
    # Spraying names from one host: each name is fresh, the host is not.
    delays = [table.failed((HOST, Key(KeyKind.ACCOUNT, f"u{i}")), float(i)).delay for i in range(6)]
    assert delays == [0, 0, 0, 0.5, 1, 2]
    # Guessing bob from many hosts: the account slows down.
    for i in range(5):
        verdict = table.failed((Key(KeyKind.ADDRESS, f"10.1.0.{i}"), BOB), 10.0 + i)
    assert verdict.delay == 1.0
    table.succeeded(BOB, 20.0)
    assert table.failures(BOB, 20.0) == 0
    assert table.failures(HOST, 20.0) == 6  # a right password elsewhere does not clear a host


def test_table_reports_each_key_burst() -> None:
    table = ThrottleTable(LIMITS)
    bursts = []
    for i in range(LIMITS.burst_failures):
        bursts.extend(table.failed((HOST, BOB), float(i)).bursts)
    assert {b.key for b in bursts} == {HOST, BOB}
    assert all(b.failures == LIMITS.burst_failures and b.since == 0.0 for b in bursts)


def test_table_stays_bounded_and_keeps_the_key_under_attack() -> None:
    table = ThrottleTable(LIMITS)
    for i in range(10_000):
        table.failed((HOST, Key(KeyKind.ACCOUNT, f"spray{i}")), i * 0.001)
        assert len(table) <= LIMITS.max_entries
    # The host failed on every attempt: still remembered, with every failure counted.
    assert table.failures(HOST, 10.0) == 10_000


def test_table_expires_quiet_keys() -> None:
    table = ThrottleTable(LIMITS)
    for i in range(20):
        table.failed((Key(KeyKind.ADDRESS, f"h{i}"),), 0.0)
    table.failed((HOST,), LIMITS.forget_after + 1)
    assert len(table) == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"free_failures": -1},
        {"burst_failures": 0},
        {"max_entries": 0},
        {"first_delay": 5.0, "max_delay": 1.0},
        {"first_delay": -1.0},
        {"forget_after": 0},
        {"burst_window": -3},
    ],
)
def test_bad_limits_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ThrottleLimits(**kwargs)  # type: ignore[arg-type]


_events = st.lists(
    st.tuples(
        st.sampled_from([Event.FAILED, Event.SUCCEEDED]),
        st.floats(min_value=0, max_value=50, allow_nan=False),
    ),
    max_size=200,
)


@given(_events)
def test_step_invariants(events: list[tuple[Event, float]]) -> None:
    """Whatever the order and spacing of events (the clock may even step back): delays
    stay within the limits, counts never go negative, one report per burst at most."""
    entry: Entry | None = None
    now = 0.0
    for event, gap in events:
        now += gap
        entry, decision = step(entry, event, now, LIMITS)
        assert 0 <= decision.delay <= LIMITS.max_delay
        if event is Event.SUCCEEDED:
            assert entry is None
        else:
            assert entry is not None and entry.failures >= 1
            assert entry.burst_failures <= entry.failures
            assert decision.delay == LIMITS.delay_after(entry.failures)
            assert not (decision.burst_started and entry.burst_failures < LIMITS.burst_failures)


@given(
    st.lists(
        st.tuples(
            st.sampled_from([KeyKind.ACCOUNT, KeyKind.ADDRESS]),
            st.text(max_size=8),
            st.booleans(),
            st.floats(min_value=-5, max_value=300, allow_nan=False),
        ),
        max_size=300,
    )
)
def test_table_hostile_keys_and_clock(ops: list[tuple[KeyKind, str, bool, float]]) -> None:
    table = ThrottleTable(LIMITS)
    for kind, name, failed, now in ops:
        key = Key(kind, name)
        if failed:
            verdict = table.failed((key, HOST), now)
            assert 0 <= verdict.delay <= LIMITS.max_delay
        else:
            table.succeeded(key, now)
            assert table.failures(key, now) == 0
        assert len(table) <= LIMITS.max_entries
