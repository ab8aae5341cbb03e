"""The durable queue on disk: ``$PEERWORK_HOME/mail/queue``.

Layout: ``incoming/<id>`` while a message is received (never a queue entry),
``data/<id>`` its bytes once complete and fsynced, ``env/<id>.json`` its
envelope and :class:`QueueEntry` state. An entry exists exactly when its
envelope does, and the envelope is written (atomically) only after the data
is on disk — so a crash at any moment leaves either no entry or a whole one.
Leftovers of a crash (incoming files, data without envelope) are swept at start.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
from pathlib import Path

from peerwork.atomic import atomic_write_text, fsync_dir

from .queue_state import QueueEntry

log = logging.getLogger("peerwork.mail.queue")


def new_id(now: float) -> str:
    """Unique, sortable by arrival, and safe as a file name and a Maildir name."""
    return f"{int(now)}.{secrets.token_hex(8)}"


class Incoming:
    """One message being received: bytes go straight to disk, never held whole."""

    def __init__(self, folder: Path, msg_id: str) -> None:
        self.id = msg_id
        self.path = folder / msg_id
        self._file = self.path.open("xb")
        self.size = 0

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self.size += len(data)

    def finish(self) -> None:
        """Flush and fsync: after this the bytes survive a crash (blocking: run in a thread)."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class Spool:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.incoming = root / "incoming"
        self.data = root / "data"
        self.env = root / "env"

    def prepare(self) -> None:
        """Make the folders and sweep what a crash left half-done."""
        for folder in (self.incoming, self.data, self.env):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for leftover in self.incoming.iterdir():
            leftover.unlink(missing_ok=True)
        for tmp in self.env.glob(".*"):
            tmp.unlink(missing_ok=True)
        # Data and envelope are made durable together before the 250 (see commit): one
        # without the other is a message that was never acknowledged.
        envelopes = {p.stem for p in self.env.glob("*.json")}
        datas = {p.name for p in self.data.iterdir()}
        for name in datas - envelopes:
            log.info("mail queue: dropping %s, received but never acknowledged", name)
            (self.data / name).unlink(missing_ok=True)
        for name in envelopes - datas:
            log.info("mail queue: dropping the envelope of %s, never acknowledged", name)
            (self.env / f"{name}.json").unlink(missing_ok=True)

    def receive(self, msg_id: str) -> Incoming:
        return Incoming(self.incoming, msg_id)

    def commit(self, incoming: Incoming, entry: QueueEntry) -> None:
        """Make ``incoming`` (already finished) a queue entry. Blocking: run in a thread.
        When this returns the message is durable and may be acknowledged."""
        self.stage(incoming, entry)
        # Both renames first, then both folders: on a journalling file system the first
        # folder fsync commits both renames and the second finds little left to do.
        fsync_dir(self.data)
        fsync_dir(self.env)

    def stage(self, incoming: Incoming, entry: QueueEntry) -> None:
        """:meth:`commit` but the folder fsyncs: the caller must fsync :attr:`folders`
        (:class:`.folder_sync.FolderSync`, shared by concurrent sessions) before the
        message counts as accepted. Blocking: run in a thread."""
        incoming.path.replace(self.data / entry.id)
        tmp = self.env / f".{entry.id}.json"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, json.dumps(entry.to_json()).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        # The incoming folder's side need not be durable (swept at start).
        tmp.replace(self.env / f"{entry.id}.json")

    @property
    def folders(self) -> tuple[Path, Path]:
        """The folders a staged entry's renames went into."""
        return (self.data, self.env)

    def save(self, entry: QueueEntry) -> None:
        atomic_write_text(self.env / f"{entry.id}.json", json.dumps(entry.to_json()), mode=0o600)

    def data_path(self, msg_id: str) -> Path:
        return self.data / msg_id

    def remove(self, msg_id: str) -> None:
        """A finished entry goes: envelope first, so a crash leaves only sweepable data."""
        (self.env / f"{msg_id}.json").unlink(missing_ok=True)
        fsync_dir(self.env)
        (self.data / msg_id).unlink(missing_ok=True)

    def entries(self) -> list[QueueEntry]:
        """Every entry on disk, oldest first; a damaged envelope is logged and skipped."""
        found = []
        for path in sorted(self.env.glob("*.json")):
            try:
                found.append(QueueEntry.from_json(json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, TypeError, KeyError) as exc:
                log.error("mail queue: cannot read %s (%s); left in place", path.name, exc)
        return found
