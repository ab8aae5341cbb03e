"""The queue runner: hands each queued message to its recipients' mailboxes.

It resumes whatever the queue holds at start (a crash or kill -9 left it
there) and is woken for each new message. Where a mailbox lives is asked of
``locate`` (the home book, :mod:`.homes`): a mailbox on this PC gets the
message linked into its Maildir, one on another PC gets it through ``send``
(the channel hand-off, :mod:`.handoff`). A recipient is marked delivered only
once its copy is durable where it lives; whatever fails waits for a retry,
with the reason for ``peerwork mail queue`` to show.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from peerwork.errors import PeerworkError

from . import queue_state
from .homes import Home, HomeKind
from .maildir import mailbox_of
from .queue_state import EntryState, QueueEntry
from .spool import Spool

log = logging.getLogger("peerwork.mail.queue")

# Hand ``recipients`` of an entry to their home PC; the ones who have it there now.
Send = Callable[[Home, QueueEntry, tuple[str, ...]], Awaitable[tuple[str, ...]]]


def everyone_here(account: str) -> Home:
    """A post office on its own: every mailbox lives on this PC."""
    del account
    return Home(HomeKind.LOCAL)


async def _nothing() -> None:
    return None


class QueueRunner:
    def __init__(
        self,
        spool: Spool,
        mail_root: Path,
        *,
        locate: Callable[[str], Home] = everyone_here,
        send: Send | None = None,
        before_pass: Callable[[], Awaitable[None]] = _nothing,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``send``: the hand-off to other PCs (None: their mail waits);
        ``before_pass``: run before each pass over the queue (learning homes)."""
        self.spool = spool
        self.mail_root = mail_root
        self.locate = locate
        self.send = send
        self.before_pass = before_pass
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
        try:
            await self.before_pass()
        except Exception:
            log.exception("mail: preparing a queue pass failed")
        entries = await asyncio.to_thread(self.spool.entries)
        earliest: float | None = None
        for entry in entries:
            if entry.due(self.clock()) or (force and entry.state is EntryState.QUEUED):
                entry = await self._deliver(entry)
            if entry.state is EntryState.QUEUED:
                earliest = entry.next_try if earliest is None else min(earliest, entry.next_try)
        return earliest

    async def _deliver(self, entry: QueueEntry) -> QueueEntry:
        remote: dict[str, tuple[Home, list[str]]] = {}
        problems: list[str] = []
        for account in entry.pending:
            home = self.locate(account)
            if home.kind is HomeKind.REMOTE:
                remote.setdefault(home.peer_id, (home, []))[1].append(account)
                continue
            try:
                await asyncio.to_thread(self._deliver_here, entry.id, account)
            except OSError as exc:
                problems.append(f"{account}: {exc}")
                continue
            entry = queue_state.step(entry, queue_state.Delivered(account), self.clock())
        for home, accounts in remote.values():
            entry, problem = await self._hand_off(entry, home, tuple(accounts))
            if problem:
                problems.append(problem)
        if problems and entry.state is EntryState.QUEUED:
            reason = "; ".join(problems)
            entry = queue_state.step(entry, queue_state.Deferred(reason), self.clock())
            log.warning("mail %s deferred: %s", entry.id, reason)
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

    async def _hand_off(
        self, entry: QueueEntry, home: Home, accounts: tuple[str, ...]
    ) -> tuple[QueueEntry, str]:
        """The entry after handing ``accounts`` to ``home``, and what went wrong if anything."""
        names = ", ".join(accounts)
        if self.send is None:
            return entry, f"{names}: home PC {home.name} (no channel to hand it over)"
        try:
            done = await self.send(home, entry, accounts)
        except (PeerworkError, OSError) as exc:
            return entry, f"{names}: home PC {home.name or home.peer_id}: {exc}"
        for account in done:
            entry = queue_state.step(entry, queue_state.Delivered(account), self.clock())
        left = [a for a in accounts if a not in done]
        if left:
            return entry, f"{', '.join(left)}: home PC {home.name} did not take it"
        log.info("mail %s handed to %s for %s", entry.id, home.name, names)
        return entry, ""

    def _deliver_here(self, msg_id: str, account: str) -> None:
        mailbox_of(self.mail_root, account).deliver(self.spool.data_path(msg_id), msg_id)
