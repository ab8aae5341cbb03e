"""The byte-range lock index (peerwork/range_locks.py) against a naive list model."""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from peerwork.range_locks import ByteRange, LockTable, SortedCounts


@dataclass
class NaiveTable:
    """Every lock in a list, every question a scan: the rules spelled out plainly."""

    locks: dict[int, list[ByteRange]] = field(default_factory=dict)

    def conflicts_lock(self, file: int, new: ByteRange) -> bool:
        for held in self.locks.get(file, []):
            if new.length == 0 or held.length == 0:
                if (
                    new.length == 0
                    and held.length == 0
                    and held.offset == new.offset
                    and (held.exclusive or new.exclusive)
                    and held.owner != new.owner
                ):
                    return True
                continue
            if not held.overlaps(new.offset, new.length):
                continue
            if held.exclusive and not new.exclusive and held.owner == new.owner:
                continue
            if held.exclusive or new.exclusive:
                return True
        return False

    def conflicts_io(self, file: int, owner: int, offset: int, length: int, write: bool) -> bool:
        return any(
            held.overlaps(offset, length)
            and ((held.exclusive and held.owner != owner) or (write and not held.exclusive))
            for held in self.locks.get(file, [])
        )

    def add(self, file: int, lock: ByteRange) -> None:
        self.locks.setdefault(file, []).append(lock)

    def remove(self, file: int, owner: int, offset: int, length: int) -> bool:
        held = self.locks.get(file, [])
        for i, lk in enumerate(held):
            if (lk.owner, lk.offset, lk.length) == (owner, offset, length):
                del held[i]
                return True
        return False

    def release_all(self, file: int, owner: int) -> None:
        self.locks[file] = [lk for lk in self.locks.get(file, []) if lk.owner != owner]


OFFSETS = st.sampled_from([0, 1, 2, 5, 10, 2**63, 2**64 - 1])
LENGTHS = st.sampled_from([0, 1, 2, 3, 8, 2**63, 2**64 - 1])
OWNERS = st.integers(0, 3)
FILES = st.integers(0, 1)


class LockMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.real = LockTable()
        self.model = NaiveTable()

    @rule(file=FILES, offset=OFFSETS, length=LENGTHS, exclusive=st.booleans(), owner=OWNERS)
    def lock(self, file: int, offset: int, length: int, exclusive: bool, owner: int) -> None:
        new = ByteRange(offset, length, exclusive, owner)
        conflict = self.model.conflicts_lock(file, new)
        assert self.real.conflicts_lock(file, new) is conflict
        if not conflict:
            self.real.add(file, new)
            self.model.add(file, new)

    @rule(file=FILES, offset=OFFSETS, length=LENGTHS, owner=OWNERS)
    def unlock(self, file: int, offset: int, length: int, owner: int) -> None:
        assert self.real.remove(file, owner, offset, length) is self.model.remove(
            file, owner, offset, length
        )

    @rule(file=FILES, owner=OWNERS)
    def close(self, file: int, owner: int) -> None:
        self.real.release_all(file, owner)
        self.model.release_all(file, owner)

    @rule(file=FILES, offset=OFFSETS, length=LENGTHS, owner=OWNERS, write=st.booleans())
    def io(self, file: int, offset: int, length: int, owner: int, write: bool) -> None:
        expected = self.model.conflicts_io(file, owner, offset, length, write)
        assert self.real.conflicts_io(file, owner, offset, length, write) is expected

    @invariant()
    def counts_agree(self) -> None:
        for file in (0, 1):
            for owner in range(4):
                held = [lk for lk in self.model.locks.get(file, []) if lk.owner == owner]
                assert self.real.held_by(file, owner) == len(held)


TestLockTableMatchesTheModel = LockMachine.TestCase
TestLockTableMatchesTheModel.settings = settings(max_examples=300, stateful_step_count=40)


@given(st.lists(st.tuples(OFFSETS, LENGTHS, st.booleans(), OWNERS), max_size=30))
def test_stacked_unlocks_remove_the_oldest_first(
    ops: list[tuple[int, int, bool, int]],
) -> None:
    """Windows removes the oldest of identical stacked locks; both tables agree on
    which one is left by asking a question only the remaining lock can answer."""
    real, model = LockTable(), NaiveTable()
    for offset, length, exclusive, owner in ops:
        new = ByteRange(offset, length, exclusive, owner)
        if not model.conflicts_lock(0, new):
            real.add(0, new)
            model.add(0, new)
    for offset, length, _, owner in ops:
        assert real.remove(0, owner, offset, length) is model.remove(0, owner, offset, length)
        for probe_owner in range(4):
            for write in (False, True):
                assert real.conflicts_io(0, probe_owner, 0, 2**64, write) is model.conflicts_io(
                    0, probe_owner, 0, 2**64, write
                )


def test_answers_hold_with_many_locks() -> None:
    """50,000 disjoint locks of one open: the answers at that scale (the index answers
    from counts of sorted starts and ends; speed is left to benchmarks)."""
    table = LockTable()
    for i in range(50_000):
        table.add(7, ByteRange(i * 2, 1, True, "a"))
    assert table.held_by(7, "a") == 50_000
    assert table.conflicts_lock(7, ByteRange(99_999, 1, False, "b")) is False
    assert table.conflicts_lock(7, ByteRange(99_998, 1, False, "b")) is True
    assert table.conflicts_lock(7, ByteRange(0, 2**64, False, "a")) is False
    assert table.conflicts_io(7, "b", 1, 1, True) is False
    table.release_all(7, "a")
    assert table.held_by(7, "a") == 0
    assert table.conflicts_lock(7, ByteRange(0, 2**64, True, "b")) is False


class TinyBlocks(SortedCounts):
    _BLOCK = 2  # splits and empty blocks after a handful of values


@settings(max_examples=400)
@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(-3, 12)),
        max_size=80,
    ),
    st.integers(-4, 13),
)
def test_sorted_counts_match_a_sorted_list(ops: list[tuple[bool, int]], probe: int) -> None:
    real, model = TinyBlocks(), []
    for adding, value in ops:
        if adding or value not in model:
            real.add(value)
            insort(model, value)
        else:
            real.remove(value)
            del model[bisect_left(model, value)]
        assert len(real) == len(model)
        for x in (probe, value, value + 1):
            assert real.count_below(x) == bisect_left(model, x)
            assert real.count_at_most(x) == bisect_right(model, x)
