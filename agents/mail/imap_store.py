"""An account's IMAP folders on disk: Maildir++ (INBOX is the Maildir, ``Trash`` is ``.Trash``).

Flags live in the Maildir file name (``<key>:2,FS``), so POP3 and IMAP share
one truth; the UIDs IMAP needs are kept per folder in ``imap-uids``
(UIDVALIDITY, the next UID, then ``uid key`` lines), rewritten atomically when
a scan finds new or vanished messages. Every method blocks (file system):
the server calls them in a thread, one folder at a time under its lock.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from peerwork.atomic import atomic_write_text, fsync_dir
from peerwork.errors import AlreadyExists, InvalidInput, NotFound

from .maildir import SUBDIRS, locate
from .spool import new_id

UID_FILE = "imap-uids"
SUBSCRIPTIONS = "subscriptions"
DELIMITER = "."
# Flag <-> Maildir info letter (the letters must stay in ASCII order in a name).
LETTERS = {
    "\\Draft": "D",
    "\\Flagged": "F",
    "$Forwarded": "P",
    "\\Answered": "R",
    "\\Seen": "S",
    "\\Deleted": "T",
}
FLAG_OF = {letter: flag for flag, letter in LETTERS.items()}
SPECIAL = {"Sent": "\\Sent", "Trash": "\\Trash", "Drafts": "\\Drafts", "Junk": "\\Junk"}
DEFAULT_FOLDERS = ("Sent", "Trash", "Drafts")

_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def folder_lock(root: Path) -> threading.Lock:
    """One lock per folder for the whole agent: sessions of one account share folders."""
    with _locks_guard:
        return _locks.setdefault(root, threading.Lock())


@dataclass(frozen=True, slots=True)
class Entry:
    """One message of a folder as last scanned."""

    uid: int
    key: str
    path: Path
    flags: frozenset[str]
    size: int
    mtime: float
    fresh: bool = False  # found in new/ by this scan (IMAP's \Recent)


def flags_of(name: str) -> frozenset[str]:
    _, sep, info = name.partition(":2,")
    return frozenset(FLAG_OF[c] for c in info if c in FLAG_OF) if sep else frozenset()


def info_of(flags: Iterable[str]) -> str:
    return ":2," + "".join(sorted(LETTERS[f] for f in flags if f in LETTERS))


class Folder:
    """One Maildir (``new/``, ``cur/``, ``tmp/``) with its UIDs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lock = folder_lock(root)
        self.uidvalidity = 0
        self.next_uid = 1
        self._uids: dict[str, int] = {}

    def _load(self) -> None:
        path = self.root / UID_FILE
        self._uids = {}
        try:
            lines = path.read_text("utf-8").splitlines()
        except FileNotFoundError:
            lines = []
        try:
            head = lines[0].split() if lines else []
            self.uidvalidity = int(head[0][1:]) if head else 0
            self.next_uid = int(head[1][1:]) if head else 1
            for line in lines[1:]:
                uid, key = line.split(" ", 1)
                self._uids[key] = int(uid)
        except (ValueError, IndexError):
            # A damaged list: start a new UID epoch rather than reuse UIDs wrongly.
            self.uidvalidity, self.next_uid, self._uids = 0, 1, {}
        if self.uidvalidity == 0:
            self.uidvalidity = int(time.time()) & 0xFFFFFFFF or 1

    def _save(self) -> None:
        body = "".join(f"{uid} {key}\n" for key, uid in self._uids.items())
        atomic_write_text(
            self.root / UID_FILE, f"V{self.uidvalidity} N{self.next_uid}\n{body}", 0o600
        )

    def scan(self, *, take_new: bool = False) -> list[Entry]:
        """The messages by UID; ``take_new`` moves ``new/`` into ``cur/`` (a read-write SELECT)."""
        with self.lock:
            return self._scan(take_new)

    def _scan(self, take_new: bool) -> list[Entry]:
        self._load()
        found: dict[str, tuple[Path, os.stat_result]] = {}
        fresh: set[str] = set()
        for sub in ("new", "cur"):
            folder = self.root / sub
            with contextlib.suppress(FileNotFoundError):
                for item in os.scandir(folder):
                    if item.name.startswith("."):
                        continue
                    with contextlib.suppress(FileNotFoundError):
                        path = Path(item.path)
                        if sub == "new":
                            fresh.add(item.name.split(":", 1)[0])
                        if sub == "new" and take_new:
                            target = self.root / "cur" / (item.name + ":2,")
                            path.rename(target)
                            path = target
                        found[item.name.split(":", 1)[0]] = (path, path.stat())
        changed = len(found) != len(self._uids) or any(k not in self._uids for k in found)
        for key in sorted(k for k in found if k not in self._uids):
            self._uids[key] = self.next_uid
            self.next_uid += 1
        self._uids = {k: u for k, u in self._uids.items() if k in found}
        if changed:
            self._save()
        entries = [
            Entry(
                uid,
                key,
                found[key][0],
                flags_of(found[key][0].name),
                *_size_time(found[key][1]),
                fresh=key in fresh,
            )
            for key, uid in self._uids.items()
        ]
        return sorted(entries, key=lambda e: e.uid)

    def stamp(self) -> tuple[int, ...]:
        """Changes when a message arrives, goes or is renamed (the folders' mtimes)."""
        stamps = []
        for sub in ("new", "cur"):
            try:
                stamps.append((self.root / sub).stat().st_mtime_ns)
            except FileNotFoundError:
                stamps.append(0)
        return tuple(stamps)

    def set_flags(self, entry: Entry, flags: frozenset[str]) -> Entry | None:
        """Rename the file to carry ``flags`` (a ``new/`` message moves to ``cur/``).
        None: the message is gone (expunged or deleted over POP3 meanwhile)."""
        kept = frozenset(f for f in flags if f in LETTERS)
        target = self.root / "cur" / (entry.key + info_of(kept))
        with self.lock:
            current = self._current(entry)
            if current is None:
                return None
            if target != current:
                current.rename(target)
        return replace(entry, path=target, flags=kept)

    def _current(self, entry: Entry) -> Path | None:
        """Where the message is now: another session may have changed its flags."""
        return locate(self.root, entry.key, entry.path)

    def current(self, entry: Entry) -> Entry | None:
        """``entry`` with its path and flags as they are on disk now."""
        with self.lock:
            path = self._current(entry)
        if path is None:
            return None
        return replace(entry, path=path, flags=flags_of(path.name))

    def add(self, source: Path | bytes, flags: Iterable[str], mtime: float | None) -> int:
        """A new message (APPEND, COPY) from a file or bytes, fsynced; its UID.

        The source file is hard-linked where it can be (COPY within a home)."""
        key = new_id(time.time())
        tmp = self.root / "tmp" / key
        if isinstance(source, bytes):
            with tmp.open("xb") as out:
                out.write(source)
                out.flush()
                os.fsync(out.fileno())
        else:
            try:
                os.link(source, tmp)
            except OSError:
                shutil.copyfile(source, tmp)
                with tmp.open("rb") as done:
                    os.fsync(done.fileno())
        if mtime is not None:
            os.utime(tmp, (mtime, mtime))
        target = self.root / "cur" / (key + info_of(flags))
        tmp.rename(target)
        fsync_dir(target.parent)
        with self.lock:
            self._scan(False)
            return self._uids[key]

    def remove(self, entry: Entry) -> None:
        with self.lock:
            path = self._current(entry)
            if path is not None:
                path.unlink(missing_ok=True)

    def status(self) -> tuple[list[Entry], int, int]:
        """Entries, UIDVALIDITY and the next UID, without touching ``new/``."""
        with self.lock:
            entries = self._scan(False)
            return entries, self.uidvalidity, self.next_uid


def _size_time(st: os.stat_result) -> tuple[int, float]:
    return st.st_size, st.st_mtime


def check_name(name: str) -> str:
    """A folder name that maps safely to ``.Name``: no path tricks, no empty levels."""
    if name == "INBOX":
        return name
    bad = any(c in name for c in "/\\*%\x00") or not name.isprintable()
    parts = name.split(DELIMITER)
    if bad or any(p in ("", "..") or p.startswith("~") for p in parts) or len(name) > 200:
        raise InvalidInput(f"bad folder name {name!r}")
    if parts[0].upper() == "INBOX":
        raise InvalidInput("folders below INBOX are not supported; create them at the top")
    return name


class Mailboxes:
    """The folders of one account: ``root`` is its Maildir (INBOX)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def ensure(self) -> None:
        for sub in SUBDIRS:
            (self.root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        for name in DEFAULT_FOLDERS:
            if not self._path(name).is_dir():
                self.create(name)

    def _path(self, name: str) -> Path:
        return self.root if name == "INBOX" else self.root / ("." + check_name(name))

    def folder(self, name: str) -> Folder:
        path = self._path(name)
        if not (path / "cur").is_dir():
            raise NotFound(f"no folder {name!r}")
        return Folder(path)

    def names(self) -> list[str]:
        found = ["INBOX"]
        with contextlib.suppress(FileNotFoundError):
            for item in sorted(os.scandir(self.root), key=lambda i: i.name):
                folder = item.name.startswith(".") and item.name not in (".", "..")
                if folder and item.is_dir() and (Path(item.path) / "cur").is_dir():
                    found.append(item.name[1:])
        return found

    def create(self, name: str) -> None:
        path = self._path(name)
        if name == "INBOX" or path.exists():
            raise AlreadyExists(f"folder {name!r} exists")
        for sub in SUBDIRS:
            (path / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        (path / "maildirfolder").touch()
        fsync_dir(self.root)
        self.subscribe(name, True)

    def delete(self, name: str) -> None:
        if name == "INBOX":
            raise InvalidInput("INBOX cannot be deleted")
        path = self._path(name)
        if not path.is_dir():
            raise NotFound(f"no folder {name!r}")
        if any(n.startswith(name + DELIMITER) for n in self.names()):
            raise InvalidInput(f"folder {name!r} has subfolders")
        shutil.rmtree(path)
        fsync_dir(self.root)

    def rename(self, old: str, new: str) -> None:
        source, target = self._path(old), self._path(new)
        if old == "INBOX":
            raise InvalidInput("renaming INBOX is not supported")
        if not source.is_dir():
            raise NotFound(f"no folder {old!r}")
        if target.exists():
            raise AlreadyExists(f"folder {new!r} exists")
        source.rename(target)
        fsync_dir(self.root)
        subscribed = self.subscribed()
        if old in subscribed:
            self.subscribe(old, False)
            self.subscribe(new, True)

    def subscribed(self) -> list[str]:
        try:
            lines = (self.root / SUBSCRIPTIONS).read_text("utf-8").splitlines()
        except FileNotFoundError:
            return ["INBOX"]
        return [line for line in lines if line]

    def subscribe(self, name: str, on: bool) -> None:
        names = [n for n in self.subscribed() if n != name]
        if on:
            names.append(name)
        atomic_write_text(self.root / SUBSCRIPTIONS, "".join(n + "\n" for n in names), 0o600)
