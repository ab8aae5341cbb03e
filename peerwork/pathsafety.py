"""Path safety: a share never exposes anything outside its folder.

Two layers, both used by :mod:`peerwork.sharefs` for every open and rename:

* :func:`split_smb_path` is pure syntax. It turns a share-relative SMB path into
  NFC-normalised components, or raises :class:`NtStatusError`:

  - ``OBJECT_PATH_SYNTAX_BAD`` for a ``..`` component (what Samba answers for a
    path climbing above the share; we refuse every ``..``, not only escaping ones);
  - ``OBJECT_NAME_INVALID`` for everything else: a leading separator (absolute
    path) unless the caller allows one, UNC prefixes, drive letters, empty or ``.``
    components, NUL and control characters, ``\\ / * ? " < > | :`` inside a name
    (so every alternate-data-stream spelling; only a trailing ``::$DATA``, the
    default stream, is accepted and dropped), names ending in a dot or a space,
    DOS device names (CON, PRN, AUX, NUL, COM1-9, LPT1-9, CONIN$, CONOUT$, CLOCK$,
    with any extension, any case), lone surrogates, components over 255 UTF-8
    bytes and paths over 4096.

  One trailing separator is tolerated (``dir\\``). Windows sends NFC, macOS NFD:
  both become NFC so they name the same file.

* :class:`ShareRoot` resolves components against the real folder without ever
  leaving it. It holds an ``O_PATH`` descriptor of the share folder and walks
  component by component, each step relative to the previous directory's
  descriptor and opened with ``O_NOFOLLOW`` — so a directory swapped for a
  symlink between a check and an open is refused by the kernel, not by luck.
  A name is looked up exactly first, then case-insensitively (NFC + casefold)
  through :class:`NameIndex`, a per-directory index validated by the directory's
  mtime. Symlinks are followed only when their fully resolved target stays inside
  the share (then the target is walked again from the root, with the same
  rules); anything else is ``ACCESS_DENIED``. That also stops ``/proc``-style
  magic links, whose targets are never inside a share.

Known limits: a mount point or a hard link placed inside the folder by a local
user is served like any other entry (neither can be created over SMB).
"""

# Descriptor-relative calls (dir_fd=, O_PATH walks) have no pathlib equivalent.
# ruff: noqa: PTH115, PTH118, PTH206, PTH208

from __future__ import annotations

import os
import re
import stat
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from peerwork.os_errors import map_os_error, os_errors
from peerwork.proto.ntstatus import NtStatus, NtStatusError

MAX_COMPONENT_BYTES = 255
MAX_PATH_BYTES = 4096
DEFAULT_STREAM_SUFFIX = "::$DATA"
_SEPARATORS = re.compile(r"[\\/]")
_BAD_CHARS = frozenset('\\/*?"<>|:') | frozenset(chr(c) for c in range(32))
_DEVICE_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"}
    | {f"{dev}{n}" for dev in ("COM", "LPT") for n in "123456789\u00b9\u00b2\u00b3"}
)
# Symlinks followed per resolution (Linux allows 40; a share needs far fewer).
_MAX_LINK_DEPTH = 8


def _invalid(detail: str, status: NtStatus = NtStatus.OBJECT_NAME_INVALID) -> NtStatusError:
    return NtStatusError(status, detail)


def is_device_name(name: str) -> bool:
    """True for a DOS device name, with or without extension (``nul.txt``, ``Com1 .x``)."""
    base = name.split(".", 1)[0].rstrip(" ")
    return base.upper() in _DEVICE_NAMES


def check_component(name: str) -> str:
    """Validate one path component and return it NFC-normalised (see module doc)."""
    if name == "..":
        raise _invalid("'..' is not allowed in a share path", NtStatus.OBJECT_PATH_SYNTAX_BAD)
    if name in ("", "."):
        raise _invalid("empty or '.' path component")
    norm = unicodedata.normalize("NFC", name)
    for ch in norm:
        if ch in _BAD_CHARS:
            what = "alternate data streams are not supported" if ch == ":" else "bad character"
            raise _invalid(f"{what}: {ch!r} in {norm!r}")
    if norm[-1] in ". ":
        raise _invalid(f"name {norm!r} ends with a dot or a space")
    if len(norm.encode("utf-8")) > MAX_COMPONENT_BYTES:
        raise _invalid(f"name longer than {MAX_COMPONENT_BYTES} bytes")
    if is_device_name(norm):
        raise _invalid(f"{norm!r} is a reserved device name")
    return norm


def split_smb_path(path: str, *, allow_leading_separator: bool = False) -> tuple[str, ...]:
    """Split a share-relative SMB path into safe NFC components; ``""`` is the root ``()``.

    ``allow_leading_separator`` accepts one leading ``\\`` as "from the share root"
    (rename targets are sent that way by some clients); it never makes a path
    absolute on the server.
    """
    try:
        size = len(path.encode("utf-8"))
    except UnicodeEncodeError:
        raise _invalid("path is not valid Unicode") from None
    if size > MAX_PATH_BYTES:
        raise _invalid(f"path longer than {MAX_PATH_BYTES} bytes")
    if path[:2] in ("\\\\", "//", "\\/", "/\\"):
        raise _invalid("UNC paths are not share-relative")
    if path[:1] in ("\\", "/"):
        if not allow_leading_separator:
            raise _invalid("absolute paths are not share-relative")
        path = path[1:]
    if len(path) >= 2 and path[1] == ":" and path[0].isascii() and path[0].isalpha():
        raise _invalid("drive letters are not share-relative")
    if path[-1:] in ("\\", "/"):
        path = path[:-1]
    if not path:
        return ()
    comps = _SEPARATORS.split(path)
    last = comps[-1]
    if last.upper().endswith(DEFAULT_STREAM_SUFFIX.upper()):
        comps[-1] = last[: -len(DEFAULT_STREAM_SUFFIX)]
    return tuple(check_component(c) for c in comps)


def join_smb_path(parts: Iterable[str]) -> str:
    return "\\".join(parts)


def name_key(name: str) -> str:
    """The case- and normalisation-insensitive key two names must share to be "the same"."""
    return unicodedata.normalize("NFC", name).casefold()


@dataclass(slots=True)
class _DirEntries:
    mtime_ns: int
    stable: bool
    by_key: dict[str, list[str]]


class NameIndex:
    """Case-insensitive name lookup per directory, keyed by (st_dev, st_ino).

    An entry is reused while the directory's mtime is unchanged *and* that mtime
    was already more than ``settle_ns`` old when the directory was read: a change
    inside the same timestamp tick would otherwise go unnoticed (git's "racy
    index" problem). Bounded LRU of ``max_dirs`` directories.
    """

    def __init__(self, max_dirs: int = 512, settle_ns: int = 2_000_000_000) -> None:
        self._max = max_dirs
        self._settle = settle_ns
        self._dirs: OrderedDict[tuple[int, int], _DirEntries] = OrderedDict()
        self._lock = threading.Lock()

    def find(self, dir_fd: int, name: str) -> list[str]:
        """On-disk names in ``dir_fd`` matching ``name`` case-insensitively (sorted)."""
        with os_errors():
            st = os.fstat(dir_fd)
        key = (st.st_dev, st.st_ino)
        with self._lock:
            entry = self._dirs.get(key)
            if entry is not None:
                self._dirs.move_to_end(key)
        if entry is None or not entry.stable or entry.mtime_ns != st.st_mtime_ns:
            entry = self._scan(dir_fd, st.st_mtime_ns)
            with self._lock:
                self._dirs[key] = entry
                while len(self._dirs) > self._max:
                    self._dirs.popitem(last=False)
        return sorted(entry.by_key.get(name_key(name), ()))

    def invalidate(self, dir_fd: int) -> None:
        with os_errors():
            st = os.fstat(dir_fd)
        with self._lock:
            self._dirs.pop((st.st_dev, st.st_ino), None)

    def _scan(self, dir_fd: int, mtime_ns: int) -> _DirEntries:
        with os_errors():
            fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY, dir_fd=dir_fd)
            try:
                names = os.listdir(fd)
            finally:
                os.close(fd)
        by_key: dict[str, list[str]] = {}
        for n in names:
            by_key.setdefault(name_key(n), []).append(n)
        stable = time.time_ns() - mtime_ns > self._settle
        return _DirEntries(mtime_ns, stable, by_key)


@dataclass(slots=True)
class Located:
    """Where a path leads, as descriptors (the caller must :meth:`close` it).

    ``dir_fd``/``name`` is the directory entry the client named (``name`` is None
    for the share root); ``parts`` its share-relative components spelled as on
    disk. ``st`` is its lstat (None: does not exist). When the entry is a symlink
    (inside the share), ``target`` is where it leads; opens act on the target,
    delete and rename on the link itself.
    """

    dir_fd: int
    name: str | None
    parts: tuple[str, ...]
    st: os.stat_result | None
    target: Located | None = None

    @property
    def exists(self) -> bool:
        return self.final.st is not None

    @property
    def final(self) -> Located:
        return self.target if self.target is not None else self

    def open(self, flags: int, mode: int = 0o600) -> int:
        """Open the final object with ``flags`` (never following a symlink)."""
        f = self.final
        with os_errors():
            if f.name is None:
                return os.open(".", flags, dir_fd=f.dir_fd)
            return os.open(f.name, flags | os.O_NOFOLLOW, mode, dir_fd=f.dir_fd)

    def close(self) -> None:
        if self.target is not None:
            self.target.close()
            self.target = None
        if self.dir_fd >= 0:
            os.close(self.dir_fd)
            self.dir_fd = -1


class ShareRoot:
    """The share folder as an ``O_PATH`` descriptor plus the rules to walk under it."""

    def __init__(self, root: Path, index: NameIndex | None = None) -> None:
        with os_errors(f"share folder {root}"):
            # The folder itself, never a symlink standing in its place; what it
            # really is comes from the descriptor, so a swap cannot race the check.
            self.fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            self.real = os.readlink(f"/proc/self/fd/{self.fd}")
        self.index = index or NameIndex()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def locate(self, parts: tuple[str, ...]) -> Located:
        """Resolve checked components (from :func:`split_smb_path`).

        A missing last component is fine (``st`` None, for creation); a missing or
        non-directory intermediate one is ``OBJECT_PATH_NOT_FOUND``; a symlink
        leaving the share is ``ACCESS_DENIED``.
        """
        return self._walk(parts, exact=False, depth=0)

    def _walk(self, parts: tuple[str, ...], *, exact: bool, depth: int) -> Located:
        if depth > _MAX_LINK_DEPTH:
            raise _invalid("too many symbolic links", NtStatus.ACCESS_DENIED)
        with os_errors():
            fd = os.dup(self.fd)
        if not parts:
            with os_errors():
                root_st = os.fstat(fd)
            return Located(fd, None, (), root_st)
        real_parts: list[str] = []  # the current directory, relative to the real root
        seen: list[str] = []  # the current directory as the client named it
        try:
            for i, comp in enumerate(parts):
                last = i == len(parts) - 1
                name, st = self._lookup(fd, comp, exact)
                if st is None:
                    if last:
                        return Located(fd, name, (*seen, name), None)
                    raise _invalid(f"{comp!r} not found", NtStatus.OBJECT_PATH_NOT_FOUND)
                if stat.S_ISLNK(st.st_mode):
                    target_parts = self._link_target(fd, name, real_parts)
                    target = self._walk(target_parts, exact=True, depth=depth + 1)
                    if last:
                        return Located(fd, name, (*seen, name), st, target)
                    try:
                        if target.st is None or not stat.S_ISDIR(target.st.st_mode):
                            raise _invalid("link is not a folder", NtStatus.OBJECT_PATH_NOT_FOUND)
                        newfd = target.open(os.O_PATH | os.O_DIRECTORY)
                    finally:
                        target.close()
                    real_parts = list(target_parts)
                else:
                    if last:
                        return Located(fd, name, (*seen, name), st)
                    if not stat.S_ISDIR(st.st_mode):
                        raise _invalid(f"{name!r} is not a folder", NtStatus.OBJECT_PATH_NOT_FOUND)
                    try:
                        newfd = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                    except OSError:
                        # Swapped for a symlink or removed since the lstat: refuse.
                        raise _invalid(
                            f"{name!r} changed while resolving", NtStatus.OBJECT_PATH_NOT_FOUND
                        ) from None
                    real_parts.append(name)
                os.close(fd)
                fd = newfd
                seen.append(name)
        except BaseException:
            os.close(fd)
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _lookup(self, dir_fd: int, comp: str, exact: bool) -> tuple[str, os.stat_result | None]:
        try:
            return comp, os.stat(comp, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise map_os_error(exc) from exc
        if exact:
            return comp, None
        for name in self.index.find(dir_fd, comp):
            try:
                return name, os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise map_os_error(exc) from exc
        return comp, None

    def _link_target(self, dir_fd: int, name: str, real_parts: list[str]) -> tuple[str, ...]:
        """Components (from the real root) of where a symlink leads, if inside the share."""
        with os_errors():
            link = os.readlink(name, dir_fd=dir_fd)
        where = os.path.realpath(os.path.join(self.real, *real_parts, link))
        if where == self.real:
            return ()
        prefix = self.real.rstrip(os.sep) + os.sep
        if not where.startswith(prefix):
            raise _invalid(f"{name!r} points outside the share", NtStatus.ACCESS_DENIED)
        return tuple(p for p in where[len(prefix) :].split(os.sep) if p)


_DEFAULT_INDEX = NameIndex()


def resolve_in_share(root: Path, parts: tuple[str, ...] | list[str]) -> Path:
    """The real path (symlinks inside the share followed) that ``parts`` names under ``root``.

    ``parts`` must come from :func:`split_smb_path`. The last component may be
    missing (the path it would be created at is returned). Raises NtStatusError
    as :meth:`ShareRoot.locate` does. The returned Path is for display and
    tests: opening it again by name re-opens the race this module closes, so the
    file store itself works with :class:`ShareRoot` descriptors.
    """
    share = ShareRoot(root, _DEFAULT_INDEX)
    try:
        loc = share.locate(tuple(parts))
        try:
            final = loc.final
            base = Path(share.real)
            return base.joinpath(*_real_parts(share, final)) if final.parts else base
        finally:
            loc.close()
    finally:
        share.close()


def _real_parts(share: ShareRoot, loc: Located) -> tuple[str, ...]:
    """Real on-disk components of a located entry: its parent directory's real path + name."""
    if loc.name is None:
        return ()
    with os_errors():
        parent = os.readlink(f"/proc/self/fd/{loc.dir_fd}")
    if parent == share.real:
        rel: tuple[str, ...] = ()
    else:
        prefix = share.real.rstrip(os.sep) + os.sep
        if not parent.startswith(prefix):
            raise _invalid("resolved outside the share", NtStatus.ACCESS_DENIED)
        rel = tuple(parent[len(prefix) :].split(os.sep))
    return (*rel, loc.name)
