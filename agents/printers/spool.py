"""The print spool on disk: ``$PEERWORK_HOME/spool/<id>.json`` (the job) and ``<id>.doc``.

A document is streamed into ``<id>.part``, never held whole in memory, and
is fsynced and renamed to ``<id>.doc`` before the job that names it is
written; every job file is written atomically (its folder fsync also makes
the document's rename durable). So after a crash the spool holds whole jobs
only: a ``.part``, or a ``.doc`` without its job file, is an upload nobody
was told succeeded, and is removed on load.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from pathlib import Path

from peerwork.atomic import atomic_write_text, fsync_dir
from peerwork.errors import PeerworkError

from .jobs import Job

log = logging.getLogger("peerwork.printers")
PAUSED_FILE = "paused.txt"  # not *.json: load() reads those as jobs


class DocumentTooLarge(PeerworkError):
    """The document passed the size limit; nothing of it is kept."""

    code = "document-too-large"
    http_status = 413


class Spool:
    def __init__(self, root: Path) -> None:
        self.root = root

    def load(self) -> list[Job]:
        """Every job on disk; unreadable job files are logged and set aside."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Uploads and atomic writes a crash cut short (SIGKILL mid-rename leaves a
        # ``.<name>.tmp``): nobody was answered for them, and nothing else would remove them.
        for part in [*self.root.glob("*.part"), *self.root.glob(".*.tmp")]:
            part.unlink(missing_ok=True)
        jobs = []
        for doc in self.root.glob("*.doc"):
            # A document whose job file never became durable: nobody was told of it.
            if not doc.with_suffix(".json").exists():
                doc.unlink(missing_ok=True)
        for path in sorted(self.root.glob("*.json")):
            try:
                jobs.append(Job.from_json(json.loads(path.read_text())))
            except (OSError, ValueError, TypeError, KeyError) as exc:
                log.warning("spool: %s unreadable (%s); renamed to .bad", path.name, exc)
                path.replace(path.with_suffix(".bad"))
        return jobs

    def paused(self) -> set[str]:
        """Printers paused (Pause-Printer) when the agent last ran: one name a line."""
        try:
            return {n for n in (self.root / PAUSED_FILE).read_text().split("\n") if n}
        except FileNotFoundError:
            return set()

    def save_paused(self, names: set[str]) -> None:
        atomic_write_text(self.root / PAUSED_FILE, "".join(f"{n}\n" for n in sorted(names)), 0o600)

    def save(self, job: Job) -> None:
        atomic_write_text(self.root / f"{job.id}.json", json.dumps(job.to_json()), 0o600)

    def remove_all(self, job_ids: list[int]) -> None:
        for job_id in job_ids:
            self.remove(job_id)

    def remove(self, job_id: int) -> None:
        for suffix in (".doc", ".json", ".part"):
            (self.root / f"{job_id}{suffix}").unlink(missing_ok=True)

    def drop_document(self, job_id: int) -> None:
        (self.root / f"{job_id}.doc").unlink(missing_ok=True)

    def document(self, job_id: int) -> Path:
        return self.root / f"{job_id}.doc"

    def upload(self, job_id: int, limit: int) -> Upload:
        return Upload(self.root / f"{job_id}.part", self.document(job_id), limit)


class Upload:
    """One document being received; ``finish`` makes it durable, ``abort`` removes it.

    The first ``BUFFER`` bytes are kept in memory, so a small document costs
    one trip to a thread (create, write, fsync, rename) and never blocks the
    event loop; a larger one is written on to the ``.part`` file as it comes.
    """

    BUFFER = 1024 * 1024

    def __init__(self, part: Path, final: Path, limit: int) -> None:
        self.part, self.final, self.limit = part, final, limit
        self.size = 0
        self._buffer = bytearray()
        self._fd: int | None = None
        self._opened = False
        self._closed = False

    def write(self, chunk: bytes) -> None:
        if self._closed:
            raise RuntimeError("upload already closed")
        self.size += len(chunk)
        if self.size > self.limit:
            self.abort()
            raise DocumentTooLarge(f"document larger than {self.limit // (1024 * 1024)} MiB")
        if self._fd is None and len(self._buffer) + len(chunk) <= self.BUFFER:
            self._buffer += chunk
            return
        self._write_out(chunk)

    def _write_out(self, chunk: bytes) -> None:
        if self._fd is None:
            self._fd = os.open(self.part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            self._opened = True
        for data in (self._buffer, chunk):
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
        self._buffer = bytearray()

    async def finish(self, *, sync_dir: bool = True) -> None:
        """Make the document durable. ``sync_dir=False`` when a job file is written into the
        same folder right after (its folder fsync makes this rename durable too)."""
        await asyncio.to_thread(self.finish_sync, sync_dir)

    def finish_sync(self, sync_dir: bool = True) -> None:
        """``finish`` for a caller already off the event loop."""
        if self._closed:
            raise RuntimeError("upload already closed")
        self._write_out(b"")
        fd, self._fd, self._closed = self._fd, None, True
        if fd is None:
            raise RuntimeError("upload file not opened")
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self.part.replace(self.final)
        if sync_dir:
            fsync_dir(self.final.parent)

    def take_small(self, limit: int) -> bytes | None:
        """The whole document, if it stayed in memory and is at most ``limit`` bytes: the
        upload is then closed and the caller makes the bytes durable (group commit)."""
        if self._fd is not None or self._closed or len(self._buffer) > limit:
            return None
        data, self._buffer, self._closed = bytes(self._buffer), bytearray(), True
        return data

    def abort(self) -> None:
        fd, self._fd, self._closed = self._fd, None, True
        self._buffer = bytearray()
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
        if self._opened:  # kept in memory only: no file (and no directory lookup) to undo
            self.part.unlink(missing_ok=True)  # after finish it is renamed: nothing to do
