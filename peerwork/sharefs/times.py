"""Creation and change times a client set, which Linux cannot store.

Windows lets a client set all four times of a file (Explorer's copy keeps the
creation time; smbtorture's setup sets and re-reads every one of them). Linux
has no settable birth time and ``ctime`` always moves to "now" on any metadata
change, so the store remembers what a client set, per inode, for as long as it
runs:

- a creation time stays until the file is deleted through the share or the
  table evicts it (bounded: the oldest entries go first);
- a change time stays only while the inode's real ``ctime`` is the one seen
  right after it was set, so any later write, rename or chmod shows the real
  change time again, as it would on Windows.

After an agent restart both fall back to the derived values (:mod:`peerwork.sharefs.info`).
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass

from peerwork.sharefs.info import FileInfo

MAX_ENTRIES = 16384

Key = tuple[int, int]  # (st_dev, st_ino)


@dataclass(frozen=True, slots=True)
class _Override:
    creation: int | None = None
    change: int | None = None
    change_valid_at_ctime_ns: int = -1


class TimeOverrides:
    """Thread-safe (handles call it from worker threads), bounded to ``max_entries``."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._max = max_entries
        self._entries: OrderedDict[Key, _Override] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def record(self, st: os.stat_result, *, creation: int | None, change: int | None) -> None:
        """Remember times set on the inode ``st`` describes; ``st`` must be its state
        after every other change of this SET_INFO (its ctime pins ``change``)."""
        if creation is None and change is None:
            return
        key = (st.st_dev, st.st_ino)
        with self._lock:
            old = self._entries.pop(key, _Override())
            if change is None and old.change_valid_at_ctime_ns != st.st_ctime_ns:
                old = dataclasses.replace(old, change=None)
            new = _Override(
                creation=creation if creation is not None else old.creation,
                change=change if change is not None else old.change,
                change_valid_at_ctime_ns=st.st_ctime_ns,
            )
            self._entries[key] = new
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def forget(self, key: Key) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def apply(self, info: FileInfo, st: os.stat_result) -> FileInfo:
        """``info`` (made from ``st``) with the times a client set, where still valid."""
        with self._lock:
            found = self._entries.get((st.st_dev, st.st_ino))
        if found is None:
            return info
        if found.creation is not None:
            info = dataclasses.replace(info, creation_time=found.creation)
        if found.change is not None and found.change_valid_at_ctime_ns == st.st_ctime_ns:
            info = dataclasses.replace(info, change_time=found.change)
        return info
