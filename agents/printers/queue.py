"""The agent's print jobs: the in-memory book over the spool, and the worker that
hands pending jobs to their printer's backend.

Every state change goes through :func:`jobs.step` and is saved to the spool
(in a thread, under a per-job lock so saves of one job never interleave)
before anyone is told about it; only "processing" is not saved, as a job
found processing after a crash is printed again anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable

from peerwork.config.printers import PrintersSection

from .backends import Backend, BackendDown, backend_for
from .commit import MAX_JOURNALLED, GroupCommit, Journal
from .jobs import Job, JobEvent, JobStateError, step
from .spool import Spool, Upload

log = logging.getLogger("peerwork.printers")
RETRY_DOWN = 10.0  # seconds before a job whose backend was down is tried again
# Finished jobs are pruned in steps of this many beyond ``history``: each prune first
# checkpoints the journal (a pruned job must never come back from it after a crash).
PRUNE_STEP = 64


class JobBook:
    """Jobs by id, saved in ``spool``; ``clock`` is injected for tests."""

    def __init__(
        self,
        spool: Spool,
        settings: PrintersSection,
        clock: Callable[[], float] = time.time,
        prune_step: int = PRUNE_STEP,
    ) -> None:
        self.spool, self.settings, self.clock = spool, settings, clock
        self.prune_step = prune_step
        self.jobs: dict[int, Job] = {}
        self.next_id = 1
        self.wakeup = asyncio.Event()
        self._retry_at: dict[int, float] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._paused: set[str] = set()  # printer names, lower case
        self._active_by_client: Counter[str] = Counter()
        self.journal = Journal(spool.root)
        self.group = GroupCommit(self.journal)

    def load(self) -> None:
        now = self.clock()
        self.spool.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.journal.recover()
        for job in self.spool.load():
            if job.state.name == "PROCESSING":
                job = step(job, JobEvent.RESTART, now, "the agent restarted while printing")
                self.spool.save(job)
            self._put(job)
        self.next_id = max(self.jobs, default=0) + 1
        self._paused = self.spool.paused()
        self.journal.open()
        self.wakeup.set()

    async def close(self) -> None:
        """Checkpoint and close the journal (a clean stop leaves it empty)."""
        await self.group.close()

    def is_paused(self, printer: str) -> bool:
        return printer.lower() in self._paused

    async def set_paused(self, printer: str, paused: bool) -> None:
        """Pause (jobs are taken but wait) or resume a printer; kept across restarts."""
        names = self._paused | {printer.lower()} if paused else self._paused - {printer.lower()}
        if names != self._paused:
            await asyncio.to_thread(self.spool.save_paused, names)
            self._paused = names
        self.wakeup.set()

    def new_id(self) -> int:
        job_id, self.next_id = self.next_id, self.next_id + 1
        return job_id

    def active(self) -> list[Job]:
        return [j for j in self.jobs.values() if not j.finished]

    def active_count(self) -> int:
        return sum(self._active_by_client.values())

    def per_client(self) -> Counter[str]:
        """Unfinished jobs by client address (kept up to date, not counted per request)."""
        return self._active_by_client

    def _put(self, job: Job) -> None:
        """Every change to ``jobs`` goes here or through _forget, keeping the counts."""
        self._forget(job.id)
        self.jobs[job.id] = job
        if not job.finished:
            self._active_by_client[job.client] += 1

    def _forget(self, job_id: int) -> None:
        old = self.jobs.pop(job_id, None)
        if old is not None and not old.finished:
            self._active_by_client[old.client] -= 1
            if not self._active_by_client[old.client]:
                del self._active_by_client[old.client]

    def _lock(self, job_id: int) -> asyncio.Lock:
        return self._locks.setdefault(job_id, asyncio.Lock())

    async def _save(self, job: Job, upload: Upload | None = None) -> None:
        # Off the event loop, in one thread trip: concurrent jobs' fsyncs overlap (the
        # journal commits them together) and other clients are answered meanwhile.
        await asyncio.to_thread(self._commit, job, upload)

    def _commit(self, job: Job, upload: Upload | None) -> None:
        if upload is not None:
            upload.finish_sync(sync_dir=False)  # the job file's folder fsync covers it
        self.spool.save(job)
        if job.finished:
            self.spool.drop_document(job.id)

    async def add(self, job: Job, upload: Upload | None = None) -> None:
        """A new job, saved first; ``upload``: its document, made durable with it (a small
        one in a group commit with the jobs arriving at the same time)."""
        small = upload.take_small(MAX_JOURNALLED) if upload is not None else None
        async with self._lock(job.id):
            if small is not None:
                await self.group.commit(job, small)
            else:
                await self._save(job, upload)
            self._put(job)
        await self._after(job)

    async def apply(
        self, job_id: int, event: JobEvent, message: str = "", *, durable: bool = True
    ) -> Job:
        """Step the job and save it; raises JobStateError (and changes nothing) if illegal.
        ``durable=False`` for a state a crash may lose (processing: it restarts as pending)."""
        async with self._lock(job_id):
            job = step(self.jobs[job_id], event, self.clock(), message)
            if durable:
                await self._save(job)
            self._put(job)
        await self._after(job)
        return job

    async def _after(self, job: Job) -> None:
        if job.finished:
            self._locks.pop(job.id, None)
            if pruned := self._prune():
                await self.group.checkpoint()
                # Unlinks cost a journal write each: off the event loop, like the saves.
                await asyncio.to_thread(self.spool.remove_all, pruned)
        if job.state.name == "PENDING" and job.has_document:
            self.wakeup.set()

    async def document_spooled(self, job_id: int, size: int, fmt: str) -> Job:
        """The job's document is durable in the spool: record its size and format, then step."""
        async with self._lock(job_id):
            job = self.jobs[job_id]
            job = step(
                dataclasses.replace(job, size=size, format=fmt), JobEvent.DOCUMENT, self.clock()
            )
            await self._save(job)
            self._put(job)
        await self._after(job)
        return job

    def for_printer(self, printer: str) -> Iterable[Job]:
        return (j for j in self.jobs.values() if j.printer == printer)

    def _prune(self) -> list[int]:
        """Forget the oldest finished jobs beyond ``history``; their ids, to remove from disk."""
        finished = sorted((j for j in self.jobs.values() if j.finished), key=lambda j: j.id)
        if len(finished) <= self.settings.history + self.prune_step - 1:
            return []
        gone = [j.id for j in finished[: len(finished) - self.settings.history]]
        for job_id in gone:
            self._forget(job_id)
        return gone

    async def expire_incoming(self) -> None:
        """Abort jobs whose document never came (Create-Job without Send-Document)."""
        limit = self.clock() - self.settings.incoming_timeout
        for job in self.active():
            if not job.has_document and job.created < limit:
                with contextlib.suppress(JobStateError):
                    await self.apply(job.id, JobEvent.TIMEOUT, "no document arrived for this job")

    async def run(self) -> None:
        """Deliver pending jobs one at a time, oldest first, for as long as the service runs."""
        while True:
            await self.expire_incoming()
            job = self._next_ready()
            if job is None:
                self.wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), 1.0)
                continue
            await self._deliver(job)

    def _next_ready(self) -> Job | None:
        now = self.clock()
        ready = [
            j
            for j in self.active()
            if j.has_document
            and j.state.name == "PENDING"
            and self._retry_at.get(j.id, 0.0) <= now
            and not self.is_paused(j.printer)
        ]
        return min(ready, key=lambda j: j.id, default=None)

    async def _deliver(self, job: Job) -> None:
        printer = self.settings.find(job.printer)
        try:
            job = await self.apply(job.id, JobEvent.START, durable=False)
        except JobStateError:
            return
        try:
            if printer is None:
                raise BackendDown(f"printer {job.printer} is no longer shared")
            backend: Backend = backend_for(printer.backend)
            await backend.deliver(job, self.spool.document(job.id))
        except BackendDown as exc:
            self._retry_at[job.id] = self.clock() + RETRY_DOWN
            log.warning("printers: job %d waits: %s", job.id, exc)
            await self._apply_if_current(job, JobEvent.DEFER, str(exc))
        except Exception as exc:
            log.warning("printers: job %d aborted: %s", job.id, exc)
            await self._apply_if_current(job, JobEvent.FAIL, str(exc))
        else:
            self._retry_at.pop(job.id, None)
            await self._apply_if_current(job, JobEvent.FINISH)

    async def _apply_if_current(self, job: Job, event: JobEvent, message: str = "") -> None:
        # Cancel-Job may have ended the job while the backend had it.
        if job.id in self.jobs and not self.jobs[job.id].finished:
            with contextlib.suppress(JobStateError):
                await self.apply(job.id, event, message)
