"""**Mail**: an inbox at the workgroup's post office; read (saving attachments) and write
(with attachments) as an account, through ``peerwork mail``'s own client code.

Before a logon the agent's own listing of the owner's inbox is shown; ``l`` logs on
(account and password, kept for this session only) and from then on the inbox is read
over IMAP, as ``peerwork mail inbox`` does, so a mailbox on another PC works too.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from peerwork.errors import PeerworkError
from peerwork.models import ServiceState
from peerwork.text import printable

from ..mail_client import MailLogon
from ..widgets.tables import cell, selected_key
from .base import PeerworkScreen
from .dialogs import Field, FormDialog
from .mail_dialogs import ComposeDialog, MessageView

HINT = "l logs on · enter reads · c writes a message (with attachments) · r reloads"


class MailScreen(PeerworkScreen):
    MODE = "mail"
    BINDINGS = [
        Binding("c", "compose", "Write"),
        Binding("l", "logon", "Log on"),
        Binding("r", "reload", "Reload"),
    ]

    def body(self) -> ComposeResult:
        yield Static(id="mail-state")
        inbox: DataTable[Text] = DataTable(id="inbox", cursor_type="row")
        inbox.add_column("From", key="from", width=22)
        inbox.add_column("Subject", key="subject")
        inbox.add_column("Size", key="size", width=8)
        yield inbox
        yield Static(HINT, classes="missing")

    def show(self, what: str) -> None:
        if what in ("all", "status"):
            self.action_reload()

    def palette(self) -> list[tuple[str, str, str]]:
        return [
            ("Log on to a mailbox", "account and password, for this session", "logon"),
            ("Read the selected message", "and save its attachments", "read"),
            ("Write a message", "with attachments", "compose"),
        ]

    def _service_up(self) -> bool:
        status = self.pw.view.snapshot.status
        svc = status.service("mail") if status else None
        if status is not None and svc is not None and svc.state is ServiceState.RUNNING:
            return True
        why = f"{svc.state.value} — {printable(svc.reason)}" if svc else "not in this agent"
        self.query_one("#mail-state", Static).update(Text(f"Mail service: {why}"))
        self.query_one("#inbox", DataTable).display = False
        return False

    @work(exclusive=True, group="mail")
    async def action_reload(self) -> None:
        if not self._service_up():
            return
        state = self.query_one("#mail-state", Static)
        inbox = self.query_one("#inbox", DataTable)
        logon = self.pw.mail_logon
        if logon is not None:
            summaries = await self.pw.attempt(logon.inbox())
            if summaries is None:
                return
            who = printable(logon.home.address)
            state.update(Text(f"Inbox of {who}: {len(summaries)} message(s)", style="bold"))
            inbox.display = True
            inbox.clear()
            for m in summaries:
                style = "" if m.seen else "bold"
                inbox.add_row(
                    cell(m.sender, 60, style),
                    cell(m.subject, style=style),
                    cell(m.size, style=style),
                    key=str(m.id),
                )
            return
        status = self.pw.view.snapshot.status
        owner = status.peer.owner if status else ""
        if not owner:
            state.update(Text("This PC has no owner account ([peer] owner); l logs on."))
            inbox.display = False
            return
        messages = await self.pw.attempt(self.pw.api.inbox(owner))
        if messages is None:
            return
        state.update(
            Text(
                f"Inbox of {printable(owner)}: {len(messages)} message(s) — l to log on",
                style="bold",
            )
        )
        inbox.display = True
        inbox.clear()
        for m in messages if isinstance(messages, list) else []:
            inbox.add_row(
                cell(m.get("from", ""), 60), cell(m.get("subject", "")), cell(m.get("size", ""))
            )

    async def _logon(self) -> MailLogon | None:
        """The session's logon, asking for one first when there is none."""
        if self.pw.mail_logon is not None:
            return self.pw.mail_logon
        status = self.pw.view.snapshot.status
        owner = status.peer.owner if status else ""

        async def submit(values: dict[str, str]) -> str:
            try:
                self.pw.mail_logon = await MailLogon.open(
                    self.pw.api.client, values["account"], values["password"]
                )
            except PeerworkError as exc:
                return exc.message
            except OSError as exc:
                return f"could not reach the post office: {exc}"
            return ""

        await self.app.push_screen_wait(
            FormDialog(
                "Log on to a mailbox (kept for this session only)",
                [
                    Field("account", "Account", value=owner),
                    Field("password", "Password", password=True),
                ],
                ok="Log on",
                submit=submit,
            )
        )
        if self.pw.mail_logon is not None:
            self.action_reload()
        return self.pw.mail_logon

    @work(exclusive=True, group="mail-act")
    async def action_logon(self) -> None:
        self.pw.mail_logon = None
        await self._logon()

    def on_data_table_row_selected(self, _: DataTable.RowSelected) -> None:
        self.action_read()

    @work(exclusive=True, group="mail-act")
    async def action_read(self) -> None:
        had = self.pw.mail_logon is not None
        logon = await self._logon()
        if logon is None or not had:
            return  # the list now shows the IMAP ids: read from there
        key = selected_key(self.query_one("#inbox", DataTable))
        if key is None:
            return
        got = await self.pw.attempt(logon.read(int(key)))
        if got is None:
            return
        reading, _ = got

        async def save(folder: Path) -> str:
            result, problem = await self.pw.ask(logon.read(int(key), folder))
            if problem:
                return problem
            saved = result[1]
            self.pw.notify(f"Saved {len(saved)} file(s) into {printable(folder, limit=200)}.")
            return ""

        await self.app.push_screen_wait(MessageView(reading, save, str(Path.home())))
        self.action_reload()

    @work(exclusive=True, group="mail-act")
    async def action_compose(self) -> None:
        logon = await self._logon()
        if logon is None:
            return

        async def send(values: dict[str, str], attachments: list[Path]) -> str:
            try:
                draft = logon.draft(
                    values["to"], values["cc"], values["subject"], values["body"], attachments
                )
            except PeerworkError as exc:
                return exc.message
            sent, problem = await self.pw.ask(logon.send(draft))
            if problem:
                return problem
            note = f"Sent to {', '.join(sent.accepted)} ({sent.size} bytes)."
            if sent.refused:
                note += " Not sent to " + "; ".join(sent.refused)
            self.pw.notify(
                printable(note, limit=400), severity="warning" if sent.refused else "information"
            )
            return ""

        if await self.app.push_screen_wait(ComposeDialog(logon.home.address, send)):
            self.action_reload()
