"""**Printers**: this PC's shared printers and the real print queue."""

from __future__ import annotations

import asyncio
import getpass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from peerwork.client.ipp import print_file
from peerwork.client.local_printer import local_printer_uri
from peerwork.errors import PeerworkError, describe_os_error
from peerwork.models import ServiceState
from peerwork.text import printable

from ..widgets.tables import cell
from .base import PeerworkScreen
from .dialogs import Field, FormDialog

JOB_STATES = {
    3: "pending",
    4: "held",
    5: "printing",
    6: "stopped",
    7: "canceled",
    8: "aborted",
    9: "done",
}


class PrintersScreen(PeerworkScreen):
    MODE = "printers"

    def __init__(self) -> None:
        super().__init__()
        self.printers: list[dict[str, Any]] = []

    BINDINGS = [Binding("p", "print", "Print a file"), Binding("r", "reload", "Reload")]

    def body(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="printers")
            jobs: DataTable[Text] = DataTable(id="jobs", cursor_type="row")
            jobs.add_column("Job", key="id", width=6)
            jobs.add_column("Printer", key="printer", width=14)
            jobs.add_column("State", key="state", width=9)
            jobs.add_column("User", key="user", width=10)
            jobs.add_column("Document", key="name")
            yield jobs
            yield Static(
                "p prints a PDF, JPEG, PWG raster or URF file on a printer of this PC.",
                classes="missing",
            )

    def palette(self) -> list[tuple[str, str, str]]:
        return [("Print a file", "on a printer of this PC", "print")]

    def show(self, what: str) -> None:
        if what in ("all", "status"):
            self.action_reload()

    @work(exclusive=True, group="printers")
    async def action_reload(self) -> None:
        status = self.pw.view.snapshot.status
        svc = status.service("printers") if status else None
        info = self.query_one("#printers", Static)
        jobs_table = self.query_one("#jobs", DataTable)
        if svc is None:
            info.update("This agent has no printers service.")
            jobs_table.display = False
            return
        if svc.state is not ServiceState.RUNNING:
            text = Text(f"Printers: {svc.state.value}", style="bold")
            if svc.reason:
                text.append(f" — {printable(svc.reason)}")
            info.update(text)
            jobs_table.display = False
            return
        got = await self.pw.attempt(self.pw.api.printers())
        self.printers = got[1] if got else []
        jobs = await self.pw.attempt(self.pw.api.jobs())
        if not got or jobs is None:
            return
        _status, printers = got
        text = Text("Shared printers\n", style="bold")
        for p in printers:
            text.append(f"  {printable(p.get('name', '?'))}", style="bold")
            text.append(f"  → {printable(p.get('backend', ''))}")
            text.append(f"  ({p.get('jobs_waiting', 0)} waiting)\n")
        if not printers:
            text.append("  none\n")
        info.update(text)
        jobs_table.display = True
        jobs_table.clear()
        for job in jobs if isinstance(jobs, list) else []:
            state = job.get("state")
            label = JOB_STATES.get(state, str(state)) if isinstance(state, int) else str(state)
            jobs_table.add_row(
                cell(job.get("id", "")),
                cell(job.get("printer", "")),
                cell(label),
                cell(job.get("user", "")),
                cell(job.get("name", "")),
            )

    @work(exclusive=True, group="print")
    async def action_print(self) -> None:
        if not self.printers:
            self.pw.notify("No printer is shared on this PC.", severity="warning")
            return
        first = str(self.printers[0].get("name", ""))
        values = await self.app.push_screen_wait(
            FormDialog(
                "Print a file",
                [
                    Field("file", "File (PDF, JPEG, PWG raster, URF)", placeholder="/path/x.pdf"),
                    Field("printer", "Printer of this PC", value=first),
                ],
                ok="Print",
            )
        )
        if values is None:
            return
        path = Path(values["file"].strip()).expanduser()  # noqa: ASYNC240 - no disk I/O
        status, problem = await self.pw.ask(self.pw.api.client.get("/printers"))
        if problem:
            self.pw.notify(problem, severity="error")
            return
        try:
            uri = local_printer_uri(status, values["printer"].strip())
            done = await asyncio.to_thread(print_file, uri, path, user=getpass.getuser())
        except PeerworkError as exc:
            self.pw.notify(printable(exc.message, limit=300), severity="error", timeout=10)
            return
        except OSError as exc:
            self.pw.notify(describe_os_error(exc), severity="error", timeout=10)
            return
        self.pw.notify(f"Job {done.job_id} sent to {printable(values['printer'])}.")
        self.action_reload()
