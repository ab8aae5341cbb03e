"""The printers service: shares this PC's printers as IPP Everywhere printers.

While its IPP server runs, its advert gives this PC the ``printers`` role, the
signed ``ipp``/``ipps`` ports and printer names (``pr`` keys), and one
``_ipp._tcp`` and one ``_ipps._tcp`` record per printer (with the
``_universal._sub`` subtype and the TXT keys AirPrint and IPP Everywhere
clients read), so print dialogs list the printers without a driver.

The service runs with no printer shared too (no IPP port open, nothing
announced), so ``peerwork printer add`` and a reload apply live: :meth:`apply`
opens, moves or closes the IPP server as the section asks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from peerwork.accounts import AccountStore
from peerwork.config import Config
from peerwork.config.printers import PRINTERS, PrinterConfig, PrintersSection
from peerwork.password_logon import PasswordLogon
from peerwork.printer_grants import grants_json
from peerwork.proto.share_list import encode_printers

from ..adverts import DnsSdRecord, ServiceAdvert
from ..peer_tls import peer_tls_context
from ..service import EventSink, Route, Service, no_events
from .attributes import printer_uuid, urf_supported
from .jobs import Job
from .operations import PrinterOperations
from .queue import JobBook
from .routes import printer_routes
from .server import IppHttpServer, Tls
from .spool import Spool

if TYPE_CHECKING:
    from peerwork.config import ConfigFile

    from ..context import ServiceContext

log = logging.getLogger("peerwork.printers")
IPP_TYPE = "_ipp._tcp.local."
IPPS_TYPE = "_ipps._tcp.local."
UNIVERSAL = "_universal._sub._ipp._tcp.local."
UNIVERSAL_IPPS = "_universal._sub._ipps._tcp.local."
PRINTERS_TXT_BUDGET = 400  # bytes of the signed record for printer names
# CUPS printer-type bits: black-and-white / colour, duplex, copies.
_BW, _COLOR, _DUPLEX, _COPIES = 0x8, 0x4, 0x10, 0x40
# What a server restart is needed for (the rest of the section applies in place).
_SERVER_KEYS = ("bind", "port", "ipps", "ipps_port")


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
    settings: PrintersSection,
    port: int,
    peer_name: str,
    peer_id: str,
    ipps_port: int | None = None,
) -> ServiceAdvert:
    records: list[DnsSdRecord] = []
    for p in settings.printers:
        txt = printer_txt(p, peer_id, f"http://{peer_name}.local:{port}/")
        instance = f"{p.name} @ {peer_name}"
        records.append(DnsSdRecord(IPP_TYPE, port, txt, (UNIVERSAL,), instance=instance))
        if ipps_port is not None:
            # TLS: the highest version offered (the IPP Everywhere key for IPPS).
            secure = txt | {"TLS": "1.3", "adminurl": f"https://{peer_name}.local:{ipps_port}/"}
            records.append(
                DnsSdRecord(IPPS_TYPE, ipps_port, secure, (UNIVERSAL_IPPS,), instance=instance)
            )
    ports = {"ipp": port} | ({"ipps": ipps_port} if ipps_port is not None else {})
    names = encode_printers((p.name for p in settings.printers), PRINTERS_TXT_BUDGET)
    return ServiceAdvert(roles=("printers",), ports=ports, records=tuple(records), extra=names)


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
        accounts: AccountStore | None = None,
        identity_folder: Path | None = None,
        config_file: ConfigFile | None = None,
        owner: str = "",
    ) -> None:
        """``accounts``: who may log on over IPPS; ``identity_folder``: the peer
        certificate IPPS serves (no IPPS without it); ``config_file``: where
        ``peerwork printer add`` writes (no such routes without it)."""
        super().__init__(emit)
        self.settings = settings
        self.spool_dir = spool
        self.peer_name, self.peer_id = peer_name, peer_id
        self.logon = PasswordLogon(accounts) if accounts is not None else None
        self.identity_folder = identity_folder
        self.config_file, self.owner = config_file, owner
        self.book: JobBook | None = None
        self._ops: PrinterOperations | None = None
        self._server: IppHttpServer | None = None

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> PrinterService:
        return cls(
            settings=ctx.settings,
            spool=ctx.paths.root / "spool",
            peer_name=ctx.peer.name,
            peer_id=ctx.identity.peer_id,
            emit=ctx.emit,
            accounts=ctx.accounts,
            identity_folder=ctx.paths.identity,
            config_file=ctx.actions.config,
            owner=ctx.peer.owner,
        )

    @classmethod
    def disabled_reason(cls, settings: Any, config: Config) -> str:
        return super().disabled_reason(settings, config)

    async def _start(self) -> None:
        book = JobBook(Spool(self.spool_dir), self.settings)
        book.load()
        self.book = book
        self._ops = PrinterOperations(book, self.peer_id, self._identify)
        await self._open_server()
        self.run_supervised(book.run(), "print queue")

    async def _open_server(self) -> None:
        """The IPP (and IPPS) listener, while at least one printer is shared."""
        if not self.settings.printers or self._ops is None:
            return
        tls = None
        if self.settings.ipps and self.identity_folder is not None:
            tls = Tls(peer_tls_context(self.identity_folder), self.settings.ipps_port)
        server = IppHttpServer(self._ops, self.settings.bind, self.settings.port, tls, self.logon)
        await server.start()
        self._server = server

    async def _close_server(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            await server.stop()

    async def _stop(self) -> None:
        await self._close_server()
        if self.book is not None:
            await self.book.close()
        self.book = self._ops = None

    async def apply(self, settings: Any) -> bool:
        """Take a changed [printers] section live: printers added, removed or regranted
        at once; a new port or bind address reopens the listener."""
        old, self.settings = self.settings, settings
        if self.book is None:
            return True  # not running: _start reads the new settings
        self.book.settings = settings
        reopen = any(getattr(old, k) != getattr(settings, k) for k in _SERVER_KEYS)
        if reopen or not settings.printers:
            await self._close_server()
        if self._server is None and settings.printers:
            try:
                await self._open_server()
            except OSError as exc:
                self.fail(exc)
                return True
        self.publish()
        self.emit("service", self.status().to_json())
        self.book.wakeup.set()
        return True

    def _identify(self, text: str) -> None:
        log.info("printers: %s", text)
        self.emit("printer-identify", {"message": text})

    def advert(self) -> ServiceAdvert | None:
        if self._server is None:
            return None
        return printers_advert(
            self.settings, self._server.port, self.peer_name, self.peer_id, self._server.tls_port
        )

    def ports(self) -> dict[str, int]:
        if self._server is None:
            return {}
        tls = self._server.tls_port
        return {"ipp": self._server.port} | ({"ipps": tls} if tls is not None else {})

    def summary(self) -> str:
        if not self.settings.printers:
            return "no printers shared (peerwork printer add NAME --backend URI)"
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
        ports = self.ports()
        host = f"{self.peer_name}.local"
        ipps = ports.get("ipps")
        return {
            "name": printer.name,
            "backend": printer.backend,
            "info": printer.info,
            "location": printer.location,
            "make_model": printer.make_model,
            "formats": list(printer.formats),
            "grants": grants_json(printer.grants),
            "paused": self.book.is_paused(printer.name) if self.book else False,
            "uri": f"ipp://{host}:{ports.get('ipp', 0)}/ipp/print/{printer.name}",
            "ipps_uri": f"ipps://{host}:{ipps}/ipp/print/{printer.name}" if ipps else None,
            "jobs_waiting": sum(1 for j in self._jobs(active=True) if j.printer == printer.name),
        }

    def _jobs(self, active: bool = False) -> list[Job]:
        if self.book is None:
            return []
        jobs = sorted(self.book.jobs.values(), key=lambda j: j.id)
        return [j for j in jobs if not j.finished] if active else jobs

    def routes(self) -> Sequence[Route]:
        # /v1/printers itself is the service's status, whose details list the printers.
        return printer_routes(self)
