"""**Mail**: the owner's inbox at this PC's post office, as the mail service lists it."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from peerwork.models import ServiceState
from peerwork.text import printable

from ..widgets.tables import cell
from .base import PeerworkScreen

MISSING = (
    "Reading a message, composing and sending with attachments are not there yet in "
    "the agent's control API; use a mail client (POP3/IMAP) meanwhile."
)


class MailScreen(PeerworkScreen):
    MODE = "mail"
    BINDINGS = [Binding("r", "reload", "Reload")]

    def body(self) -> ComposeResult:
        yield Static(id="mail-state")
        inbox: DataTable[Text] = DataTable(id="inbox", cursor_type="row")
        inbox.add_column("From", key="from", width=22)
        inbox.add_column("Subject", key="subject")
        inbox.add_column("Size", key="size", width=8)
        yield inbox
        yield Static(MISSING, classes="missing")

    def show(self, what: str) -> None:
        if what in ("all", "status"):
            self.action_reload()

    @work(exclusive=True, group="mail")
    async def action_reload(self) -> None:
        status = self.pw.view.snapshot.status
        svc = status.service("mail") if status else None
        state = self.query_one("#mail-state", Static)
        inbox = self.query_one("#inbox", DataTable)
        if status is None or svc is None or svc.state is not ServiceState.RUNNING:
            why = f"{svc.state.value} — {printable(svc.reason)}" if svc else "not in this agent"
            state.update(Text(f"Mail service: {why}"))
            inbox.display = False
            return
        owner = status.peer.owner
        if not owner:
            state.update(Text("This PC has no owner account ([peer] owner): no inbox to show."))
            inbox.display = False
            return
        messages = await self.pw.attempt(self.pw.api.inbox(owner))
        if messages is None:
            return
        state.update(Text(f"Inbox of {printable(owner)}: {len(messages)} message(s)", style="bold"))
        inbox.display = True
        inbox.clear()
        for m in messages if isinstance(messages, list) else []:
            inbox.add_row(
                cell(m.get("from", ""), 60), cell(m.get("subject", "")), cell(m.get("size", ""))
            )
