"""A small IPP client: Print-Job of one file, streamed (what ``peerwork print`` and the
printers service's ``ipp://`` backend use), and any other request through
:func:`exchange`; over ``ipps://`` with the printer PC's key pinned and HTTP Basic."""

from __future__ import annotations

import base64
import http.client
import itertools
import ssl
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from peerwork.client.pinning import PinMismatch, check_peer_key, peer_key_context
from peerwork.errors import PeerworkError
from peerwork.proto.ipp import Attribute, Group, IppError, Message, attr
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


@dataclass(frozen=True, slots=True)
class Logon:
    """An account and its password, sent as HTTP Basic over ``ipps://`` only."""

    user: str
    password: str


def _check_uri(uri: str, logon: Logon | None, peer_id: str) -> SplitResult:
    parts = urlsplit(uri)
    if parts.scheme not in ("ipp", "ipps") or not parts.hostname:
        raise PrintError(f"{uri} is not an ipp:// printer address", Status.URI_SCHEME_NOT_SUPPORTED)
    if parts.scheme == "ipps" and not peer_id:
        raise PrintError(f"{uri}: which PC's key to expect? (no peer id to pin)")
    if logon is not None and parts.scheme != "ipps":
        raise PrintError(f"{uri}: a password is sent only over ipps://")
    return parts


def _connect(parts: SplitResult, peer_id: str, timeout: float) -> http.client.HTTPConnection:
    """A connection to the printer; over ipps:// with its PC's key checked before any
    byte of the request (a password among them) leaves this PC."""
    host = parts.hostname or ""
    if parts.scheme != "ipps":
        return http.client.HTTPConnection(host, parts.port or 631, timeout=timeout)
    conn = http.client.HTTPSConnection(
        host, parts.port or 631, timeout=timeout, context=peer_key_context()
    )
    conn.connect()
    assert isinstance(conn.sock, ssl.SSLSocket)
    try:
        check_peer_key(conn.sock, peer_id, parts.netloc)
    except PinMismatch as exc:
        conn.close()
        raise PrintError(exc.message) from None
    return conn


def exchange(
    uri: str,
    head: bytes,
    body: Iterable[bytes] = (),
    size: int = 0,
    *,
    logon: Logon | None = None,
    peer_id: str = "",
    timeout: float = 60,
) -> Message:
    """POST one IPP request (``head``, then ``size`` bytes of ``body``) to ``uri`` and
    return the successful answer; PrintError for a refusal or anything else."""
    parts = _check_uri(uri, logon, peer_id)
    headers = {"Content-Type": "application/ipp", "Content-Length": str(len(head) + size)}
    if logon is not None:
        token = base64.b64encode(f"{logon.user}:{logon.password}".encode()).decode("ascii")
        headers["Authorization"] = f"Basic {token}"
    try:
        conn = _connect(parts, peer_id, timeout)
        try:
            conn.request(
                "POST", parts.path or "/", body=itertools.chain([head], body), headers=headers
            )
            response = conn.getresponse()
            raw = response.read(1024 * 1024)
        finally:
            conn.close()
    except OSError as exc:
        raise PrintError(f"cannot reach {parts.netloc}: {exc}") from None
    if response.status == 401 and logon is not None:
        raise PrintError(
            f"{parts.netloc}: wrong user name or password for {logon.user}", Status.NOT_AUTHORIZED
        )
    if response.status not in (200, 401):
        raise PrintError(f"{parts.netloc} answered HTTP {response.status}")
    try:
        reply = Message.parse(raw)
    except IppError as exc:
        raise PrintError(f"{parts.netloc} sent a malformed answer: {exc}") from None
    if reply.code == Status.NOT_AUTHORIZED and logon is None:
        raise PrintError(
            f"{parts.netloc}: this printer needs a logon; give --user NAME "
            "(an account of the workgroup, sent over ipps://)",
            Status.NOT_AUTHORIZED,
        )
    if reply.code >= 0x0100:
        answer = reply.group(GroupTag.OPERATION)
        found = answer.get("status-message") if answer else None
        why = found.value if found is not None and isinstance(found.value, str) else ""
        known = {int(s): s.name.lower() for s in Status}
        raise PrintError(
            f"the printer refused: {known.get(reply.code, hex(reply.code))} ({why})",
            reply.code,
        )
    return reply


def operation_attributes(uri: str, user: str, *extra: Attribute) -> tuple[Attribute, ...]:
    return (
        attr("attributes-charset", Tag.CHARSET, "utf-8"),
        attr("attributes-natural-language", Tag.LANGUAGE, "en"),
        attr("printer-uri", Tag.URI, uri),
        attr("requesting-user-name", Tag.NAME, user),
        *extra,
    )


def print_file(
    uri: str,
    path: Path,
    *,
    user: str,
    title: str = "",
    copies: int = 1,
    timeout: float = 60,
    fmt: str = "",
    logon: Logon | None = None,
    peer_id: str = "",
) -> Printed:
    """Send ``path`` to the IPP printer at ``uri`` (``ipp://host:port/ipp/print/NAME``, or
    ``ipps://`` with the PC's ``peer_id`` pinned and an optional ``logon``); ``fmt``: its
    MIME type when known (else sniffed from its first bytes)."""
    if not fmt:
        with path.open("rb") as f:
            fmt = sniff(f.read(SNIFF_BYTES))
    if not fmt:
        raise PrintError(
            f"{path.name} is not a PDF, JPEG, PWG raster or URF file",
            Status.DOCUMENT_FORMAT_NOT_SUPPORTED,
        )
    op = operation_attributes(
        uri,
        logon.user if logon else user,
        attr("job-name", Tag.NAME, title or path.name),
        attr("document-format", Tag.MIME_TYPE, fmt),
    )
    groups = [Group(GroupTag.OPERATION, op)]
    if copies != 1:
        groups.append(Group(GroupTag.JOB, (attr("copies", Tag.INTEGER, copies),)))
    head = Message((2, 0), Op.PRINT_JOB, 1, tuple(groups)).pack()
    reply = exchange(
        uri,
        head,
        _chunks(path),
        path.stat().st_size,
        logon=logon,
        peer_id=peer_id,
        timeout=timeout,
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
