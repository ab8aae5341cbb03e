"""The queue runner: hands each queued message to its recipients' mailboxes.

It resumes whatever the queue holds at start (a crash or kill -9 left it
there) and is woken for each new message. Where a mailbox lives is asked of
:func:`home_of`; today every account's home is this PC, and the peer-channel
hand-off will be the REMOTE branch of :meth:`QueueRunner._deliver_one`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import queue_state
from .maildir import mailbox_of
from .queue_state import EntryState, QueueEntry
from .spool import Spool

log = logging.getLogger("peerwork.mail.queue")


class HomeKind(enum.Enum):
    LOCAL = "local"
    REMOTE = "remote"


@dataclass(frozen=True, slots=True)
class Home:
    """Where ``account``'s mailbox lives: this PC, or the peer with ``peer_id``."""

    kind: HomeKind
    peer_id: str = ""


def home_of(account: str) -> Home:
    """Every account's home is this PC until discovery carries the signed home list."""
    del account
    return Home(HomeKind.LOCAL)


class QueueRunner:
    def __init__(
        self,
        spool: Spool,
        mail_root: Path,
        *,
        locate: Callable[[str], Home] = home_of,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spool = spool
        self.mail_root = mail_root
        self.locate = locate
        self.clock = clock
        self._wake = asyncio.Event()
        # The first pass tries every entry, due or not: whatever it waited for (a home PC,
        # a full disk) may have come back while the agent was down.
        self._force = True
        self.delivered = 0  # messages finished since start

    def wake(self) -> None:
        self._wake.set()

    def retry_all(self) -> None:
        """Try every waiting entry now, due or not (``peerwork mail retry``)."""
        self._force = True
        self._wake.set()

    async def run(self) -> None:
        """Forever: deliver what is due, then sleep until woken or the next retry."""
        while True:
            self._wake.clear()
            force, self._force = self._force, False
            next_try = await self.deliver_due(force=force)
            delay = max(0.0, next_try - self.clock()) if next_try is not None else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def deliver_due(self, *, force: bool = False) -> float | None:
        """One pass over the queue (``force``: every waiting entry, due or not); returns
        when the earliest deferred entry is due."""
        entries = await asyncio.to_thread(self.spool.entries)
        earliest: float | None = None
        for entry in entries:
            if entry.due(self.clock()) or (force and entry.state is EntryState.QUEUED):
                entry = await self._deliver(entry)
            if entry.state is EntryState.QUEUED:
                earliest = entry.next_try if earliest is None else min(earliest, entry.next_try)
        return earliest

    async def _deliver(self, entry: QueueEntry) -> QueueEntry:
        for account in entry.pending:
            try:
                await asyncio.to_thread(self._deliver_one, entry.id, account)
            except OSError as exc:
                entry = queue_state.step(entry, queue_state.Deferred(str(exc)), self.clock())
                log.warning("mail %s to %s deferred: %s", entry.id, account, exc)
                break
            entry = queue_state.step(entry, queue_state.Delivered(account), self.clock())
        if entry.state is EntryState.DONE:
            await asyncio.to_thread(self.spool.remove, entry.id)
            self.delivered += 1
            log.info("mail %s delivered to %s", entry.id, ", ".join(entry.recipients))
        elif entry.state is EntryState.EXPIRED:
            # No bounce yet (issue 17, outbound): the entry stays for `mail queue` to show.
            await asyncio.to_thread(self.spool.save, entry)
            log.error("mail %s expired undelivered: %s", entry.id, entry.last_error)
        else:
            await asyncio.to_thread(self.spool.save, entry)
        return entry

    def _deliver_one(self, msg_id: str, account: str) -> None:
        home = self.locate(account)
        if home.kind is not HomeKind.LOCAL:
            raise OSError(f"{account}'s home PC is {home.peer_id}: hand-off not built yet")
        mailbox_of(self.mail_root, account).deliver(self.spool.data_path(msg_id), msg_id)
