"""The queue runner: hands each queued message to its recipients' mailboxes.

It resumes whatever the queue holds at start (a crash or kill -9 left it
there) and is woken for each new message. Where a mailbox lives is asked of
``locate`` (the home book, :mod:`.homes`): a mailbox on this PC gets the
message linked into its Maildir, one on another PC gets it through ``send``
(the channel hand-off, :mod:`.handoff`), and an address of another domain
through ``relay`` (the smarthost, :mod:`.outbound`). A recipient is marked
delivered only once its copy is durable where it lives (or the smarthost took
it); whatever fails waits for a retry, with the reason for ``peerwork mail
queue`` to show. Recipients refused for good, or still waiting when the entry
expires, are reported to the sender by ``bounce``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from peerwork.errors import PeerworkError

from . import queue_state
from .errors import DestinationDown
from .homes import Home, HomeKind
from .maildir import mailbox_of
from .outbound import RelayResult
from .queue_state import DEFAULT_TIMING, EntryState, Event, QueueEntry, Timing
from .spool import Spool

log = logging.getLogger("peerwork.mail.queue")

# Hand ``recipients`` of an entry to their home PC; the ones who have it there now.
Send = Callable[[Home, QueueEntry, tuple[str, ...]], Awaitable[tuple[str, ...]]]
# Send an entry to addresses of other domains through the smarthost.
Relay = Callable[[QueueEntry, tuple[str, ...]], Awaitable[RelayResult]]


def everyone_here(account: str) -> Home:
    """A post office on its own: every mailbox lives on this PC."""
    del account
    return Home(HomeKind.LOCAL)


async def _nothing() -> None:
    return None


# Deliveries at once, and entries in flight (most of them waiting for a destination).
PARALLEL = 4
IN_FLIGHT = 32


class QueueRunner:
    def __init__(
        self,
        spool: Spool,
        mail_root: Path,
        *,
        locate: Callable[[str], Home] = everyone_here,
        send: Send | None = None,
        relay: Relay | None = None,
        bounce: Callable[[QueueEntry], Awaitable[object]] | None = None,
        before_pass: Callable[[], Awaitable[None]] = _nothing,
        timing: Timing = DEFAULT_TIMING,
        clock: Callable[[], float] = time.time,
        parallel: int = PARALLEL,
    ) -> None:
        """``send``: the hand-off to other PCs (None: their mail waits); ``relay``:
        the smarthost (None: mail for other domains waits); ``bounce``: queue the
        DSN for a finished entry's failures; ``before_pass``: run before each pass
        over the queue (learning homes)."""
        self.spool = spool
        self.mail_root = mail_root
        self.locate = locate
        self.send = send
        self.relay = relay
        self.bounce = bounce
        self.before_pass = before_pass
        self.timing = timing
        self.clock = clock
        self._wake = asyncio.Event()
        # The first pass tries every entry, due or not: whatever it waited for (a home PC,
        # a full disk) may have come back while the agent was down.
        self._force = True
        self.delivered = 0  # messages finished since start
        # Destinations found down in the current pass ("peer:<id>", "smarthost"): why.
        self._down: dict[str, str] = {}
        self._slots = asyncio.Semaphore(parallel)
        self._destinations: dict[str, asyncio.Lock] = {}
        self._busy: dict[str, asyncio.Task[QueueEntry]] = {}
        # The earliest retry of entries finished since the last pass, and whether a
        # pass left due entries for later (IN_FLIGHT reached): both need a new look.
        self._later: float | None = None
        self._left_due = False

    def wake(self) -> None:
        self._wake.set()

    def retry_all(self) -> None:
        """Try every waiting entry now, due or not (``peerwork mail retry``)."""
        self._force = True
        self._wake.set()

    async def run(self) -> None:
        """Forever: start delivering what is due, then sleep until woken (new mail, an
        entry finished) or the next retry. Cancelled: cancels the deliveries in flight
        (each is idempotent, the next run resumes them)."""
        try:
            while True:
                self._wake.clear()
                force, self._force = self._force, False
                _, next_try = await self._pass(force=force)
                next_try = _earliest(next_try, self._later)
                self._later = None
                delay = max(0.0, next_try - self.clock()) if next_try is not None else None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
        finally:
            busy = list(self._busy.values())
            for task in busy:
                task.cancel()
            await asyncio.gather(*busy, return_exceptions=True)

    async def deliver_due(self, *, force: bool = False) -> float | None:
        """One pass over the queue (``force``: every waiting entry, due or not), waiting
        for its deliveries; returns when the earliest deferred entry is due."""
        started, earliest = await self._pass(force=force)
        for entry in await asyncio.gather(*started):
            if entry.state is EntryState.QUEUED:
                earliest = _earliest(earliest, entry.next_try)
        return earliest

    async def _pass(self, *, force: bool) -> tuple[list[asyncio.Task[QueueEntry]], float | None]:
        """Start a task for each due entry not already in flight; the tasks, and the
        earliest retry among the entries left waiting."""
        try:
            await self.before_pass()
        except Exception:
            log.exception("mail: preparing a queue pass failed")
        entries = await asyncio.to_thread(self.spool.entries)
        self._down = {}
        self._left_due = False
        earliest: float | None = None
        started = []
        for entry in entries:
            if entry.id in self._busy or entry.state is not EntryState.QUEUED:
                continue
            if not (entry.due(self.clock()) or force):
                earliest = _earliest(earliest, entry.next_try)
            elif len(self._busy) >= IN_FLIGHT:
                self._left_due = True  # started when a slot frees
            else:
                started.append(self._start(entry))
        return started, earliest

    def submit(self, entry: QueueEntry) -> None:
        """Deliver ``entry`` (just queued) now, without a pass over the whole queue; when
        too many are in flight, the next pass takes it."""
        if entry.id in self._busy:
            return
        if len(self._busy) >= IN_FLIGHT:
            self._left_due = True
            self._wake.set()
            return
        self._start(entry)

    def _start(self, entry: QueueEntry) -> asyncio.Task[QueueEntry]:
        task = asyncio.create_task(self._in_flight(entry), name=f"mail-{entry.id}")
        self._busy[entry.id] = task
        return task

    async def _in_flight(self, entry: QueueEntry) -> QueueEntry:
        try:
            entry = await self._deliver(entry)
        except Exception:
            # Unexpected: the entry stays on disk as it was and is tried at the next pass.
            log.exception("mail %s: delivery failed", entry.id)
            self._later = _earliest(self._later, self.clock() + self.timing.first_retry)
            self._wake.set()
            return entry
        finally:
            self._busy.pop(entry.id, None)
        if entry.state is EntryState.QUEUED:
            self._later = _earliest(self._later, entry.next_try)
            self._wake.set()
        elif self._left_due:
            self._wake.set()
        return entry

    @contextlib.asynccontextmanager
    async def _slot(self, destination: str | None = None) -> AsyncIterator[None]:
        """A delivery slot; with ``destination``, that destination's turn first."""
        if destination is None:
            async with self._slots:
                yield
            return
        lock = self._destinations.setdefault(destination, asyncio.Lock())
        async with lock, self._slots:
            yield

    async def _deliver(self, entry: QueueEntry) -> QueueEntry:
        remote: dict[str, tuple[Home, list[str]]] = {}
        problems: list[str] = []
        outside = tuple(r for r in entry.pending if "@" in r)
        for account in entry.pending:
            if "@" in account:
                continue
            home = self.locate(account)
            if home.kind is HomeKind.REMOTE:
                remote.setdefault(home.peer_id, (home, []))[1].append(account)
                continue
            try:
                async with self._slot():
                    await asyncio.to_thread(self._deliver_here, entry.id, account)
            except OSError as exc:
                problems.append(f"{account}: {exc}")
                continue
            entry = self._step(entry, queue_state.Delivered(account))
        for home, accounts in remote.values():
            entry, problem = await self._hand_off(entry, home, tuple(accounts))
            if problem:
                problems.append(problem)
        if outside:
            entry, problem = await self._relay(entry, outside)
            if problem:
                problems.append(problem)
        if problems and entry.state is EntryState.QUEUED:
            reason = "; ".join(problems)
            entry = self._step(entry, queue_state.Deferred(reason))
            log.warning("mail %s deferred: %s", entry.id, reason)
        if entry.state is EntryState.QUEUED:
            await asyncio.to_thread(self.spool.save, entry)
            return entry
        if entry.state is EntryState.EXPIRED:
            log.error("mail %s expired undelivered: %s", entry.id, entry.last_error)
        if (entry.failed or entry.state is EntryState.EXPIRED) and self.bounce is not None:
            try:
                await self.bounce(entry)
            except OSError as exc:
                # The entry stays (as it is) for `mail queue` to show; nothing is lost.
                log.error("mail %s: cannot queue its bounce: %s", entry.id, exc)
                await asyncio.to_thread(self.spool.save, entry)
                return entry
        await asyncio.to_thread(self.spool.remove, entry.id)
        if entry.state is EntryState.DONE:
            self.delivered += 1
            log.info("mail %s delivered to %s", entry.id, ", ".join(entry.delivered) or "nobody")
        return entry

    def _step(self, entry: QueueEntry, event: Event) -> QueueEntry:
        return queue_state.step(entry, event, self.clock(), self.timing)

    async def _relay(self, entry: QueueEntry, outside: tuple[str, ...]) -> tuple[QueueEntry, str]:
        """The entry after sending it to ``outside`` addresses, and what waits if anything."""
        names = ", ".join(outside)
        if self.relay is None:
            return entry, f"{names}: no smarthost is configured"
        async with self._slot("smarthost"):
            if "smarthost" in self._down:
                return entry, f"{names}: {self._down['smarthost']}"
            try:
                result = await self.relay(entry, outside)
            except DestinationDown as exc:
                self._down["smarthost"] = str(exc)
                return entry, f"{names}: {exc}"
            except (PeerworkError, OSError) as exc:
                return entry, f"{names}: {exc}"
        for recipient in result.accepted:
            entry = self._step(entry, queue_state.Delivered(recipient))
        for recipient, reply in result.failed:
            entry = self._step(entry, queue_state.Failed(recipient, reply))
            log.warning("mail %s to %s refused by the smarthost: %s", entry.id, recipient, reply)
        if result.accepted:
            log.info("mail %s relayed for %s", entry.id, ", ".join(result.accepted))
        return entry, "; ".join(f"{r}: {reply}" for r, reply in result.deferred)

    async def _hand_off(
        self, entry: QueueEntry, home: Home, accounts: tuple[str, ...]
    ) -> tuple[QueueEntry, str]:
        """The entry after handing ``accounts`` to ``home``, and what went wrong if anything."""
        names = ", ".join(accounts)
        if self.send is None:
            return entry, f"{names}: home PC {home.name} (no channel to hand it over)"
        where = f"{names}: home PC {home.name or home.peer_id}"
        key = f"peer:{home.peer_id}"
        async with self._slot(key):
            if key in self._down:
                return entry, f"{where}: {self._down[key]}"
            try:
                done = await self.send(home, entry, accounts)
            except DestinationDown as exc:
                self._down[key] = str(exc)
                return entry, f"{where}: {exc}"
            except (PeerworkError, OSError) as exc:
                return entry, f"{where}: {exc}"
        for account in done:
            entry = self._step(entry, queue_state.Delivered(account))
        left = [a for a in accounts if a not in done]
        if left:
            return entry, f"{', '.join(left)}: home PC {home.name} did not take it"
        log.info("mail %s handed to %s for %s", entry.id, home.name, names)
        return entry, ""

    def _deliver_here(self, msg_id: str, account: str) -> None:
        mailbox_of(self.mail_root, account).deliver(self.spool.data_path(msg_id), msg_id)


def _earliest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)
