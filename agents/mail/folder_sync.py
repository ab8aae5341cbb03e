"""Group commit of folder fsyncs: one fsync of the queue folders for every message
whose files were renamed into them before it began.

An accepted message needs its renames (into ``data/`` and ``env/``) durable before
its 250; the folders' fsyncs are the same work for every message, so sessions that
finish DATA within the same few milliseconds share one. A caller's renames are done
before it asks (:meth:`FolderSync.sync`), and a sync covers every ticket issued
before it started, so nobody is answered before its own renames are on disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from peerwork.atomic import fsync_dir


class FolderSync:
    def __init__(self, folders: Sequence[Path]) -> None:
        self.folders = tuple(folders)
        self._issued = 0  # renames announced
        self._durable = 0  # renames covered by a finished fsync
        self._lock = asyncio.Lock()
        self.syncs = 0  # fsync rounds done (for tests and status)

    async def sync(self) -> None:
        """Return once the folders are fsynced after this call began (raises OSError if
        the fsync failed; the next caller tries again)."""
        self._issued += 1
        ticket = self._issued
        async with self._lock:
            if self._durable >= ticket:
                return  # a round that began after our renames covered them
            covered = self._issued
            await asyncio.to_thread(self._fsync)
            self._durable = covered
            self.syncs += 1

    def _fsync(self) -> None:
        for folder in self.folders:
            fsync_dir(folder)
