"""The printers service's control routes, under ``/v1/printers``.

Thin: decode, change ``peerwork.toml`` through :mod:`peerwork.config.printer_edit`,
hand the new section to the service (which applies it live), encode.
``/jobs`` (and the older ``/v1/jobs``) lists jobs; ``DELETE /jobs/ID`` cancels
one as this PC's owner (the control socket is theirs alone).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from peerwork.config.printer_edit import (
    add_printer,
    new_printer,
    remove_printer,
    set_printer_grants,
)
from peerwork.errors import InvalidInput, NotFound, PeerworkError
from peerwork.printer_grants import PrintAccess, grants_json, parse_print_grant
from peerwork.shares import SPECIAL_GRANTEES

from ..control_input import json_body, names_field, text_field
from ..service import Route
from .jobs import JobEvent

if TYPE_CHECKING:
    from peerwork.config import ConfigFile
    from peerwork.config.printers import PrinterConfig

    from .service import PrinterService


class NotRunning(PeerworkError):
    code = "printers-not-running"
    http_status = 409


def _grants(data: dict[str, Any]) -> dict[str, PrintAccess]:
    raw = data.get("grants", [])
    if isinstance(raw, list):  # ["alice=manage", ...] as typed on the command line
        return dict(parse_print_grant(str(g)) for g in raw)
    if isinstance(raw, dict):
        return {str(k): PrintAccess.parse(str(v)) for k, v in raw.items()}
    raise InvalidInput("grants must be an object {who: level} or a list of 'who=level'")


def _printer_json(printer: PrinterConfig, warnings: list[str]) -> dict[str, Any]:
    return printer.to_json() | {"grants": grants_json(printer.grants), "warnings": warnings}


def printer_routes(service: PrinterService) -> list[Route]:
    def config() -> ConfigFile:
        if service.config_file is None:
            raise NotFound("this agent keeps no peerwork.toml to add printers to")
        return service.config_file

    async def applied(file: ConfigFile) -> None:
        await service.apply(file.config.section("printers"))

    def warnings(printer: PrinterConfig) -> list[str]:
        notes = []
        if printer.backend.startswith("file:"):
            folder = Path(printer.backend[len("file:") :])
            if not folder.is_dir():
                notes.append(f"{folder} does not exist yet: jobs wait until it does")
        accounts = service.logon.accounts if service.logon is not None else None
        for who, level in printer.grants:
            if level and who not in SPECIAL_GRANTEES and accounts and accounts.get(who) is None:
                notes.append(f"no account {who!r} yet: add it with 'peerwork user add {who}'")
        return notes

    async def add(request: web.Request) -> web.Response:
        data = await json_body(request)
        file = config()
        printer = new_printer(
            text_field(data, "name"),
            text_field(data, "backend"),
            grants=_grants(data),
            owner=file.config.peer.owner,
            info=text_field(data, "info", required=False),
            location=text_field(data, "location", required=False),
            make_model=text_field(data, "make_model", required=False),
        )
        printer = add_printer(file, printer)
        await applied(file)
        service.emit("printer-added", printer.to_json())
        return web.json_response(_printer_json(printer, warnings(printer)), status=201)

    async def update(request: web.Request) -> web.Response:
        data = await json_body(request)
        file = config()
        printer = set_printer_grants(
            file, request.match_info["name"], _grants(data), names_field(data, "revoke")
        )
        await applied(file)
        service.emit("printer-changed", printer.to_json())
        return web.json_response(_printer_json(printer, warnings(printer)))

    async def remove(request: web.Request) -> web.Response:
        file = config()
        printer = remove_printer(file, request.match_info["name"])
        await applied(file)
        service.emit("printer-removed", printer.to_json())
        return web.json_response(_printer_json(printer, []))

    async def jobs(request: web.Request) -> web.Response:
        book = service.book
        listed = sorted(book.jobs.values(), key=lambda j: j.id) if book else []
        return web.json_response({"jobs": [j.to_json() for j in listed]})

    async def cancel(request: web.Request) -> web.Response:
        book = service.book
        if book is None:
            raise NotRunning(f"the printers service is {service.state.value}")
        try:
            job_id = int(request.match_info["job"])
        except ValueError:
            raise InvalidInput("a job id is a number (see peerwork jobs)") from None
        if job_id not in book.jobs:
            raise NotFound(f"no job {job_id} here (see peerwork jobs)")
        job = await book.apply(job_id, JobEvent.CANCEL, "canceled by this PC's owner")
        return web.json_response(job.to_json())

    return [
        Route("GET", "/jobs", jobs, alias="/v1/jobs"),
        Route("DELETE", "/jobs/{job}", cancel),
        Route("POST", "/printers", add),
        Route("PATCH", "/printers/{name}", update),
        Route("DELETE", "/printers/{name}", remove),
    ]
