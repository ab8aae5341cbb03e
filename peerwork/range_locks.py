"""Byte-range locks of the open files of one share (MS-FSA 2.1.4.10, 2.1.5.7).

Sans-IO: a table of who holds which range of which file, answering "would
this lock / this read / this write conflict?" in O(log n) of the locks held
on the file, whatever their number, and taking or dropping a lock in O(log n)
plus one small block.

Why counting works: a range [s, e) overlaps [a, b) exactly when s < b and
e > a, and every range with e <= a also has s < b. So the number of held
ranges overlapping [a, b) is ``#(starts < b) - #(ends <= a)`` — two rank
queries on sorted multisets of starts and of ends. Conflicts only ever ask "is there one"
(among exclusive ranges, shared ranges, or exclusive ranges of other owners),
so the table keeps those multisets per file and per owner and never scans.

Zero-length ranges overlap nothing (MS-FSA) but two at the same offset still
conflict the way Windows has them conflict; they are counted per offset.

``owner`` is any hashable that names one open (locks belong to the open, not
to the session or process).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import Counter, deque
from collections.abc import Hashable
from dataclasses import dataclass, field

MAX_RANGE_END = 2**64
# Byte-range locks one open may hold at once. Database programs (Access, dBase
# files) take hundreds; more than this is a client out of control.
DEFAULT_LOCKS_PER_OPEN = 4096


@dataclass(frozen=True, slots=True)
class ByteRange:
    offset: int
    length: int
    exclusive: bool
    owner: Hashable

    @property
    def end(self) -> int:
        return self.offset + self.length

    def overlaps(self, offset: int, length: int) -> bool:
        # Zero-length ranges never overlap anything (MS-FSA 2.1.4.10).
        if self.length == 0 or length == 0:
            return False
        return offset < self.offset + self.length and self.offset < offset + length


class SortedCounts:
    """A sorted multiset of ints answering "how many are < x / <= x" in O(log n).

    A plain sorted list would do the counting, but inserting into it moves every
    later element: with hundreds of thousands of locks on one file, each LOCK
    would cost a millisecond of memmove. Here values live in blocks of at most
    ``2 * _BLOCK``; a Fenwick tree over block sizes gives the count before a
    block, so insert and remove touch one block and log(blocks) tree nodes.
    """

    _BLOCK = 512

    def __init__(self) -> None:
        self._blocks: list[list[int]] = []
        self._maxes: list[int] = []  # last value of each block
        self._tree: list[int] = [0]  # Fenwick tree over block sizes (1-based)

    def __len__(self) -> int:
        return sum(len(b) for b in self._blocks)

    def _rebuild(self) -> None:
        n = len(self._blocks)
        tree = [0] * (n + 1)
        for i, block in enumerate(self._blocks, 1):
            tree[i] += len(block)
            parent = i + (i & -i)
            if parent <= n:
                tree[parent] += tree[i]
        self._tree = tree

    def _bump(self, index: int, delta: int) -> None:
        i = index + 1
        tree = self._tree
        while i < len(tree):
            tree[i] += delta
            i += i & -i

    def _before(self, index: int) -> int:
        """How many values are in blocks before block ``index``."""
        total, i, tree = 0, index, self._tree
        while i > 0:
            total += tree[i]
            i -= i & -i
        return total

    def add(self, value: int) -> None:
        if not self._blocks:
            self._blocks.append([value])
            self._maxes.append(value)
            self._rebuild()
            return
        index = min(bisect_left(self._maxes, value), len(self._blocks) - 1)
        block = self._blocks[index]
        insort(block, value)
        self._maxes[index] = block[-1]
        if len(block) > 2 * self._BLOCK:
            self._blocks[index : index + 1] = [block[: self._BLOCK], block[self._BLOCK :]]
            self._maxes[index : index + 1] = [block[self._BLOCK - 1], block[-1]]
            self._rebuild()
        else:
            self._bump(index, 1)

    def remove(self, value: int) -> None:
        """Remove one occurrence of ``value`` (which must be present)."""
        index = bisect_left(self._maxes, value)
        block = self._blocks[index]
        del block[bisect_left(block, value)]
        if block:
            self._maxes[index] = block[-1]
            self._bump(index, -1)
        else:
            del self._blocks[index]
            del self._maxes[index]
            self._rebuild()

    def count_below(self, value: int) -> int:
        """How many values are < ``value``."""
        index = bisect_left(self._maxes, value)
        if index == len(self._blocks):
            return self._before(index)
        return self._before(index) + bisect_left(self._blocks[index], value)

    def count_at_most(self, value: int) -> int:
        """How many values are <= ``value``."""
        index = bisect_right(self._maxes, value)
        if index == len(self._blocks):
            return self._before(index)
        return self._before(index) + bisect_right(self._blocks[index], value)


@dataclass(slots=True)
class _Ranges:
    """Non-empty ranges as two sorted multisets (starts, ends) for overlap counting."""

    starts: SortedCounts = field(default_factory=SortedCounts)
    ends: SortedCounts = field(default_factory=SortedCounts)

    def add(self, start: int, end: int) -> None:
        self.starts.add(start)
        self.ends.add(end)

    def discard(self, start: int, end: int) -> None:
        # Any equal value stands for any other: only the counts matter.
        self.starts.remove(start)
        self.ends.remove(end)

    def overlapping(self, start: int, end: int) -> int:
        return self.starts.count_below(end) - self.ends.count_at_most(start)


@dataclass(slots=True)
class _OwnerLocks:
    """One open's locks on one file: what it holds, in the order it took them."""

    # (offset, length) -> exclusive flags in the order taken: an unlock removes the
    # oldest matching lock, as Windows does for stacked locks.
    held: dict[tuple[int, int], deque[bool]] = field(default_factory=dict)
    exclusive: _Ranges = field(default_factory=_Ranges)
    count: int = 0


@dataclass(slots=True)
class _FileLocks:
    exclusive: _Ranges = field(default_factory=_Ranges)
    shared: _Ranges = field(default_factory=_Ranges)
    owners: dict[Hashable, _OwnerLocks] = field(default_factory=dict)
    # offset -> counts of zero-length locks there, by (owner, exclusive)
    zero: dict[int, Counter[tuple[Hashable, bool]]] = field(default_factory=dict)

    def other_exclusive(self, owner: Hashable, start: int, end: int) -> bool:
        total = self.exclusive.overlapping(start, end)
        if total == 0:
            return False
        mine = self.owners.get(owner)
        return total > (mine.exclusive.overlapping(start, end) if mine else 0)


class LockTable:
    """Byte-range locks of every open file of one share, keyed by file id (inode)."""

    def __init__(self) -> None:
        self._files: dict[int, _FileLocks] = {}

    def held_by(self, file: int, owner: Hashable) -> int:
        """How many locks ``owner`` holds on ``file``."""
        f = self._files.get(file)
        mine = f.owners.get(owner) if f else None
        return mine.count if mine else 0

    def conflicts_lock(self, file: int, new: ByteRange) -> bool:
        """Whether ``new`` conflicts with a held lock: exclusive ranges conflict with
        every overlapping lock, except that an open may take a shared lock inside
        its own exclusive range."""
        f = self._files.get(file)
        if f is None:
            return False
        if new.length == 0:
            return self._zero_conflict(f, new)
        start, end = new.offset, new.end
        if new.exclusive:
            return bool(f.exclusive.overlapping(start, end) or f.shared.overlapping(start, end))
        return f.other_exclusive(new.owner, start, end)

    @staticmethod
    def _zero_conflict(f: _FileLocks, new: ByteRange) -> bool:
        # Two zero-length locks at one offset conflict on Windows when either is
        # exclusive and they belong to different opens.
        here = f.zero.get(new.offset)
        if not here:
            return False
        return any(
            owner != new.owner and (excl or new.exclusive) and n > 0
            for (owner, excl), n in here.items()
        )

    def conflicts_io(
        self, file: int, owner: Hashable, offset: int, length: int, write: bool
    ) -> bool:
        """Whether a read or write of the range by ``owner`` hits someone's lock:
        exclusive locks of other opens block both; shared locks block every write."""
        f = self._files.get(file)
        if f is None or length == 0:
            return False
        end = offset + length
        if write and f.shared.overlapping(offset, end):
            return True
        return f.other_exclusive(owner, offset, end)

    def add(self, file: int, lock: ByteRange) -> None:
        f = self._files.setdefault(file, _FileLocks())
        mine = f.owners.setdefault(lock.owner, _OwnerLocks())
        mine.held.setdefault((lock.offset, lock.length), deque()).append(lock.exclusive)
        mine.count += 1
        if lock.length == 0:
            f.zero.setdefault(lock.offset, Counter())[(lock.owner, lock.exclusive)] += 1
        elif lock.exclusive:
            f.exclusive.add(lock.offset, lock.end)
            mine.exclusive.add(lock.offset, lock.end)
        else:
            f.shared.add(lock.offset, lock.end)

    def remove(self, file: int, owner: Hashable, offset: int, length: int) -> bool:
        """Drop ``owner``'s oldest lock on exactly this range; False if it holds none."""
        f = self._files.get(file)
        mine = f.owners.get(owner) if f else None
        flags = mine.held.get((offset, length)) if mine else None
        if f is None or mine is None or not flags:
            return False
        exclusive = flags.popleft()
        if not flags:
            del mine.held[(offset, length)]
        self._forget(f, mine, ByteRange(offset, length, exclusive, owner))
        if mine.count == 0:
            del f.owners[owner]
        if not f.owners:
            del self._files[file]
        return True

    def release_all(self, file: int, owner: Hashable) -> None:
        """Drop every lock ``owner`` holds on ``file`` (its open is closing)."""
        f = self._files.get(file)
        mine = f.owners.pop(owner, None) if f else None
        if f is None or mine is None:
            return
        for (offset, length), flags in mine.held.items():
            for exclusive in flags:
                self._forget(f, mine, ByteRange(offset, length, exclusive, owner))
        if not f.owners:
            del self._files[file]

    @staticmethod
    def _forget(f: _FileLocks, mine: _OwnerLocks, lock: ByteRange) -> None:
        mine.count -= 1
        if lock.length == 0:
            here = f.zero[lock.offset]
            here[(lock.owner, lock.exclusive)] -= 1
            if here[(lock.owner, lock.exclusive)] <= 0:
                del here[(lock.owner, lock.exclusive)]
            if not here:
                del f.zero[lock.offset]
        elif lock.exclusive:
            f.exclusive.discard(lock.offset, lock.end)
            mine.exclusive.discard(lock.offset, lock.end)
        else:
            f.shared.discard(lock.offset, lock.end)
