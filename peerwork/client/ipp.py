"""A small IPP client: Print-Job of one file, streamed (what ``peerwork print`` and the
printers service's ``ipp://`` backend use)."""

from __future__ import annotations

import http.client
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from peerwork.errors import PeerworkError
from peerwork.proto.ipp import Group, IppError, Message, attr
from peerwork.proto.ipp_constants import GroupTag, JobState, Op, Status, Tag
from peerwork.proto.pdl import SNIFF_BYTES, sniff

CHUNK = 256 * 1024


class PrintError(PeerworkError):
    """The printer refused the job (``status``: its IPP status) or could not be reached
    or understood (``status`` None)."""

    code = "print-failed"

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def retry(self) -> bool:
        """Trying again later may work: unreachable, or a server-error (busy, stopped)."""
        return self.status is None or self.status >= 0x0500


@dataclass(frozen=True, slots=True)
class Printed:
    job_id: int
    state: JobState
    uri: str


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


def print_file(
    uri: str,
    path: Path,
    *,
    user: str,
    title: str = "",
    copies: int = 1,
    timeout: float = 60,
    fmt: str = "",
) -> Printed:
    """Send ``path`` to the IPP printer at ``uri`` (``ipp://host:port/ipp/print/NAME``);
    ``fmt``: its MIME type when known (else sniffed from its first bytes)."""
    if not fmt:
        with path.open("rb") as f:
            fmt = sniff(f.read(SNIFF_BYTES))
    if not fmt:
        raise PrintError(
            f"{path.name} is not a PDF, JPEG, PWG raster or URF file",
            Status.DOCUMENT_FORMAT_NOT_SUPPORTED,
        )
    parts = urlsplit(uri)
    if parts.scheme != "ipp" or not parts.hostname:
        raise PrintError(f"{uri} is not an ipp:// printer address", Status.URI_SCHEME_NOT_SUPPORTED)
    op = (
        attr("attributes-charset", Tag.CHARSET, "utf-8"),
        attr("attributes-natural-language", Tag.LANGUAGE, "en"),
        attr("printer-uri", Tag.URI, uri),
        attr("requesting-user-name", Tag.NAME, user),
        attr("job-name", Tag.NAME, title or path.name),
        attr("document-format", Tag.MIME_TYPE, fmt),
    )
    groups = [Group(GroupTag.OPERATION, op)]
    if copies != 1:
        groups.append(Group(GroupTag.JOB, (attr("copies", Tag.INTEGER, copies),)))
    head = Message((2, 0), Op.PRINT_JOB, 1, tuple(groups)).pack()
    size = len(head) + path.stat().st_size
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 631, timeout=timeout)
    try:
        conn.request(
            "POST",
            parts.path or "/",
            body=itertools.chain([head], _chunks(path)),
            headers={"Content-Type": "application/ipp", "Content-Length": str(size)},
        )
        response = conn.getresponse()
        raw = response.read(1024 * 1024)
    except OSError as exc:
        raise PrintError(f"cannot reach {parts.netloc}: {exc}") from None
    finally:
        conn.close()
    if response.status == 401:
        raise PrintError(
            f"{parts.netloc} wants a logon for this printer (print over ipps:// with an account)",
            Status.NOT_AUTHORIZED,
        )
    if response.status != 200:
        raise PrintError(f"{parts.netloc} answered HTTP {response.status}")
    try:
        reply = Message.parse(raw)
    except IppError as exc:
        raise PrintError(f"{parts.netloc} sent a malformed answer: {exc}") from None
    if reply.code >= 0x0100:
        answer = reply.group(GroupTag.OPERATION)
        found = answer.get("status-message") if answer else None
        why = found.value if found is not None and isinstance(found.value, str) else ""
        known = {int(s): s.name.lower() for s in Status}
        raise PrintError(
            f"the printer refused the job: {known.get(reply.code, hex(reply.code))} ({why})",
            reply.code,
        )
    job = reply.group(GroupTag.JOB)
    job_id = job.get("job-id") if job else None
    state = job.get("job-state") if job else None
    if job_id is None or not isinstance(job_id.value, int):
        raise PrintError("the printer accepted the job but sent no job-id")
    return Printed(
        job_id.value,
        JobState(state.value) if state and isinstance(state.value, int) else JobState.PENDING,
        uri,
    )
