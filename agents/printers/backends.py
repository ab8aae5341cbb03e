"""Where a spooled job goes: each backend takes one document file and delivers it.

A backend raises :class:`BackendDown` when trying again later may work (the
job goes back to pending with the reason) and :class:`BackendRefused` when it
never will (the job is aborted with the reason). Either way the reason is
what ``job-state-message`` shows: nothing is dropped silently.

- ``file:DIR``: each job a file in DIR (the virtual "PDF printer").
- ``cups:QUEUE``: handed to a local CUPS queue with ``lp`` (CUPS_SERVER as
  the agent's environment says, else the local cupsd).
- ``socket://HOST:PORT``: raw (AppSocket/JetDirect) printing, the document
  sent as it is, once per copy.
- ``ipp://HOST:PORT/PATH``: forwarded with our own IPP client (Print-Job).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from pathlib import Path
from typing import Protocol

from peerwork.atomic import fsync_dir
from peerwork.client.ipp import PrintError, print_file
from peerwork.config.printers import BackendKind, BackendUri, parse_backend
from peerwork.errors import InvalidInput, PeerworkError

from .jobs import Job

EXTENSIONS = {
    "application/pdf": "pdf",
    "image/pwg-raster": "pwg",
    "image/urf": "urf",
    "image/jpeg": "jpg",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9 ._()+-]+")
CONNECT_TIMEOUT = 10.0  # seconds to reach a network printer
SEND_TIMEOUT = 300.0  # seconds for one job to a network printer or lp
CHUNK = 256 * 1024


class BackendDown(PeerworkError):
    """The backend cannot take jobs right now (folder missing, disk full)."""

    code = "printer-backend-down"


class BackendRefused(PeerworkError):
    """The backend will never take this job."""

    code = "printer-backend-refused"


class Backend(Protocol):
    def describe(self) -> str: ...

    async def deliver(self, job: Job, document: Path) -> None: ...


def job_file_name(job: Job) -> str:
    """``<id>-<title>.<ext>``: the id first, so names sort by arrival and never clash."""
    ext = EXTENSIONS.get(job.format, "bin")
    title = _UNSAFE.sub("_", job.name).strip(" ._")
    title = title.removesuffix(f".{ext}")[:80] or "untitled"  # "report.pdf", not "report.pdf.pdf"
    return f"{job.id:06d}-{title}.{ext}"


class FileBackend:
    """``file:DIR``: each job becomes a file in DIR (the virtual "PDF printer")."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def describe(self) -> str:
        return f"file:{self.folder}"

    async def deliver(self, job: Job, document: Path) -> None:
        await asyncio.to_thread(self._copy, job, document)

    def _copy(self, job: Job, document: Path) -> None:
        if not self.folder.is_dir():
            raise BackendDown(f"folder {self.folder} does not exist")
        target = self.folder / job_file_name(job)
        tmp = self.folder / f".{target.name}.part"
        try:
            with document.open("rb") as src, tmp.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
                dst.flush()
                os.fsync(dst.fileno())
            tmp.replace(target)
            fsync_dir(self.folder)
        except OSError as exc:
            with contextlib.suppress(OSError):  # a read-only folder refuses even this
                tmp.unlink(missing_ok=True)
            raise BackendDown(f"cannot write into {self.folder}: {exc.strerror or exc}") from exc


class SocketBackend:
    """``socket://HOST:PORT``: the document as it is, once per copy, on one connection."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def describe(self) -> str:
        return f"socket://{self.host}:{self.port}"

    async def deliver(self, job: Job, document: Path) -> None:
        where = f"{self.host}:{self.port}"
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                _, writer = await asyncio.open_connection(self.host, self.port)
        except (OSError, TimeoutError) as exc:
            raise BackendDown(f"printer at {where} does not answer: {_why(exc)}") from exc
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                for _ in range(job.copies):
                    with document.open("rb") as f:
                        while chunk := await asyncio.to_thread(f.read, CHUNK):
                            writer.write(chunk)
                            await writer.drain()
                if writer.can_write_eof():
                    writer.write_eof()
                await writer.drain()
        except (OSError, TimeoutError) as exc:
            raise BackendDown(f"printer at {where} broke off: {_why(exc)}") from exc
        finally:
            writer.close()
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    await writer.wait_closed()
            except (OSError, TimeoutError):
                pass


class IppBackend:
    """``ipp://HOST:PORT/PATH``: Print-Job to another IPP printer, as the job's user."""

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def describe(self) -> str:
        return self.uri

    async def deliver(self, job: Job, document: Path) -> None:
        try:
            await asyncio.to_thread(
                print_file,
                self.uri,
                document,
                user=job.user,
                title=job.name or f"job {job.id}",
                copies=job.copies,
                timeout=SEND_TIMEOUT,
                fmt=job.format,
            )
        except PrintError as exc:
            if exc.retry:
                raise BackendDown(f"{self.uri}: {exc.message}") from exc
            raise BackendRefused(f"{self.uri}: {exc.message}") from exc


class CupsBackend:
    """``cups:QUEUE``: ``lp -d QUEUE``; CUPS converts and prints as that queue says."""

    def __init__(self, queue: str) -> None:
        self.queue = queue

    def describe(self) -> str:
        return f"cups:{self.queue}"

    async def deliver(self, job: Job, document: Path) -> None:
        title = _UNSAFE.sub("_", job.name)[:80] or f"job {job.id}"
        argv = ["lp", "-d", self.queue, "-t", title, "-n", str(job.copies), "--", str(document)]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise BackendDown(f"cannot run lp (is cups-client installed?): {_why(exc)}") from exc
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                _, err = await proc.communicate()
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise BackendDown(
                f"lp -d {self.queue} did not finish in {SEND_TIMEOUT:.0f} s"
            ) from None
        if proc.returncode == 0:
            return
        text = " ".join(err.decode(errors="replace").split())[:200] or f"exit {proc.returncode}"
        if "does not exist" in text or "No such destination" in text:
            raise BackendRefused(f"CUPS has no queue {self.queue}: {text}")
        raise BackendDown(f"CUPS did not take it: {text}")


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def backend_for(uri: str) -> Backend:
    try:
        parsed: BackendUri = parse_backend(uri)
    except InvalidInput as exc:
        raise BackendRefused(exc.message) from None
    if parsed.kind is BackendKind.FILE:
        return FileBackend(Path(parsed.target))
    if parsed.kind is BackendKind.SOCKET:
        return SocketBackend(parsed.target, parsed.port)
    if parsed.kind is BackendKind.IPP:
        return IppBackend(uri)
    return CupsBackend(parsed.target)
