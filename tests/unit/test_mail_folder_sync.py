"""Group commit of the queue folders' fsyncs: shared, and never too early."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from peerwork.agents.mail.folder_sync import FolderSync


class Recorded(FolderSync):
    """Real folder fsyncs, with a gate to hold one in progress."""

    def __init__(self, folders: list[Path]) -> None:
        super().__init__(folders)
        self.gate = threading.Event()
        self.gate.set()
        self.started = 0

    def _fsync(self) -> None:
        self.started += 1
        assert self.gate.wait(5)
        super()._fsync()


async def test_sessions_finishing_together_share_one_fsync(tmp_path: Path) -> None:
    sync = Recorded([tmp_path])
    await asyncio.gather(*(sync.sync() for _ in range(20)))
    assert sync.syncs == 2  # the first caller's round, then one for the 19 who queued


async def test_a_caller_arriving_during_a_round_waits_for_the_next(tmp_path: Path) -> None:
    """B's renames may have happened after round 1 began: round 1 must not release B."""
    sync = Recorded([tmp_path])
    sync.gate.clear()
    first = asyncio.create_task(sync.sync())
    while sync.started == 0:  # noqa: ASYNC110  (the round runs in a thread)
        await asyncio.sleep(0.001)
    second = asyncio.create_task(sync.sync())
    await asyncio.sleep(0.05)
    assert not first.done() and not second.done()
    sync.gate.set()
    await first
    await second
    assert sync.started == 2 and sync.syncs == 2


async def test_a_failed_fsync_is_the_callers_error_and_the_next_caller_retries(
    tmp_path: Path,
) -> None:
    sync = FolderSync([tmp_path / "gone"])
    with pytest.raises(OSError):
        await sync.sync()
    (tmp_path / "gone").mkdir()
    await sync.sync()
    assert sync.syncs == 1
