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
from peerwork.errors import NotFound, PeerworkError, describe_os_error
from peerwork.models import ServiceState
from peerwork.text import printable

from ..widgets.tables import cell, selected_key
from .base import PeerworkScreen
from .dialogs import ConfirmDialog, Field, FormDialog

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
        self.remote: list[dict[str, Any]] = []
        self.queue = ""  # the printer whose queue is shown; "" for all of this PC's

    BINDINGS = [
        Binding("p", "print", "Print a file"),
        Binding("f", "queue", "Queue of…"),
        Binding("x", "cancel", "Cancel job"),
        Binding("r", "reload", "Reload"),
    ]

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
                "p prints a PDF, JPEG, PWG raster or URF file here or on PC/PRINTER; "
                "f shows one printer's queue; x cancels the selected job.",
                classes="missing",
            )

    def palette(self) -> list[tuple[str, str, str]]:
        return [
            ("Print a file", "on a printer of this PC or of another PC", "print"),
            ("Show one printer's queue", "cycles through this PC's printers", "queue"),
            ("Cancel the selected job", "asks first", "cancel"),
        ]

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
        remote = await self.pw.attempt(self.pw.api.peer_printers())
        self.remote = remote if isinstance(remote, list) else []
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
        names = [f"{printable(r['peer'])}/{printable(r['name'])}" for r in self.remote]
        text.append("Other PCs' printers: ", style="bold")
        text.append(", ".join(names) or "none seen")
        text.append(f"\nQueue of {printable(self.queue) if self.queue else 'every printer here'}")
        info.update(text)
        jobs_table.display = True
        jobs_table.clear()
        for job in jobs if isinstance(jobs, list) else []:
            if self.queue and str(job.get("printer", "")).casefold() != self.queue.casefold():
                continue
            state = job.get("state")
            label = JOB_STATES.get(state, str(state)) if isinstance(state, int) else str(state)
            jobs_table.add_row(
                cell(job.get("id", "")),
                cell(job.get("printer", "")),
                cell(label),
                cell(job.get("user", "")),
                cell(job.get("name", "")),
                key=str(job.get("id", "")),
            )

    def action_queue(self) -> None:
        names = [""] + [str(p.get("name", "")) for p in self.printers]
        at = names.index(self.queue) if self.queue in names else 0
        self.queue = names[(at + 1) % len(names)]
        self.action_reload()

    @work(exclusive=True, group="print")
    async def action_cancel(self) -> None:
        job = selected_key(self.query_one("#jobs", DataTable))
        if not job:
            return
        question = f"Cancel print job {printable(job)}?"
        if not await self.app.push_screen_wait(ConfirmDialog(question, yes="Cancel the job")):
            return
        done = await self.pw.attempt(self.pw.api.cancel_job(job))
        if done is not None:
            self.pw.notify(f"Job {printable(job)} canceled.")
        self.action_reload()

    def _uri(self, target: str, status: dict[str, Any]) -> str:
        """``NAME`` on this PC, or ``PC/NAME`` among the printers other PCs announce."""
        pc, _, name = target.rpartition("/")
        if not pc:
            return local_printer_uri(status, name)
        for r in self.remote:
            if r["peer"].casefold() == pc.casefold() and r["name"].casefold() == name.casefold():
                return str(r["uri"])
        raise NotFound(f"{pc} shares no printer {name} (none announced)")

    @work(exclusive=True, group="print")
    async def action_print(self) -> None:
        if not self.printers and not self.remote:
            self.pw.notify("No printer is shared here or seen on another PC.", severity="warning")
            return
        first = str(self.printers[0].get("name", "")) if self.printers else ""
        if not first:
            first = f"{self.remote[0]['peer']}/{self.remote[0]['name']}"
        values = await self.app.push_screen_wait(
            FormDialog(
                "Print a file",
                [
                    Field("file", "File (PDF, JPEG, PWG raster, URF)", placeholder="/path/x.pdf"),
                    Field("printer", "Printer (NAME here, or PC/NAME)", value=first),
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
            uri = self._uri(values["printer"].strip(), status)
            done = await asyncio.to_thread(print_file, uri, path, user=getpass.getuser())
        except PeerworkError as exc:
            self.pw.notify(printable(exc.message, limit=300), severity="error", timeout=10)
            return
        except OSError as exc:
            self.pw.notify(describe_os_error(exc), severity="error", timeout=10)
            return
        self.pw.notify(f"Job {done.job_id} sent to {printable(values['printer'])}.")
        self.action_reload()
