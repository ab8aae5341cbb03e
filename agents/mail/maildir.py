"""Maildir mailboxes under ``$PEERWORK_HOME/mail/<account>/Maildir``.

Delivery is idempotent by message id: a message's Maildir name is its queue
id, and it is hard-linked into ``new/`` (link fails if the name is there), so a
delivery repeated after a crash finds it delivered and adds nothing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from peerwork.atomic import fsync_dir

SUBDIRS = ("tmp", "new", "cur")


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message of a mailbox: ``uid`` is its Maildir name without the ``:2,`` flags."""

    uid: str
    path: Path
    size: int


class Maildir:
    def __init__(self, root: Path) -> None:
        self.root = root

    def ensure(self) -> None:
        for sub in SUBDIRS:
            (self.root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)

    def has(self, uid: str) -> bool:
        if (self.root / "new" / uid).exists():
            return True
        cur = self.root / "cur"
        return (cur / uid).exists() or any(cur.glob(f"{uid}:*"))

    def deliver(self, source: Path, uid: str) -> bool:
        """Put ``source`` into ``new/`` as ``uid`` (fsynced). False: it was there already.
        Blocking: run in a thread."""
        self.ensure()
        if self.has(uid):
            return False
        target = self.root / "new" / uid
        try:
            os.link(source, target)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            self._copy(source, target)
        fsync_dir(target.parent)
        return True

    def _copy(self, source: Path, target: Path) -> None:
        """Across file systems: copy into tmp/, fsync, then link into new/ (Maildir's way)."""
        tmp = self.root / "tmp" / target.name
        with source.open("rb") as src, tmp.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
        try:
            os.link(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def messages(self) -> list[StoredMessage]:
        """new/ and cur/, oldest delivery first (queue ids sort by arrival)."""
        found = []
        for sub in ("new", "cur"):
            folder = self.root / sub
            if not folder.is_dir():
                continue
            for entry in os.scandir(folder):
                with contextlib.suppress(FileNotFoundError):
                    if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                        continue
                    uid = entry.name.split(":", 1)[0]
                    found.append(StoredMessage(uid, Path(entry.path), entry.stat().st_size))
        return sorted(found, key=lambda m: m.uid)

    def locate(self, message: StoredMessage) -> Path | None:
        """Where ``message`` is now: an IMAP client may have moved it to ``cur/`` or
        changed its flags (its name) since it was listed."""
        return locate(self.root, message.uid, message.path)

    def remove(self, message: StoredMessage) -> None:
        path = self.locate(message)
        if path is not None:
            path.unlink(missing_ok=True)


def locate(root: Path, key: str, hint: Path) -> Path | None:
    """The file of message ``key`` in the Maildir ``root`` (``hint``: where it last was)."""
    if hint.exists():
        return hint
    for candidate in (root / "new" / key, root / "cur" / key):
        if candidate.exists():
            return candidate
    with contextlib.suppress(FileNotFoundError):
        for item in os.scandir(root / "cur"):
            if item.name.split(":", 1)[0] == key:
                return Path(item.path)
    return None


def mailbox_of(mail_root: Path, account: str) -> Maildir:
    return Maildir(mail_root / account / "Maildir")
