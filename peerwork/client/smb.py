"""A small typed SMB client over pysmb, for the CLI's ``ls/get/put/rm/...``.

pysmb's names and exceptions stay inside this module: callers see
:class:`SmbClient`, plain values (:class:`RemoteEntry`, :class:`ShareInfo`)
and :mod:`peerwork.errors` classes whose messages say what to do.

Copies stream in the server's read/write size (at most a few MiB in memory at
once) and resume:

- ``get`` writes ``NAME.part`` beside the destination and renames it when
  complete. A ``.part`` file left by an interrupted run is continued from its
  size if it is not longer than the remote file and its last 64 KiB equal the
  remote bytes at the same place; otherwise it starts over.
- ``put`` writes ``.NAME.peerwork-part`` beside the remote file and, once it
  is complete, replaces ``NAME`` with it, so co-workers never open a half-sent
  file under its real name and an existing file is never mixed with a new
  one. A part file left by an interrupted run is continued under the same
  64 KiB check as ``get``'s.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from smb.base import NotConnectedError, NotReadyError, SMBTimeout
from smb.smb_structs import OperationFailure, ProtocolError
from smb.SMBConnection import SMBConnection

from peerwork.errors import (
    AccessDenied,
    AlreadyExists,
    ConnectFailed,
    InvalidInput,
    LogonFailed,
    NotFound,
    PeerworkError,
)
from peerwork.proto.ntstatus import NtStatus

RESUME_CHECK = 64 * 1024
DEFAULT_TIMEOUT = 30.0

# (bytes done, bytes total) after each chunk.
ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ShareInfo:
    name: str
    comment: str
    kind: str  # "disk", "printer", "ipc", "other"
    special: bool  # administrative/hidden shares such as IPC$


@dataclass(frozen=True, slots=True)
class RemoteEntry:
    name: str
    is_dir: bool
    size: int
    mtime: float  # seconds since the epoch
    read_only: bool


@dataclass(frozen=True, slots=True)
class TransferResult:
    local: Path
    remote: str
    size: int
    transferred: int  # bytes moved in this run
    resumed_from: int  # 0 if started from the beginning


_KINDS = {0: "disk", 1: "printer", 2: "other", 3: "ipc"}

# NTSTATUS → (error class, message template). {what} is the remote thing.
_STATUS_ERRORS: dict[int, tuple[type[PeerworkError], str]] = {
    NtStatus.OBJECT_NAME_NOT_FOUND: (NotFound, "{what}: no such file or folder"),
    NtStatus.OBJECT_PATH_NOT_FOUND: (NotFound, "{what}: a folder on the way does not exist"),
    NtStatus.NO_SUCH_FILE: (NotFound, "{what}: no such file or folder"),
    NtStatus.NOT_FOUND: (NotFound, "{what}: no such file or folder"),
    NtStatus.BAD_NETWORK_NAME: (NotFound, "{what}: no such share on this peer"),
    NtStatus.ACCESS_DENIED: (AccessDenied, "{what}: access denied for {user}"),
    NtStatus.MEDIA_WRITE_PROTECTED: (
        AccessDenied,
        "{what}: access denied, the share is read-only for {user}",
    ),
    NtStatus.OBJECT_NAME_COLLISION: (AlreadyExists, "{what}: already exists"),
    NtStatus.OBJECT_NAME_INVALID: (InvalidInput, "{what}: the server refused this name"),
    NtStatus.OBJECT_PATH_SYNTAX_BAD: (InvalidInput, "{what}: the server refused this path"),
    NtStatus.FILE_IS_A_DIRECTORY: (InvalidInput, "{what}: is a folder, not a file"),
    NtStatus.NOT_A_DIRECTORY: (InvalidInput, "{what}: is a file, not a folder"),
    NtStatus.DIRECTORY_NOT_EMPTY: (InvalidInput, "{what}: the folder is not empty"),
    NtStatus.SHARING_VIOLATION: (PeerworkError, "{what}: the file is in use by someone else"),
    NtStatus.DELETE_PENDING: (PeerworkError, "{what}: the file is being deleted"),
    NtStatus.DISK_FULL: (PeerworkError, "{what}: the peer's disk is full"),
    NtStatus.LOGON_FAILURE: (LogonFailed, "logon failed for {user}: wrong user name or password"),
}


def _status_of(exc: OperationFailure) -> int | None:
    # pysmb keeps the exchange that failed; the answer with an error status
    # nearest the end is the one that explains the failure.
    for msg in reversed(exc.smb_messages):
        status = getattr(msg, "status", 0)
        if isinstance(status, int) and status not in (0, NtStatus.PENDING) and status >> 30 == 3:
            return status
    return None


def _client_name() -> str:
    name = re.sub(r"[^A-Za-z0-9-]", "", socket.gethostname().split(".")[0]).upper()
    return (name or "PEERWORK")[:15]


class _Counting(io.RawIOBase):
    """Counts the bytes pysmb moves through a file and reports progress."""

    def __init__(self, file: IO[bytes], done: int, total: int, progress: ProgressFn | None):
        self._file = file
        self.done = done
        self._total = total
        self._progress = progress

    def _advance(self, n: int) -> None:
        self.done += n
        if self._progress is not None and n:
            self._progress(self.done, self._total)


class _CountingWriter(_Counting):
    """pysmb only calls write() on a download's destination."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        n = self._file.write(data)
        self._advance(n)
        return n


class _CountingReader(_Counting):
    """pysmb only calls read(n) on an upload's source."""

    def __init__(self, src: IO[bytes], done: int, total: int, progress: ProgressFn | None):
        super().__init__(src, done, total, progress)
        self.name = getattr(src, "name", "")

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        self._advance(len(data))
        return data


class SmbClient:
    """One authenticated SMB connection to a peer. Use :meth:`connect`."""

    def __init__(self, conn: SMBConnection, host: str, port: int, user: str, timeout: float):
        self._conn = conn
        self.host = host
        self.port = port
        self.user = user
        self.timeout = timeout

    @property
    def where(self) -> str:
        return self.host if self.port == 445 else f"{self.host}:{self.port}"

    @classmethod
    def connect(
        cls,
        host: str,
        port: int,
        user: str,
        password: str,
        server_name: str | None = None,
        *,
        domain: str = "",
        timeout: float = DEFAULT_TIMEOUT,
        always_sign: bool = False,
    ) -> SmbClient:
        """Connect over direct TCP and log on with NTLMv2.

        SMB2 is used when the server offers it. Messages are signed when the
        server requires it (or always, with ``always_sign``).
        """
        where = host if port == 445 else f"{host}:{port}"
        if not logging.getLogger().isEnabledFor(logging.DEBUG):
            # pysmb narrates every logon at INFO; a CLI user wants one line or none.
            logging.getLogger("SMB").setLevel(logging.WARNING)
        remote = (server_name or host).upper()
        sign = (
            SMBConnection.SIGN_WHEN_SUPPORTED if always_sign else SMBConnection.SIGN_WHEN_REQUIRED
        )
        conn = SMBConnection(
            user,
            password,
            _client_name(),
            remote,
            domain=domain,
            use_ntlm_v2=True,
            sign_options=sign,
            is_direct_tcp=True,
        )
        try:
            ok = conn.connect(host, port, timeout=timeout)
        except ConnectionRefusedError:
            raise ConnectFailed(
                f"cannot connect to {where}: connection refused "
                "(is the peer's file sharing running, and is that the right port?)"
            ) from None
        except (TimeoutError, SMBTimeout):
            conn.close()
            raise ConnectFailed(f"{where} did not answer within {timeout:g} s") from None
        except socket.gaierror:
            raise ConnectFailed(
                f"unknown peer or host '{host}' (not a discovered peer name, "
                "and DNS does not know it)"
            ) from None
        except (OSError, NotConnectedError, ProtocolError) as exc:
            conn.close()
            if not user and isinstance(exc, ProtocolError):
                # peerwork answers ACCESS_DENIED to an anonymous logon no share allows.
                raise LogonFailed(
                    f"{where} refused an anonymous logon: log on with --user"
                ) from None
            raise ConnectFailed(f"cannot talk SMB to {where}: {_brief(exc)}") from None
        if not ok:
            conn.close()
            if not user:
                raise LogonFailed(f"{where} refused an anonymous logon: log on with --user")
            raise LogonFailed(f"logon failed for {user} on {where}: wrong user name or password")
        return cls(conn, host, port, user, timeout)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> SmbClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- errors ---------------------------------------------------------

    def _what(self, share: str, path: str = "") -> str:
        text = f"//{self.where}/{share}"
        return f"{text}/{path}" if path else text

    @contextlib.contextmanager
    def _mapped(self, share: str, path: str = "", action: str = "") -> Iterator[None]:
        what = self._what(share, path)
        try:
            yield
        except OperationFailure as exc:
            status = _status_of(exc)
            if status in _STATUS_ERRORS:
                cls, template = _STATUS_ERRORS[status]
                if status == NtStatus.BAD_NETWORK_NAME:
                    what = f"//{self.where}/{share}"
                raise cls(
                    template.format(what=what, user=self.user or "anonymous logons")
                ) from None
            code = f"0x{status:08X}" if status is not None else "no status"
            raise PeerworkError(f"{what}: {action or 'operation'} failed ({code})") from None
        except (TimeoutError, SMBTimeout):
            raise ConnectFailed(
                f"{self.where} stopped answering (no reply within {self.timeout:g} s)"
            ) from None
        except (OSError, NotConnectedError, NotReadyError, ProtocolError) as exc:
            raise ConnectFailed(f"lost the connection to {self.where}: {_brief(exc)}") from None

    # -- listing ----------------------------------------------------------

    def list_shares(self) -> list[ShareInfo]:
        with self._mapped("IPC$", action="listing shares"):
            shares = self._conn.listShares(timeout=self.timeout)
        out = [
            ShareInfo(
                name=s.name,
                comment=s.comments or "",
                kind=_KINDS.get(s.type, "other"),
                special=bool(s.isSpecial) or s.name.endswith("$"),
            )
            for s in shares
        ]
        return sorted(out, key=lambda s: s.name.casefold())

    def list_dir(self, share: str, path: str = "") -> list[RemoteEntry]:
        with self._mapped(share, path, "listing"):
            entries = self._conn.listPath(share, "/" + path, timeout=self.timeout)
        out = [_entry(e) for e in entries if e.filename not in (".", "..")]
        return sorted(out, key=lambda e: (not e.is_dir, e.name.casefold()))

    def stat(self, share: str, path: str) -> RemoteEntry:
        if not path:
            return RemoteEntry(name="", is_dir=True, size=0, mtime=0.0, read_only=False)
        with self._mapped(share, path, "reading attributes"):
            return _entry(self._conn.getAttributes(share, path, timeout=self.timeout))

    def exists(self, share: str, path: str) -> RemoteEntry | None:
        try:
            return self.stat(share, path)
        except NotFound:
            return None

    # -- copies -----------------------------------------------------------

    def get(
        self,
        share: str,
        path: str,
        local: Path,
        *,
        resume: bool = True,
        progress: ProgressFn | None = None,
    ) -> TransferResult:
        """Copy the remote file to ``local`` (a file path, not a folder)."""
        entry = self.stat(share, path)
        if entry.is_dir:
            raise InvalidInput(f"{self._what(share, path)} is a folder; give a file")
        size = entry.size
        part = local.with_name(local.name + ".part")
        start = self._resume_point_get(share, path, part, size) if resume else 0
        mode = "r+b" if start else "wb"
        with open(part, mode) as f:
            f.truncate(start)
            f.seek(start)
            writer = _CountingWriter(f, start, size, progress)
            if progress is not None:
                progress(start, size)
            if start < size:
                with self._mapped(share, path, "reading"):
                    self._conn.retrieveFileFromOffset(
                        share, path, writer, offset=start, timeout=self.timeout
                    )
            f.flush()
            os.fsync(f.fileno())
            got = f.tell()
        if got != size:
            raise PeerworkError(
                f"{self._what(share, path)}: got {got} of {size} bytes (the file changed "
                f"while copying?); run get again to continue"
            )
        with contextlib.suppress(OSError):
            os.utime(part, (entry.mtime, entry.mtime))
        part.replace(local)
        return TransferResult(local, self._what(share, path), size, size - start, start)

    def _resume_point_get(self, share: str, path: str, part: Path, size: int) -> int:
        try:
            have = part.stat().st_size
        except FileNotFoundError:
            return 0
        if have == 0 or have > size:
            return 0
        check = min(RESUME_CHECK, have)
        with open(part, "rb") as f:
            f.seek(have - check)
            local_tail = f.read(check)
        return have if self._read_range(share, path, have - check, check) == local_tail else 0

    def _read_range(self, share: str, path: str, offset: int, length: int) -> bytes:
        buf = io.BytesIO()
        with self._mapped(share, path, "reading"):
            self._conn.retrieveFileFromOffset(
                share, path, buf, offset=offset, max_length=length, timeout=self.timeout
            )
        return buf.getvalue()

    def put(
        self,
        local: Path,
        share: str,
        path: str,
        *,
        resume: bool = True,
        progress: ProgressFn | None = None,
    ) -> TransferResult:
        """Copy the local file ``local`` to the remote file ``path``."""
        if not local.is_file():
            raise NotFound(
                f"{local}: no such file" if not local.exists() else f"{local}: not a file"
            )
        size = local.stat().st_size
        part = _remote_part(path)
        with open(local, "rb") as f:
            start = self._resume_point_put(share, part, f, size) if resume else 0
            f.seek(start)
            reader = _CountingReader(f, start, size, progress)
            if progress is not None:
                progress(start, size)
            with self._mapped(share, path, "writing"):
                end = self._conn.storeFileFromOffset(
                    share, part, reader, offset=start, truncate=start == 0, timeout=self.timeout
                )
        if end != size:
            raise PeerworkError(
                f"{self._what(share, path)}: wrote up to byte {end} of {size}; "
                "run put again to continue"
            )
        self._replace(share, part, path)
        return TransferResult(local, self._what(share, path), size, size - start, start)

    def _replace(self, share: str, part: str, path: str) -> None:
        """Put the finished part file in place of ``path`` (SMB rename cannot replace)."""
        existing = self.exists(share, path)
        if existing is not None:
            if existing.is_dir:
                raise AlreadyExists(f"{self._what(share, path)} is a folder")
            try:
                with self._mapped(share, path, "replacing"):
                    self._conn.deleteFiles(share, path, timeout=self.timeout)
            except PeerworkError as exc:
                raise PeerworkError(
                    f"{exc.message}; the upload is complete in {part!r} on the peer: "
                    "run put again to finish once the file is closed"
                ) from None
        with self._mapped(share, part, "renaming"):
            self._conn.rename(share, part, path, timeout=self.timeout)

    def _resume_point_put(self, share: str, path: str, f: IO[bytes], size: int) -> int:
        remote = self.exists(share, path)
        if remote is None or remote.is_dir or remote.size == 0 or remote.size > size:
            return 0
        have = remote.size
        check = min(RESUME_CHECK, have)
        f.seek(have - check)
        return have if self._read_range(share, path, have - check, check) == f.read(check) else 0

    # -- changes ----------------------------------------------------------

    def rm(self, share: str, path: str) -> None:
        entry = self.stat(share, path)
        if entry.is_dir:
            raise InvalidInput(f"{self._what(share, path)} is a folder; use rmdir")
        with self._mapped(share, path, "deleting"):
            self._conn.deleteFiles(share, path, timeout=self.timeout)

    def mkdir(self, share: str, path: str) -> None:
        with self._mapped(share, path, "creating the folder"):
            self._conn.createDirectory(share, path, timeout=self.timeout)

    def rmdir(self, share: str, path: str) -> None:
        with self._mapped(share, path, "removing the folder"):
            self._conn.deleteDirectory(share, path, timeout=self.timeout)

    def rename(self, share: str, old: str, new: str) -> None:
        if self.exists(share, new) is not None:
            raise AlreadyExists(f"{self._what(share, new)}: already exists")
        with self._mapped(share, old, "renaming"):
            self._conn.rename(share, old, new, timeout=self.timeout)


def _remote_part(path: str) -> str:
    folder, sep, name = path.replace("/", "\\").rpartition("\\")
    return f"{folder}{sep}.{name}.peerwork-part"


def _entry(e: Any) -> RemoteEntry:
    return RemoteEntry(
        name=str(e.filename),
        is_dir=bool(e.isDirectory),
        size=int(e.file_size),
        mtime=float(e.last_write_time),
        read_only=bool(e.isReadOnly),
    )


def _brief(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text or type(exc).__name__
