"""Prove "nothing changed on disk": snapshot a folder tree before and after an operation.

    before = snapshot(share_dir)
    ...refused operation...
    assert_unchanged(share_dir, before)

A snapshot records, for every entry under the folder (symlinks not followed):
its type, mode, size, mtime, and a SHA-256 of file contents or a symlink's
target. Access times are left out (reads may update them). Pass
``include_mtime_of_root=False`` when the root folder's own mtime may change for
reasons outside the test.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Entry:
    kind: str
    mode: int
    size: int
    mtime_ns: int
    digest: str


Snapshot = dict[str, Entry]


def _digest_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _entry(p: Path, *, include_mtime: bool = True) -> Entry:
    st = p.lstat()
    if stat.S_ISLNK(st.st_mode):
        kind, digest = "link", str(p.readlink())
    elif stat.S_ISDIR(st.st_mode):
        kind, digest = "dir", ""
    elif stat.S_ISREG(st.st_mode):
        kind, digest = "file", _digest_file(p)
    else:
        kind, digest = "other", ""
    size = 0 if kind == "dir" else st.st_size
    return Entry(kind, st.st_mode, size, st.st_mtime_ns if include_mtime else 0, digest)


def snapshot(root: Path | str, *, include_mtime_of_root: bool = True) -> Snapshot:
    """Everything about ``root``'s tree that a write, create, delete or rename would change."""
    root = Path(root)
    out: Snapshot = {".": _entry(root, include_mtime=include_mtime_of_root)}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        for name in (*dirnames, *filenames):
            p = base / name
            out[str(p.relative_to(root))] = _entry(p)
    return out


def diff(before: Snapshot, after: Snapshot) -> list[str]:
    """Human-readable differences (empty when the trees are the same)."""
    lines = [f"removed: {k}" for k in sorted(before.keys() - after.keys())]
    lines += [f"added: {k}" for k in sorted(after.keys() - before.keys())]
    lines += [
        f"changed: {k}: {before[k]} -> {after[k]}"
        for k in sorted(before.keys() & after.keys())
        if before[k] != after[k]
    ]
    return lines


def assert_unchanged(root: Path | str, before: Snapshot, **kwargs: bool) -> None:
    changes = diff(before, snapshot(root, **kwargs))
    assert not changes, "the tree changed:\n" + "\n".join(changes)
