"""The printers service: shares this PC's printers as IPP Everywhere printers.

While its IPP server runs, its advert gives this PC the ``printers`` role, the
signed ``ipp`` port and one ``_ipp._tcp`` record per printer (with the
``_universal._sub`` subtype and the TXT keys AirPrint and IPP Everywhere
clients read), so print dialogs list the printers without a driver.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from peerwork.config import Config
from peerwork.config.printers import PRINTERS, PrinterConfig, PrintersSection

from ..adverts import DnsSdRecord, ServiceAdvert
from ..service import EventSink, Route, Service, no_events
from .attributes import printer_uuid, urf_supported
from .jobs import Job
from .operations import PrinterOperations
from .queue import JobBook
from .server import IppHttpServer
from .spool import Spool

if TYPE_CHECKING:
    from ..context import ServiceContext

log = logging.getLogger("peerwork.printers")
IPP_TYPE = "_ipp._tcp.local."
UNIVERSAL = "_universal._sub._ipp._tcp.local."
# CUPS printer-type bits: black-and-white / colour, duplex, copies.
_BW, _COLOR, _DUPLEX, _COPIES = 0x8, 0x4, 0x10, 0x40


def printer_txt(printer: PrinterConfig, peer_id: str, admin_url: str) -> dict[str, str]:
    """The TXT keys of one printer's ``_ipp._tcp`` record (PWG 5100.14 §4.2, Bonjour Printing)."""
    kind = (_COLOR if printer.color else _BW) | (_DUPLEX if printer.duplex else 0) | _COPIES
    return {
        "txtvers": "1",
        "qtotal": "1",
        "rp": f"ipp/print/{printer.name}",
        "ty": printer.make_model,
        "note": printer.location,
        "product": f"({printer.make_model})",
        "pdl": ",".join(printer.formats),
        "URF": ",".join(urf_supported(printer)),
        "UUID": printer_uuid(peer_id, printer.name).removeprefix("urn:uuid:"),
        "Color": "T" if printer.color else "F",
        "Duplex": "T" if printer.duplex else "F",
        "kind": "document",
        "adminurl": admin_url,
        "printer-type": f"0x{kind:X}",
        "printer-state": "3",
    }


def printers_advert(
    settings: PrintersSection, port: int, peer_name: str, peer_id: str
) -> ServiceAdvert:
    records = tuple(
        DnsSdRecord(
            IPP_TYPE,
            port,
            printer_txt(p, peer_id, f"http://{peer_name}.local:{port}/"),
            (UNIVERSAL,),
            instance=f"{p.name} @ {peer_name}",
        )
        for p in settings.printers
    )
    return ServiceAdvert(roles=("printers",), ports={"ipp": port}, records=records)


class PrinterService(Service):
    name = "printers"
    section = PRINTERS

    def __init__(
        self,
        *,
        settings: PrintersSection,
        spool: Path,
        peer_name: str,
        peer_id: str,
        emit: EventSink = no_events,
    ) -> None:
        super().__init__(emit)
        self.settings = settings
        self.spool_dir = spool
        self.peer_name, self.peer_id = peer_name, peer_id
        self.book: JobBook | None = None
        self._server: IppHttpServer | None = None

    @classmethod
    def disabled_reason(cls, settings: Any, config: Config) -> str:
        if why := super().disabled_reason(settings, config):
            return why
        if not settings.printers:
            return "no printers shared (add a [[printers.printer]] table to peerwork.toml)"
        return ""

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> PrinterService:
        return cls(
            settings=ctx.settings,
            spool=ctx.paths.root / "spool",
            peer_name=ctx.peer.name,
            peer_id=ctx.identity.peer_id,
            emit=ctx.emit,
        )

    async def _start(self) -> None:
        book = JobBook(Spool(self.spool_dir), self.settings)
        book.load()
        ops = PrinterOperations(book, self.peer_id, self._identify)
        server = IppHttpServer(ops, self.settings.bind, self.settings.port)
        await server.start()
        self.book, self._server = book, server
        self.run_supervised(book.run(), "print queue")

    async def _stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None
        self.book = None

    def _identify(self, text: str) -> None:
        log.info("printers: %s", text)
        self.emit("printer-identify", {"message": text})

    def advert(self) -> ServiceAdvert | None:
        if self._server is None:
            return None
        return printers_advert(self.settings, self._server.port, self.peer_name, self.peer_id)

    def ports(self) -> dict[str, int]:
        return {"ipp": self._server.port} if self._server is not None else {}

    def summary(self) -> str:
        waiting = len(self._jobs(active=True))
        return f"{len(self.settings.printers)} printer(s), {waiting} job(s) waiting"

    def details(self) -> dict[str, Any]:
        return {
            "bind": self.settings.bind,
            "printers": [self._printer_json(p) for p in self.settings.printers],
        }

    def notes(self) -> list[str]:
        return [
            f"printer {p['name']}: {p['uri']} -> {p['backend']}" for p in self.details()["printers"]
        ]

    def _printer_json(self, printer: PrinterConfig) -> dict[str, Any]:
        port = self._server.port if self._server else 0
        return {
            "name": printer.name,
            "backend": printer.backend,
            "info": printer.info,
            "location": printer.location,
            "formats": list(printer.formats),
            "uri": f"ipp://{self.peer_name}.local:{port}/ipp/print/{printer.name}",
            "jobs_waiting": sum(1 for j in self._jobs(active=True) if j.printer == printer.name),
        }

    def _jobs(self, active: bool = False) -> list[Job]:
        if self.book is None:
            return []
        jobs = sorted(self.book.jobs.values(), key=lambda j: j.id)
        return [j for j in jobs if not j.finished] if active else jobs

    def routes(self) -> Sequence[Route]:
        # /v1/printers itself is the service's status, whose details list the printers.
        return (Route("GET", "/jobs", self._jobs_route, alias="/v1/jobs"),)

    async def _jobs_route(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"jobs": [j.to_json() for j in self._jobs()]})
