"""Where a spooled job goes: each backend takes one document file and delivers it.

A backend raises :class:`BackendDown` when trying again later may work (the
job goes back to pending with the reason) and :class:`BackendRefused` when it
never will (the job is aborted with the reason).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path
from typing import Protocol

from peerwork.atomic import fsync_dir
from peerwork.errors import PeerworkError

from .jobs import Job

EXTENSIONS = {
    "application/pdf": "pdf",
    "image/pwg-raster": "pwg",
    "image/urf": "urf",
    "image/jpeg": "jpg",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9 ._()+-]+")


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
            tmp.unlink(missing_ok=True)
            raise BackendDown(f"cannot write into {self.folder}: {exc.strerror or exc}") from exc


def backend_for(uri: str) -> Backend:
    if uri.startswith("file:"):
        return FileBackend(Path(uri[len("file:") :]))
    raise BackendRefused(f"backend {uri!r} is not supported yet")
