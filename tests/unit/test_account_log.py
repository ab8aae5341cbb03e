"""The account change log: signatures, the merge rule, conflicts, hostile entries (hypothesis)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.account_log import (
    AccountChange,
    AccountLog,
    ChangeError,
    Outcome,
    sign_change,
)
from peerwork.identity import Identity

PCS = [Identity.generate(f"PC{i}") for i in range(1, 4)]
IDS = {pc.peer_id for pc in PCS}
HASHES = [bytes([i]) * 16 for i in range(6)]


def members(origin: str) -> bool:
    return origin in IDS


def _history() -> list[AccountChange]:
    """Changes as three PCs would make them: each on its own log, now and then hearing
    some of the others' entries, so there are successors, concurrent edits and deletes."""
    logs = [AccountLog() for _ in PCS]
    made: list[AccountChange] = []
    script = [
        (0, "alice", 1), (1, "bob", 2), (2, "alice", 3), (0, "carol", 4),
        (1, "alice", None), (2, "bob", 5), (0, "alice", 0), (1, "carol", None),
        (2, "dave", 1), (0, "bob", None), (1, "dave", 2), (2, "carol", 3),
    ]  # fmt: skip
    for step, (pc, name, h) in enumerate(script):
        made.append(logs[pc].local(PCS[pc], name, None if h is None else HASHES[h], 1000 * step))
        if step % 3 == 2:  # a partial sync: the next PC hears everything made so far
            for entry in made:
                logs[(pc + 1) % 3].apply(entry, members)
    return made


HISTORY = _history()


def _expected(entries: list[AccountChange]) -> dict[str, tuple[int, str]]:
    best: dict[str, tuple[int, str]] = {}
    for e in entries:
        best[e.name] = max(best.get(e.name, (0, "")), e.stamp)
    return best


def test_round_trip_and_signature() -> None:
    entry = HISTORY[0]
    again = AccountChange.from_json(entry.to_json())
    assert again == entry
    assert again.problem() == ""
    assert entry.nt_hash is not None and entry.nt_hash.hex() not in repr(entry)


@pytest.mark.parametrize(
    "change",
    [
        {"nt_hash": "ff" * 16},
        {"version": 99},
        {"name": "mallory"},
        {"prev": [7, PCS[0].peer_id]},
        {"changed_ms": 5},
    ],
)
def test_any_edited_field_breaks_the_signature(change: dict[str, Any]) -> None:
    body = {**HISTORY[2].to_json(), **change}
    edited = AccountChange.from_json(body)
    assert edited.problem() == "its signature does not verify"
    log = AccountLog()
    merge = log.apply(edited, members)
    assert merge.outcome is Outcome.REFUSED and len(log) == 0


def test_forged_origin_and_non_member_are_refused() -> None:
    real = HISTORY[0]
    thief = Identity.generate("EVIL")
    # Signed by a member's key (PC2) but claiming PC1 as its origin.
    forged = dataclasses.replace(real, version=50, signature=b"")
    forged = dataclasses.replace(forged, signature=PCS[1].sign(forged.signed_bytes()))
    assert "signature" in forged.problem()
    stolen_key = dataclasses.replace(real, key=PCS[1].public_raw, signature=b"")
    stolen_key = dataclasses.replace(stolen_key, signature=PCS[1].sign(stolen_key.signed_bytes()))
    assert "origin" in stolen_key.problem()
    outsider = sign_change(
        thief, name="alice", nt_hash=HASHES[5], version=99, created_ms=0, changed_ms=0, prev=None
    )
    assert outsider.problem() == ""
    log = AccountLog()
    for bad in (forged, stolen_key, outsider):
        assert log.apply(bad, members).outcome is Outcome.REFUSED
    assert "not a member" in log.apply(outsider, members).reason
    assert len(log) == 0


@settings(max_examples=200, deadline=None)
@given(st.permutations(HISTORY), st.lists(st.sampled_from(HISTORY), max_size=10))
def test_any_order_with_replays_converges(
    order: list[AccountChange], replays: list[AccountChange]
) -> None:
    log = AccountLog()
    for entry in [*order, *replays]:
        assert log.apply(entry, members).outcome is not Outcome.REFUSED
    assert log.digest() == _expected(HISTORY)
    before = log.entries()
    for entry in reversed(order):  # replaying everything again changes nothing
        assert log.apply(entry, members).outcome is Outcome.STALE
    assert log.entries() == before


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(HISTORY), max_size=12), st.lists(st.sampled_from(HISTORY), max_size=12)
)
def test_anti_entropy_by_digest_converges(a: list[AccountChange], b: list[AccountChange]) -> None:
    left, right = AccountLog(), AccountLog()
    for e in a:
        left.apply(e, members)
    for e in b:
        right.apply(e, members)
    # What the sync service does: send what the other lacks, both ways.
    for e in left.newer_than(right.digest()):
        right.apply(e, members)
    assert set(left.wanted(right.digest())) == {e.name for e in right.newer_than(left.digest())}
    for e in right.newer_than(left.digest()):
        left.apply(e, members)
    assert left.entries() == right.entries()
    assert left.digest() == _expected(a + b)


def test_local_change_beats_everything_seen() -> None:
    log = AccountLog(HISTORY)
    entry = log.local(PCS[0], "alice", HASHES[4], 99_000)
    assert entry.version == max(e.version for e in HISTORY) + 1
    assert entry.prev == _expected(HISTORY)["alice"]
    assert entry.problem() == ""


def test_concurrent_changes_are_reported_and_resolved_the_same_everywhere() -> None:
    base = AccountLog()
    start = base.local(PCS[0], "alice", HASHES[0], 0)
    one, two = AccountLog([start]), AccountLog([start])
    a = one.local(PCS[0], "alice", HASHES[1], 10)
    b = two.local(PCS[1], "alice", HASHES[2], 20)
    assert a.version == b.version == 2
    on_one, on_two = one.apply(b, members), two.apply(a, members)
    assert on_one.conflict is not None and on_two.conflict is not None
    assert on_one.conflict.kept == on_two.conflict.kept == max(a.stamp, b.stamp)
    assert on_one.conflict.lost == min(a.stamp, b.stamp)
    assert one.entries() == two.entries()
    # The side whose entry was replaced learns which (the service shows it to everyone).
    applied = on_one if on_one.outcome is Outcome.APPLIED else on_two
    assert applied.replaced in (a, b) and applied.replaced != applied.change
    # Anti-entropy as the sync service runs it shows the winner the clash too: it asks
    # for the loser's older entry because that is not the one its own replaced.
    winner, loser = (AccountLog([a]), AccountLog([b])) if a.stamp > b.stamp else (
        AccountLog([b]), AccountLog([a]))  # fmt: skip
    assert winner.contested(loser.digest()) == ["alice"]
    (older,) = [e for e in (a, b) if e.stamp < max(a.stamp, b.stamp)]
    seen = winner.apply(older, members)
    assert seen.outcome is Outcome.STALE and seen.conflict == on_one.conflict
    assert winner.contested(AccountLog([start]).digest()) == []  # an ancestor is not contested
    # A change made knowing the other is a successor: no conflict.
    after = one.local(PCS[0], "alice", HASHES[3], 30)
    assert two.apply(after, members).conflict is None


def test_concurrent_delete_is_a_conflict_of_kind_deleted() -> None:
    start = AccountLog().local(PCS[0], "bob", HASHES[0], 0)
    one, two = AccountLog([start]), AccountLog([start])
    one.local(PCS[0], "bob", None, 5)
    changed = two.local(PCS[2], "bob", HASHES[1], 6)
    merge = one.apply(changed, members)
    assert merge.conflict is not None and merge.conflict.kind == "deleted"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.text(max_size=70),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
FIELDS = list(HISTORY[0].to_json())


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), json_values, max_size=12))
def test_hostile_bodies_raise_change_error_only(body: dict[str, Any]) -> None:
    try:
        entry = AccountChange.from_json(body)
    except ChangeError:
        return
    assert entry.problem() != ""  # random bytes never carry a valid signature


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(HISTORY), st.sampled_from(FIELDS), json_values)
def test_mutated_entries_are_refused_or_unchanged(
    entry: AccountChange, key: str, value: Any
) -> None:
    body = {**entry.to_json(), key: value}
    log = AccountLog()
    try:
        parsed = AccountChange.from_json(body)
    except ChangeError:
        return
    merge = log.apply(parsed, members)
    if parsed == entry:
        assert merge.outcome is Outcome.APPLIED
    else:
        assert merge.outcome is Outcome.REFUSED and len(log) == 0


@pytest.mark.parametrize("body", [[], "x", None, 5])
def test_non_objects_are_refused(body: Any) -> None:
    with pytest.raises(ChangeError):
        AccountChange.from_json(body)
