"""Group commit: small print jobs made durable together, one ``fdatasync`` per batch.

A Print-Job whose document stayed in memory is appended (job and document, one
record) to ``spool/journal``; all the jobs that arrived while the previous
batch was being synced go in the next one, and every one of them is
answered only after the journal is synced (as Postfix's queue and database
logs commit). Each job's ``<id>.doc`` and ``<id>.json`` are then written
beside it *without* fsync, so the rest of the spool works as before.

A checkpoint (after ``CHECKPOINT_IDLE`` seconds without jobs, when the
journal passes ``CHECKPOINT_BYTES``, before finished jobs are pruned, and at
stop) fsyncs the files written since the last one and empties the journal.
After a crash, :meth:`Journal.recover` rewrites from the journal every job
whose files did not become durable, so nothing acknowledged is lost, and a
torn record at the tail (never acknowledged) is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from peerwork.atomic import fsync_dir
from peerwork.proto.spool_journal import pack_record, parse_records

from .jobs import Job

log = logging.getLogger("peerwork.printers")
JOURNAL = "journal"
CHECKPOINT_BYTES = 8 * 1024 * 1024
CHECKPOINT_IDLE = 1.0  # seconds without a new job before the files are synced
MAX_JOURNALLED = 1024 * 1024  # larger documents take the streamed path


def _write_plain(path: Path, data: bytes) -> None:
    """Write ``path`` whole by rename, not synced (the journal covers it)."""
    tmp = path.with_name(f".{path.name}.journal.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    tmp.replace(path)


def _fsync_path(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return  # dropped or pruned since: its job was saved durably before that
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """The spool's journal file (blocking calls: run them off the event loop)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / JOURNAL
        self.size = 0
        self._fd: int | None = None
        self._unsynced: set[Path] = set()

    def recover(self) -> int:
        """Rewrite, durably, every journalled job whose files were lost; empty the journal.
        Returns how many jobs were rewritten. Call before the spool is loaded."""
        for tmp in self.root.glob(".*.journal.tmp"):  # a write cut short by the crash
            tmp.unlink(missing_ok=True)
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return 0
        records, _ = parse_records(data)
        rewritten = 0
        for record in records:
            try:
                job = Job.from_json(record.job)
            except (ValueError, TypeError, KeyError):
                continue
            doc, meta = self.root / f"{job.id}.doc", self.root / f"{job.id}.json"
            try:
                current = Job.from_json(json.loads(meta.read_text()))
            except (OSError, ValueError, TypeError, KeyError):
                current = None
            if current is None:
                _write_plain(doc, record.document)
                _write_plain(meta, json.dumps(job.to_json()).encode())
                self._unsynced |= {doc, meta}
                rewritten += 1
            elif current.has_document and not current.finished:
                size = doc.stat().st_size if doc.exists() else -1
                if size != len(record.document):
                    _write_plain(doc, record.document)
                    self._unsynced.add(doc)
                    rewritten += 1
        self._sync_files()
        self.path.unlink()
        fsync_dir(self.root)
        if rewritten:
            log.warning("spool: %d job(s) restored from the journal after a crash", rewritten)
        return rewritten

    def open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.size = os.fstat(self._fd).st_size
        fsync_dir(self.root)  # the journal itself must survive a crash

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @property
    def dirty(self) -> bool:
        return self.size > 0 or bool(self._unsynced)

    def commit(self, batch: list[tuple[Job, bytes]]) -> None:
        """Append ``batch`` and sync it; then write each job's files. On any failure the
        journal is cut back to where it was and the batch's files are removed: a job
        is either acknowledged and durable, or refused and gone."""
        if self._fd is None:
            raise RuntimeError("journal not open")
        fd, before = self._fd, self.size
        data = b"".join(pack_record(job.to_json(), doc) for job, doc in batch)
        written: list[Path] = []
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fdatasync(fd)
            for job, doc in batch:
                for path, content in (
                    (self.root / f"{job.id}.doc", doc),
                    (self.root / f"{job.id}.json", json.dumps(job.to_json()).encode()),
                ):
                    _write_plain(path, content)
                    written.append(path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, before)
                os.fdatasync(fd)
            for path in written:
                with contextlib.suppress(OSError):
                    path.unlink()
            raise
        self.size = before + len(data)
        self._unsynced.update(written)

    def checkpoint(self) -> None:
        """Make every file written since the last checkpoint durable, then empty the journal."""
        if self._fd is None or not self.dirty:
            return
        self._sync_files()
        os.ftruncate(self._fd, 0)
        os.fdatasync(self._fd)
        self.size = 0

    def _sync_files(self) -> None:
        if self._unsynced:
            # In parallel: the filesystem's journal commits concurrent fsyncs together.
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(_fsync_path, sorted(self._unsynced)))
            fsync_dir(self.root)
            self._unsynced.clear()


class GroupCommit:
    """Batches concurrent commits into one journal sync; checkpoints when idle or asked."""

    def __init__(self, journal: Journal, idle: float = CHECKPOINT_IDLE) -> None:
        self.journal, self.idle = journal, idle
        self._pending: list[tuple[Job, bytes, asyncio.Future[None]]] = []
        self._checkpoint_waiters: list[asyncio.Future[None]] = []
        self._checkpoint_due = False  # wanted with nobody waiting (idle, size)
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    async def commit(self, job: Job, document: bytes) -> None:
        """Return once ``job`` and ``document`` are durable (raises OSError if not)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((job, document, future))
        self._kick()
        await future

    async def checkpoint(self) -> None:
        if not self.journal.dirty and not self._pending:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._checkpoint_waiters.append(future)
        self._kick()
        await future

    async def close(self) -> None:
        """Checkpoint what is left (a clean stop leaves an empty journal), then close."""
        if self._timer is not None:
            self._timer.cancel()
        with contextlib.suppress(Exception):
            await self.checkpoint()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        self.journal.close()

    def _kick(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="printers group commit")

    async def _drain(self) -> None:
        while self._pending or self._checkpoint_waiters or self._checkpoint_due:
            if self._checkpoint_waiters or self._checkpoint_due:
                waiters, self._checkpoint_waiters = self._checkpoint_waiters, []
                self._checkpoint_due = False
                await _settle(waiters, asyncio.to_thread(self.journal.checkpoint))
                continue
            batch, self._pending = self._pending, []
            await _settle(
                [f for _, _, f in batch],
                asyncio.to_thread(self.journal.commit, [(j, d) for j, d, _ in batch]),
            )
            if self.journal.size > CHECKPOINT_BYTES:
                self._checkpoint_due = True
        if self.journal.dirty:
            self._timer = asyncio.get_running_loop().call_later(self.idle, self._on_idle)

    def _on_idle(self) -> None:
        self._timer = None
        self._checkpoint_due = True
        self._kick()


async def _settle(futures: list[asyncio.Future[None]], work: Awaitable[None]) -> None:
    try:
        await work
    except Exception as exc:
        log.warning("spool: journal commit failed: %s", exc)
        for f in futures:
            if not f.done():
                f.set_exception(exc)
    else:
        for f in futures:
            if not f.done():
                f.set_result(None)
