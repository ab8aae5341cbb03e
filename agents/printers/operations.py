"""The IPP operations of a shared printer: one hook, ``handle(request, document, client)``.

Checks common to every request come first (RFC 8011 §4.1: version, request
id, charset and language first, a target); each operation is then one small
method. Every answer is a :class:`Message`; nothing here touches a socket.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import logging
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from peerwork.config.printers import PrinterConfig
from peerwork.printer_grants import PrintAccess, access_for
from peerwork.proto.ipp import Attribute, Group, Message, attr
from peerwork.proto.ipp_constants import GroupTag, JobState, Op, Status, Tag
from peerwork.proto.pdl import SNIFF_BYTES, sniff

from .attributes import (
    CANCEL_MY_JOBS,
    CLOSE_JOB,
    PAUSE_PRINTER,
    RESUME_PRINTER,
    WHICH_JOBS,
    PrinterView,
    filter_requested,
    job_attributes,
    printer_attributes,
)
from .jobs import TERMINAL, Job, JobEvent, JobStateError, step
from .queue import JobBook
from .spool import DocumentTooLarge, Upload

log = logging.getLogger("peerwork.printers")
_PRINTER_PATH = re.compile(r"^/ipp/print(?:/([^/]+))?(?:/(\d{1,9}))?/?$")
# What each operation needs of the printer's grants; the rest (attributes, job
# lists) any client may ask, as print dialogs do before anyone logs on.
_NEEDS: dict[int, PrintAccess] = {
    Op.PRINT_JOB: PrintAccess.PRINT,
    Op.VALIDATE_JOB: PrintAccess.PRINT,
    Op.CREATE_JOB: PrintAccess.PRINT,
    Op.SEND_DOCUMENT: PrintAccess.PRINT,
    Op.CANCEL_JOB: PrintAccess.PRINT,
    Op.IDENTIFY_PRINTER: PrintAccess.PRINT,
    CANCEL_MY_JOBS: PrintAccess.PRINT,
    CLOSE_JOB: PrintAccess.PRINT,
    PAUSE_PRINTER: PrintAccess.MANAGE,
    RESUME_PRINTER: PrintAccess.MANAGE,
}


class IppReject(Exception):
    """Answer the request with ``status`` (and ``message`` as status-message)."""

    def __init__(self, status: Status, message: str, unsupported: Sequence[Attribute] = ()) -> None:
        super().__init__(message)
        self.status, self.message, self.unsupported = status, message, tuple(unsupported)


@dataclass(frozen=True, slots=True)
class Client:
    """Who sent a request: ``address`` bounds jobs per client; ``base`` is
    ``ipp://host:port`` as the client addressed this server; ``account`` the
    workgroup account it logged on as (HTTP Basic over IPPS), None without one."""

    address: str
    base: str
    account: str | None = None

    @property
    def secure(self) -> bool:
        return self.base.startswith("ipps:")


class Document:
    """The document data of a request: bytes already read plus the rest of the stream."""

    def __init__(self, first: bytes, rest: AsyncIterator[bytes]) -> None:
        self.first, self.rest = first, rest

    async def chunks(self) -> AsyncIterator[bytes]:
        if self.first:
            yield self.first
        async for chunk in self.rest:
            if chunk:
                yield chunk


def answer(
    request: Message, status: int, message: str = "", groups: Sequence[Group] = ()
) -> Message:
    """A response to ``request`` with its operation attributes first, as RFC 8011 asks."""
    op = [
        attr("attributes-charset", Tag.CHARSET, "utf-8"),
        attr("attributes-natural-language", Tag.LANGUAGE, "en"),
    ]
    if message:
        op.append(attr("status-message", Tag.TEXT, message[:255]))
    version = request.version if request.version[0] in (1, 2) else (1, 1)
    return Message(
        version, status, request.request_id, (Group(GroupTag.OPERATION, tuple(op)), *groups)
    )


@dataclass(frozen=True, slots=True)
class Request:
    """A checked request: its operation attributes, printer and user; ``access``: what
    the grants give this client (its account, or ``anonymous`` without a logon)."""

    message: Message
    op: Group
    printer: PrinterConfig
    printer_uri: str
    job_id: int | None
    user: str
    access: PrintAccess = PrintAccess.NONE
    authenticated: bool = False

    def value(self, name: str, default: Any = None) -> Any:
        found = self.op.get(name)
        return default if found is None or found.value is None else found.value

    def values(self, name: str) -> list[Any] | None:
        found = self.op.get(name)
        return None if found is None else [v.value for v in found.values]


class PrinterOperations:
    """Answers IPP requests for the printers of ``book.settings``; ``uploads`` counts
    documents being received, ``clock`` is injected for tests."""

    def __init__(
        self,
        book: JobBook,
        peer_id: str,
        on_identify: Callable[[str], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.book, self.peer_id, self.on_identify, self.clock = book, peer_id, on_identify, clock
        self.started = clock()
        self.uploads = 0
        self._arriving: Counter[str] = Counter()
        self._ops: dict[int, Callable[[Request, Document, Client], Any]] = {
            Op.PRINT_JOB: self.print_job,
            Op.VALIDATE_JOB: self.validate_job,
            Op.CREATE_JOB: self.create_job,
            Op.SEND_DOCUMENT: self.send_document,
            Op.CANCEL_JOB: self.cancel_job,
            Op.GET_JOB_ATTRIBUTES: self.get_job_attributes,
            Op.GET_JOBS: self.get_jobs,
            Op.GET_PRINTER_ATTRIBUTES: self.get_printer_attributes,
            Op.IDENTIFY_PRINTER: self.identify_printer,
            CANCEL_MY_JOBS: self.cancel_my_jobs,
            CLOSE_JOB: self.close_job,
            PAUSE_PRINTER: self.pause_printer,
            RESUME_PRINTER: self.resume_printer,
        }

    async def handle(self, message: Message, document: Document, client: Client) -> Message:
        try:
            request = self.check(message, client)
            groups: list[Group] = await self._ops[message.code](request, document, client)
        except IppReject as exc:
            unsupported = (Group(GroupTag.UNSUPPORTED, exc.unsupported),) if exc.unsupported else ()
            return answer(message, exc.status, exc.message, unsupported)
        return answer(message, Status.OK, "", groups)

    # -- checks every request passes ----------------------------------------------------------
    def check(self, message: Message, client: Client) -> Request:
        if message.version[0] not in (1, 2):
            raise IppReject(Status.VERSION_NOT_SUPPORTED, f"IPP {message.version} is not supported")
        if message.request_id == 0:
            raise IppReject(Status.BAD_REQUEST, "request-id must not be 0")
        if not message.groups or message.groups[0].tag != GroupTag.OPERATION:
            raise IppReject(Status.BAD_REQUEST, "the operation attributes must come first")
        if len(list(message.groups_of(GroupTag.OPERATION))) > 1:
            raise IppReject(Status.BAD_REQUEST, "two operation attribute groups")
        op = message.groups[0]
        names = [a.name for a in op.attributes[:2]]
        if names != ["attributes-charset", "attributes-natural-language"]:
            raise IppReject(
                Status.BAD_REQUEST,
                "attributes-charset and attributes-natural-language must come first",
            )
        charset, language = op.attributes[0], op.attributes[1]
        if charset.tag != Tag.CHARSET or language.tag != Tag.LANGUAGE:
            raise IppReject(Status.BAD_REQUEST, "attributes-charset or -natural-language mistyped")
        if str(charset.value).lower() not in ("utf-8", "us-ascii"):
            raise IppReject(
                Status.CHARSET_NOT_SUPPORTED,
                f"charset {charset.value!r} is not supported",
                (charset,),
            )
        if message.code not in self._ops:
            raise IppReject(
                Status.OPERATION_NOT_SUPPORTED, f"operation 0x{message.code:04x} is not supported"
            )
        printer, uri, job_id = self._target(op)
        access = access_for(printer.grants, client.account)
        if access < _NEEDS.get(message.code, PrintAccess.NONE):
            raise self._denied(printer, client)
        if client.account is not None:
            return Request(message, op, printer, uri, job_id, client.account, access, True)
        # Without a logon the name is only what the client says: a label for its jobs,
        # never a way to an account's own grant.
        user = op.get("requesting-user-name")
        name = str(user.value)[:255] if user is not None and isinstance(user.value, str) else ""
        return Request(message, op, printer, uri, job_id, name or "anonymous", access)

    @staticmethod
    def _denied(printer: PrinterConfig, client: Client, what: str = "") -> IppReject:
        """not-authorized without a logon (a logon may help: the client asks for one),
        forbidden for an account that has logged on."""
        what = what or f"printing on {printer.name}"
        if client.account is not None:
            return IppReject(Status.FORBIDDEN, f"{client.account} is not allowed {what}")
        how = (
            "log on with your workgroup account"
            if client.secure
            else ("print over ipps:// and log on with your workgroup account")
        )
        return IppReject(Status.NOT_AUTHORIZED, f"{what} needs a logon: {how}")

    def _target(self, op: Group) -> tuple[PrinterConfig, str, int | None]:
        target = op.get("printer-uri") or op.get("job-uri")
        if target is None or target.tag != Tag.URI or not isinstance(target.value, str):
            raise IppReject(Status.BAD_REQUEST, "printer-uri (or job-uri) is missing")
        uri = target.value
        match = re.match(r"^ipps?://[^/]+(/.*)?$", uri)
        path = _PRINTER_PATH.match(match.group(1) or "/") if match else None
        if path is None:
            raise IppReject(Status.NOT_FOUND, f"no printer at {uri}")
        name, job = path.group(1), path.group(2)
        settings = self.book.settings
        printer = settings.find(name) if name else next(iter(settings.printers), None)
        if printer is None:
            raise IppReject(Status.NOT_FOUND, f"no printer called {name!r} here")
        job_id: int | None = int(job) if job and target.name == "job-uri" else None
        if target.name == "printer-uri":
            value = op.get("job-id")
            if value is not None and (value.tag != Tag.INTEGER or not isinstance(value.value, int)):
                raise IppReject(Status.BAD_REQUEST, "job-id must be an integer")
            job_id = value.value if value is not None and isinstance(value.value, int) else None
        printer_uri = uri[: uri.index("/ipp/print")] + f"/ipp/print/{printer.name}"
        return printer, printer_uri, job_id

    def view(self, printer: PrinterConfig, client: Client) -> PrinterView:
        active = [j for j in self.book.for_printer(printer.name) if not j.finished]
        return PrinterView(
            config=printer,
            base=client.base,
            peer_id=self.peer_id,
            started=self.started,
            now=self.clock(),
            queued=len(active),
            processing=any(j.state is JobState.PROCESSING for j in active),
            paused=self.book.is_paused(printer.name),
        )

    def _format(self, request: Request) -> str:
        fmt = request.value("document-format", "application/octet-stream")
        if fmt != "application/octet-stream" and fmt not in request.printer.formats:
            raise IppReject(
                Status.DOCUMENT_FORMAT_NOT_SUPPORTED,
                f"{fmt} is not supported; send {', '.join(request.printer.formats)}",
                (attr("document-format", Tag.MIME_TYPE, str(fmt)),),
            )
        compression = request.value("compression", "none")
        if compression != "none":
            raise IppReject(
                Status.COMPRESSION_NOT_SUPPORTED,
                f"compression {compression} is not supported",
                (attr("compression", Tag.KEYWORD, str(compression)),),
            )
        return str(fmt)

    @contextlib.contextmanager
    def _admit(self, client: Client) -> Iterator[None]:
        """Room for one more job from ``client``, held while it is being created: jobs
        still being received or saved count, so concurrent requests cannot pass the cap."""
        settings = self.book.settings
        if self.book.active_count() + sum(self._arriving.values()) >= settings.max_jobs:
            raise IppReject(Status.TOO_MANY_JOBS, "the print queue is full; try again later")
        mine = self.book.per_client()[client.address] + self._arriving[client.address]
        if mine >= settings.max_jobs_per_client:
            raise IppReject(
                Status.TOO_MANY_JOBS,
                f"you have {settings.max_jobs_per_client} jobs waiting; wait for some to print",
            )
        self._arriving[client.address] += 1
        try:
            yield
        finally:
            self._arriving[client.address] -= 1
            if not self._arriving[client.address]:
                del self._arriving[client.address]

    def _new_job(self, request: Request, client: Client, fmt: str, *, check: bool = False) -> Job:
        """The job a request asks for (its attributes checked); ``check``: only checking
        (Validate-Job), so no job id is used up."""
        job_group = request.message.group(GroupTag.JOB)
        copies = job_group.get("copies") if job_group else None
        count = copies.value if copies is not None and isinstance(copies.value, int) else 1
        if not 1 <= count <= 99:
            raise IppReject(
                Status.ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
                "copies must be 1-99",
                (attr("copies", Tag.INTEGER, count),),
            )
        name = request.value("job-name", "")
        return Job(
            id=0 if check else self.book.new_id(),
            printer=request.printer.name,
            name=str(name)[:255] if isinstance(name, str) else "",
            user=request.user,
            client=client.address,
            format=fmt,
            created=self.clock(),
            copies=count,
            authenticated=request.authenticated,
        )

    def _job_group(self, job: Job, request: Request, requested: Sequence[str] | None) -> Group:
        everything = job_attributes(job, request.printer_uri, self.started, self.clock())
        return Group(GroupTag.JOB, tuple(filter_requested(everything, requested)))

    def _short_job(self, job: Job, request: Request) -> list[Group]:
        wanted = ("job-id", "job-uri", "job-state", "job-state-reasons", "job-state-message")
        return [self._job_group(job, request, wanted)]

    # -- documents ---------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _spooling(
        self, job: Job, fmt: str, document: Document
    ) -> AsyncIterator[tuple[Upload, str]]:
        """Receive the document into the spool and yield it with its (sniffed) format; the
        caller makes it durable together with its job file. Failures become IPP answers;
        a document not committed is removed."""
        if self.uploads >= self.book.settings.max_uploads:
            raise IppReject(Status.BUSY, "too many documents arriving at once; try again")
        self.uploads += 1
        upload = self.book.spool.upload(job.id, self.book.settings.max_document_bytes)
        try:
            try:
                fmt = await self._receive(upload, job, fmt, document)
            finally:
                self.uploads -= 1
            yield upload, fmt
        except DocumentTooLarge as exc:
            raise IppReject(Status.REQUEST_ENTITY_TOO_LARGE, str(exc)) from None
        except OSError as exc:
            log.warning("printers: spooling job %d failed: %s", job.id, exc)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                # Room comes back as jobs print and are pruned: the client may try again.
                raise IppReject(
                    Status.TEMPORARY_ERROR, "the print spool is full; try again later"
                ) from None
            raise IppReject(
                Status.DEVICE_ERROR, f"the spool cannot take it: {exc.strerror}"
            ) from None
        finally:
            upload.abort()  # no-op once committed; removes the part file otherwise

    async def _receive(self, upload: Upload, job: Job, fmt: str, document: Document) -> str:
        head = b""
        async for chunk in document.chunks():
            if len(head) < SNIFF_BYTES:
                head += chunk[:SNIFF_BYTES]
            upload.write(chunk)
        if upload.size == 0:
            raise IppReject(Status.BAD_REQUEST, "the request carries no document")
        if fmt == "application/octet-stream":
            fmt = sniff(head)
            printer = self.book.settings.find(job.printer)
            if printer is None or fmt not in printer.formats:
                raise IppReject(
                    Status.DOCUMENT_FORMAT_NOT_SUPPORTED,
                    "the document is none of the formats this printer takes",
                )
        return fmt

    # -- operations --------------------------------------------------------------------------
    async def print_job(self, request: Request, document: Document, client: Client) -> list[Group]:
        fmt = self._format(request)
        with self._admit(client):
            job = self._new_job(request, client, fmt)
            async with self._spooling(job, fmt, document) as (upload, fmt):
                # Document and job arrive together: made durable in one go, one job file.
                job = dataclasses.replace(job, size=upload.size, format=fmt)
                job = step(job, JobEvent.DOCUMENT, self.clock())
                await self.book.add(job, upload)
        return self._short_job(job, request)

    async def validate_job(
        self, request: Request, document: Document, client: Client
    ) -> list[Group]:
        self._format(request)
        self._new_job(request, client, "application/octet-stream", check=True)
        return []

    async def create_job(self, request: Request, document: Document, client: Client) -> list[Group]:
        with self._admit(client):
            job = self._new_job(request, client, "application/octet-stream")
            await self.book.add(job)
        return self._short_job(job, request)

    def _job(self, request: Request) -> Job:
        if request.job_id is None:
            raise IppReject(Status.BAD_REQUEST, "job-id is missing")
        job = self.book.jobs.get(request.job_id)
        if job is None or job.printer != request.printer.name:
            raise IppReject(Status.NOT_FOUND, f"no job {request.job_id} on {request.printer.name}")
        return job

    def _own(self, job: Job, request: Request, client: Client) -> None:
        """The request may act on ``job``: its owner, or someone who manages the printer.
        A job printed by a logged-on account belongs to that account only; one printed
        without a logon, to whoever gives the same requesting-user-name."""
        if request.access >= PrintAccess.MANAGE:
            return
        if job.authenticated and not request.authenticated:
            raise self._denied(request.printer, client, f"acting on job {job.id} of {job.user}")
        if job.user != request.user:
            raise self._denied(request.printer, client, f"acting on job {job.id} of {job.user}")

    async def send_document(
        self, request: Request, document: Document, client: Client
    ) -> list[Group]:
        job = self._job(request)
        self._own(job, request, client)
        if job.finished or job.has_document:
            raise IppReject(Status.NOT_POSSIBLE, f"job {job.id} takes no more documents")
        last = request.op.get("last-document")
        if last is None or last.tag != Tag.BOOLEAN:
            raise IppReject(Status.BAD_REQUEST, "last-document (a boolean) is missing")
        if last.value is not True:
            raise IppReject(
                Status.MULTIPLE_DOCUMENT_JOBS_NOT_SUPPORTED,
                "one document per job: send last-document=true",
            )
        fmt = self._format(request)
        async with self._spooling(job, fmt, document) as (upload, fmt):
            await upload.finish(sync_dir=False)  # the job file saved next syncs the folder
            try:
                job = await self.book.document_spooled(job.id, upload.size, fmt)
            except JobStateError as exc:  # canceled while the document arrived
                self.book.spool.drop_document(job.id)
                raise IppReject(Status.NOT_POSSIBLE, str(exc)) from None
        return self._short_job(job, request)

    async def close_job(self, request: Request, document: Document, client: Client) -> list[Group]:
        job = self._job(request)
        self._own(job, request, client)
        if not job.finished and not job.has_document:
            with contextlib.suppress(JobStateError):  # a document or a cancel came first
                await self.book.apply(job.id, JobEvent.TIMEOUT, "closed without a document")
        return self._short_job(self.book.jobs.get(job.id, job), request)

    async def cancel_job(self, request: Request, document: Document, client: Client) -> list[Group]:
        job = self._job(request)
        self._own(job, request, client)
        if job.state in TERMINAL:
            raise IppReject(
                Status.NOT_POSSIBLE, f"job {job.id} is already {job.state.name.lower()}"
            )
        try:
            await self.book.apply(job.id, JobEvent.CANCEL, f"canceled by {request.user}")
        except JobStateError as exc:  # finished meanwhile
            raise IppReject(Status.NOT_POSSIBLE, str(exc)) from None
        return []

    async def cancel_my_jobs(
        self, request: Request, document: Document, client: Client
    ) -> list[Group]:
        mine = [
            j
            for j in self.book.for_printer(request.printer.name)
            if not j.finished
            and j.user == request.user
            and (request.authenticated or not j.authenticated)
        ]
        for job in mine:
            with contextlib.suppress(JobStateError):
                await self.book.apply(job.id, JobEvent.CANCEL, f"canceled by {request.user}")
        return [self._job_group(self.book.jobs[j.id], request, ("job-id", "job-uri")) for j in mine]

    async def get_job_attributes(
        self, request: Request, document: Document, client: Client
    ) -> list[Group]:
        job = self._job(request)
        return [self._job_group(job, request, request.values("requested-attributes"))]

    async def get_jobs(self, request: Request, document: Document, client: Client) -> list[Group]:
        which = request.value("which-jobs", "not-completed")
        if which not in WHICH_JOBS:
            raise IppReject(
                Status.ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
                f"which-jobs {which} is not supported",
                (attr("which-jobs", Tag.KEYWORD, str(which)),),
            )
        jobs = sorted(self.book.for_printer(request.printer.name), key=lambda j: j.id)
        if which == "completed":
            jobs = [j for j in jobs if j.finished][::-1]
        elif which == "not-completed":
            jobs = [j for j in jobs if not j.finished]
        if request.value("my-jobs") is True:
            jobs = [j for j in jobs if j.user == request.user]
        limit = request.value("limit")
        if isinstance(limit, int) and limit > 0:
            jobs = jobs[:limit]
        requested = request.values("requested-attributes") or ["job-id", "job-uri"]
        return [self._job_group(j, request, requested) for j in jobs]

    async def get_printer_attributes(
        self, request: Request, document: Document, client: Client
    ) -> list[Group]:
        everything = printer_attributes(self.view(request.printer, client))
        chosen = filter_requested(everything, request.values("requested-attributes"))
        return [Group(GroupTag.PRINTER, tuple(chosen))]

    async def pause_printer(
        self, request: Request, document: Document, client: Client
    ) -> list[Group]:
        await self.book.set_paused(request.printer.name, True)
        log.info("printers: %s paused by %s", request.printer.name, request.user)
        return []

    async def resume_printer(
        self, request: Request, document: Document, client: Client
    ) -> list[Group]:
        await self.book.set_paused(request.printer.name, False)
        log.info("printers: %s resumed by %s", request.printer.name, request.user)
        return []

    async def identify_printer(
        self, request: Request, document: Document, client: Client
    ) -> list[Group]:
        actions = request.values("identify-actions") or ["display"]
        asked = ", ".join(map(str, actions))
        self.on_identify(f"{request.printer.name}: {request.user} asked to identify it ({asked})")
        return []
