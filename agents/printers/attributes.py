"""What a printer and its jobs say about themselves in IPP: pure functions of their state.

The printer attributes are those of IPP Everywhere (PWG 5100.14 §5) that the
stock ipptool tests ask for; a ``file:`` printer has no paper or toner, so its
media and supply values describe a plain A4/Letter page printer.
"""

from __future__ import annotations

import struct
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from peerwork.config.printers import PrinterConfig
from peerwork.printer_grants import PrintAccess, access_for
from peerwork.proto.ipp import Attribute, Collection, Payload, Range, Resolution, attr
from peerwork.proto.ipp_constants import JobState, Op, PrinterState, Tag

from .jobs import Job

CLOSE_JOB, CANCEL_MY_JOBS = 0x003B, 0x0039
PAUSE_PRINTER, RESUME_PRINTER = 0x0010, 0x0011
OPERATIONS = (*(int(op) for op in Op), PAUSE_PRINTER, RESUME_PRINTER, CANCEL_MY_JOBS, CLOSE_JOB)
# PWG media names and their sizes in hundredths of a millimetre.
MEDIA = {"iso_a4_210x297mm": (21000, 29700), "na_letter_8.5x11in": (21590, 27940)}
MARGIN = 635  # a quarter inch: what driverless clients expect of a page printer
JOB_TEMPLATE = (
    "copies",
    "finishings",
    "media",
    "media-col",
    "orientation-requested",
    "output-bin",
    "page-ranges",
    "print-color-mode",
    "print-content-optimize",
    "print-quality",
    "print-rendering-intent",
    "print-scaling",
    "printer-resolution",
    "sides",
)
WHICH_JOBS = ("completed", "not-completed", "all")


@dataclass(frozen=True, slots=True)
class PrinterView:
    """One printer as a client sees it: ``base`` is ``ipp://host:port`` as the client
    addressed us (a URI must name the host the client can reach)."""

    config: PrinterConfig
    base: str
    peer_id: str
    started: float
    now: float
    queued: int
    processing: bool
    paused: bool = False

    @property
    def secure(self) -> bool:
        return self.base.startswith("ipps:")

    @property
    def needs_logon(self) -> bool:
        """Printing here needs an account (asked for over IPPS only)."""
        return self.secure and access_for(self.config.grants, None) < PrintAccess.PRINT

    @property
    def uri(self) -> str:
        return f"{self.base}/ipp/print/{self.config.name}"

    @property
    def http(self) -> str:
        return "http" + self.base[len("ipp") :]

    @property
    def uuid(self) -> str:
        return printer_uuid(self.peer_id, self.config.name)


def printer_uuid(peer_id: str, name: str) -> str:
    """Stable across restarts, different on every PC: clients remember printers by it."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'peerwork:{peer_id}:{name.lower()}')}"


def ipp_datetime(ts: float) -> bytes:
    """RFC 2579 DateAndTime in UTC, as IPP's dateTime carries it."""
    t = time.gmtime(ts)
    return struct.pack(
        ">HBBBBBBcBB", t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, 0, b"+", 0, 0
    )


def up_time(started: float, now: float) -> int:
    """Seconds since the service started, at least 1 (IPP wants a positive up-time)."""
    return max(1, int(now - started) + 1)


def _kw(name: str, *values: str) -> Attribute:
    return attr(name, Tag.KEYWORD, *values)


def _int(name: str, *values: int) -> Attribute:
    return attr(name, Tag.INTEGER, *values)


def _enum(name: str, *values: int) -> Attribute:
    return attr(name, Tag.ENUM, *values)


def _media_col(size: tuple[int, int]) -> Collection:
    members = [
        attr(
            "media-size",
            Tag.BEGIN_COLLECTION,
            Collection((_int("x-dimension", size[0]), _int("y-dimension", size[1]))),
        ),
        _int("media-bottom-margin", MARGIN),
        _int("media-left-margin", MARGIN),
        _int("media-right-margin", MARGIN),
        _int("media-top-margin", MARGIN),
        _kw("media-source", "auto"),
        _kw("media-type", "stationery"),
    ]
    return Collection(tuple(members))


def _printer_state(view: PrinterView) -> PrinterState:
    if view.paused:
        return PrinterState.STOPPED
    return PrinterState.PROCESSING if view.processing else PrinterState.IDLE


def _state_message(view: PrinterView) -> str:
    if view.paused:
        return "paused: jobs wait until someone who manages the printer resumes it"
    return "printing" if view.processing else "ready"


def printer_attributes(view: PrinterView) -> list[Attribute]:
    """Every printer attribute, in one list (``filter_requested`` picks from it)."""
    cfg = view.config
    sizes = list(MEDIA.values())
    formats = ("application/octet-stream", *cfg.formats)
    state = _printer_state(view)
    up = up_time(view.started, view.now)
    pdls = {"application/pdf": "PDF", "image/pwg-raster": "PWGRaster", "image/urf": "URF"}
    commands = ",".join(pdls[f] for f in cfg.formats if f in pdls) or "JPEG"
    colors = ("auto", "monochrome", "color") if cfg.color else ("auto", "monochrome")
    sides = (
        ("one-sided", "two-sided-long-edge", "two-sided-short-edge")
        if cfg.duplex
        else ("one-sided",)
    )
    raster_types = ("black_1", "sgray_8", "srgb_8") if cfg.color else ("black_1", "sgray_8")
    return [
        attr("charset-configured", Tag.CHARSET, "utf-8"),
        attr("charset-supported", Tag.CHARSET, "utf-8", "us-ascii"),
        attr("color-supported", Tag.BOOLEAN, cfg.color),
        _kw("compression-supported", "none"),
        _int("copies-default", 1),
        attr("copies-supported", Tag.RANGE, Range(1, 99)),
        attr("document-format-default", Tag.MIME_TYPE, "application/octet-stream"),
        attr("document-format-supported", Tag.MIME_TYPE, *formats),
        _enum("finishings-default", 3),
        _enum("finishings-supported", 3),
        attr("generated-natural-language-supported", Tag.LANGUAGE, "en"),
        _kw("identify-actions-default", "display"),
        _kw("identify-actions-supported", "display", "sound"),
        _kw("ipp-features-supported", "ipp-everywhere"),
        _kw("ipp-versions-supported", "1.1", "2.0"),
        _kw("job-creation-attributes-supported", *JOB_TEMPLATE),
        attr("job-ids-supported", Tag.BOOLEAN, True),
        attr("job-k-octets-supported", Tag.RANGE, Range(0, 2**31 - 1)),
        _int("job-priority-default", 50),
        _int("job-priority-supported", 100),
        _kw("job-sheets-default", "none"),
        _kw("job-sheets-supported", "none"),
        _int("media-bottom-margin-supported", MARGIN),
        attr(
            "media-col-database",
            Tag.BEGIN_COLLECTION,
            *(_media_col(s) for s in MEDIA.values()),
        ),
        attr("media-col-default", Tag.BEGIN_COLLECTION, _media_col(sizes[0])),
        attr("media-col-ready", Tag.BEGIN_COLLECTION, *(_media_col(s) for s in MEDIA.values())),
        _kw(
            "media-col-supported",
            "media-bottom-margin",
            "media-left-margin",
            "media-right-margin",
            "media-size",
            "media-source",
            "media-top-margin",
            "media-type",
        ),
        _kw("media-default", next(iter(MEDIA))),
        _int("media-left-margin-supported", MARGIN),
        _kw("media-ready", *MEDIA),
        _int("media-right-margin-supported", MARGIN),
        attr(
            "media-size-supported",
            Tag.BEGIN_COLLECTION,
            *(Collection((_int("x-dimension", x), _int("y-dimension", y))) for x, y in sizes),
        ),
        _kw("media-source-supported", "auto"),
        _kw("media-supported", *MEDIA),
        _int("media-top-margin-supported", MARGIN),
        _kw("media-type-supported", "stationery"),
        attr("multiple-document-jobs-supported", Tag.BOOLEAN, False),
        _int("multiple-operation-time-out", 60),
        _kw("multiple-operation-time-out-action", "abort-job"),
        attr("natural-language-configured", Tag.LANGUAGE, "en"),
        _int("number-up-default", 1),
        _int("number-up-supported", 1),
        _enum("operations-supported", *OPERATIONS),
        _enum("orientation-requested-default", 3),
        _enum("orientation-requested-supported", 3, 4, 5, 6),
        _kw("output-bin-default", "face-down"),
        _kw("output-bin-supported", "face-down"),
        _kw("overrides-supported", "document-number", "pages"),
        attr("page-ranges-supported", Tag.BOOLEAN, True),
        _int("pages-per-minute", 20),
        *([_int("pages-per-minute-color", 20)] if cfg.color else []),
        _kw(
            "pdf-versions-supported",
            "adobe-1.3",
            "adobe-1.4",
            "adobe-1.5",
            "adobe-1.6",
            "iso-32000-1_2008",
        ),
        _kw("pdl-override-supported", "attempted"),
        attr("preferred-attributes-supported", Tag.BOOLEAN, False),
        _kw("print-color-mode-default", "auto"),
        _kw("print-color-mode-supported", *colors),
        _kw("print-content-optimize-default", "auto"),
        _kw("print-content-optimize-supported", "auto"),
        _enum("print-quality-default", 4),
        _enum("print-quality-supported", 3, 4, 5),
        _kw("print-rendering-intent-default", "auto"),
        _kw("print-rendering-intent-supported", "auto"),
        _kw("print-scaling-default", "auto"),
        _kw("print-scaling-supported", "auto", "auto-fit", "fill", "fit", "none"),
        attr("printer-config-change-date-time", Tag.DATE_TIME, ipp_datetime(view.started)),
        _int("printer-config-change-time", 1),
        attr("printer-current-time", Tag.DATE_TIME, ipp_datetime(view.now)),
        attr(
            "printer-device-id",
            Tag.TEXT,
            f"MFG:peerwork;MDL:{cfg.make_model};CMD:{commands};",
        ),
        attr("printer-geo-location", Tag.UNKNOWN, None),
        _kw("printer-get-attributes-supported", "document-format"),
        attr("printer-icons", Tag.URI, f"{view.http}/icon.png"),
        attr("printer-info", Tag.TEXT, (cfg.info or cfg.name)[:127]),
        attr("printer-is-accepting-jobs", Tag.BOOLEAN, True),
        _kw("printer-kind", "document"),
        attr("printer-location", Tag.TEXT, cfg.location[:127]),
        attr("printer-make-and-model", Tag.TEXT, cfg.make_model[:127]),
        attr("printer-more-info", Tag.URI, f"{view.http}/"),
        attr("printer-name", Tag.NAME, cfg.name),
        attr("printer-organization", Tag.TEXT, ""),
        attr("printer-organizational-unit", Tag.TEXT, ""),
        attr("printer-resolution-default", Tag.RESOLUTION, Resolution(300, 300, 3)),
        attr(
            "printer-resolution-supported",
            Tag.RESOLUTION,
            Resolution(300, 300, 3),
            Resolution(600, 600, 3),
        ),
        _enum("printer-state", state),
        attr("printer-state-change-date-time", Tag.DATE_TIME, ipp_datetime(view.started)),
        _int("printer-state-change-time", 1),
        attr("printer-state-message", Tag.TEXT, _state_message(view)),
        _kw("printer-state-reasons", "paused" if view.paused else "none"),
        # A virtual printer has nothing that runs out: one supply, always full.
        attr(
            "printer-supply",
            Tag.OCTET_STRING,
            b"index=1;class=supplyThatIsConsumed;type=toner;unit=percent;"
            b"maxcapacity=100;level=100;colorantname=black;",
        ),
        attr("printer-supply-description", Tag.TEXT, "Black Toner"),
        attr("printer-supply-info-uri", Tag.URI, f"{view.http}/"),
        _int("printer-up-time", up),
        attr("printer-uri-supported", Tag.URI, view.uri),
        attr("printer-uuid", Tag.URI, view.uuid),
        attr(
            "pwg-raster-document-resolution-supported",
            Tag.RESOLUTION,
            Resolution(300, 300, 3),
            Resolution(600, 600, 3),
        ),
        _kw("pwg-raster-document-sheet-back", "normal"),
        _kw("pwg-raster-document-type-supported", *raster_types),
        _int("queued-job-count", view.queued),
        _kw("sides-default", "one-sided"),
        _kw("sides-supported", *sides),
        # Over IPPS an account logs on (HTTP Basic) where printing needs one; plain IPP
        # never takes a password.
        _kw("uri-authentication-supported", "basic" if view.needs_logon else "none"),
        _kw("uri-security-supported", "tls" if view.secure else "none"),
        _kw("urf-supported", *urf_supported(cfg)),
        _kw("which-jobs-supported", *WHICH_JOBS),
    ]


def urf_supported(cfg: PrinterConfig) -> tuple[str, ...]:
    """Apple raster capabilities, also the ``URF`` TXT key (joined by commas)."""
    values = ["V1.4", "CP1", "PQ3-4-5", "RS300-600", "W8", "IS1", "MT1"]
    if cfg.color:
        values.append("SRGB24")
    if cfg.duplex:
        values.append("DM1")
    return tuple(values)


# requested-attributes group names (RFC 8011 §4.2.5.1, PWG 5100.7).
JOB_TEMPLATE_PRINTER = frozenset(
    name
    for t in JOB_TEMPLATE
    for name in (f"{t}-default", f"{t}-supported", f"{t}-ready", f"{t}-database")
) | {"media-col-ready", "media-ready"}


def filter_requested(
    attributes: Iterable[Attribute], requested: Sequence[str] | None
) -> list[Attribute]:
    """The attributes a requested-attributes list asks for (None or "all": every one but
    media-col-database, which RFC 8011 leaves out of "all" unless named)."""
    wanted = set(requested or ("all",))
    everything = "all" in wanted
    out = []
    for a in attributes:
        if a.name in wanted:
            out.append(a)
        elif a.name == "media-col-database":
            continue
        elif everything or _in_named_group(a.name, wanted):
            out.append(a)
    return out


def _in_named_group(name: str, wanted: set[str]) -> bool:
    if name in JOB_TEMPLATE_PRINTER:
        return "job-template" in wanted
    return "printer-description" in wanted


def _time_or_none(name: str, at: float | None, started: float) -> Attribute:
    if at is None:
        return attr(name, Tag.NO_VALUE, None)
    return _int(name, up_time(started, at))


def _date_or_none(name: str, at: float | None) -> Attribute:
    return (
        attr(name, Tag.NO_VALUE, None)
        if at is None
        else attr(name, Tag.DATE_TIME, ipp_datetime(at))
    )


def job_uri(printer_uri: str, job_id: int) -> str:
    return f"{printer_uri}/{job_id}"


def job_attributes(job: Job, printer_uri: str, started: float, now: float) -> list[Attribute]:
    values: list[tuple[str, int, Payload]] = [
        ("job-id", Tag.INTEGER, job.id),
        ("job-uri", Tag.URI, job_uri(printer_uri, job.id)),
        ("job-printer-uri", Tag.URI, printer_uri),
        ("job-name", Tag.NAME, job.name or "untitled"),
        ("job-originating-user-name", Tag.NAME, job.user),
        ("job-state", Tag.ENUM, int(job.state)),
        ("job-state-message", Tag.TEXT, job.message or _STATE_TEXT[job.state]),
        ("job-printer-up-time", Tag.INTEGER, up_time(started, now)),
        ("job-k-octets", Tag.INTEGER, (job.size + 1023) // 1024),
        ("job-impressions-completed", Tag.INTEGER, 0),
        ("document-format", Tag.MIME_TYPE, job.format),
        ("copies", Tag.INTEGER, job.copies),
        ("number-of-documents", Tag.INTEGER, 1 if job.has_document else 0),
        ("time-at-creation", Tag.INTEGER, up_time(started, job.created)),
    ]
    return [
        *(attr(n, t, v) for n, t, v in values),
        _kw("job-state-reasons", *job.reasons),
        attr("date-time-at-creation", Tag.DATE_TIME, ipp_datetime(job.created)),
        _time_or_none("time-at-processing", job.processing, started),
        _time_or_none("time-at-completed", job.completed, started),
        _date_or_none("date-time-at-processing", job.processing),
        _date_or_none("date-time-at-completed", job.completed),
    ]


_STATE_TEXT = {
    JobState.PENDING: "waiting to print",
    JobState.PENDING_HELD: "held",
    JobState.PROCESSING: "printing",
    JobState.PROCESSING_STOPPED: "stopped",
    JobState.CANCELED: "canceled",
    JobState.ABORTED: "aborted",
    JobState.COMPLETED: "printed",
}
