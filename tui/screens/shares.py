"""**Shares** (this PC's): folder, name and grants; add, edit grants, remove."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from peerwork.text import printable

from ..view import ShareRow
from ..widgets.tables import cell, selected_key
from .base import PeerworkScreen
from .dialogs import ConfirmDialog
from .share_form import ShareForm, ShareRequest


def share_details(row: ShareRow) -> Text:
    text = Text()
    text.append(printable(row.share.name, limit=80), style="bold")
    text.append(f"  {printable(row.share.path, limit=200)}\n")
    if row.share.comment:
        text.append(f"{printable(row.share.comment, limit=200)}\n", style="italic")
    text.append(f"Access: {row.grants_text()}\n")
    if row.problem:
        text.append(f"Not served: {printable(row.problem, limit=300)}\n", style="bold red")
    for note in row.warnings:
        text.append(f"Warning: {printable(note, limit=300)}\n", style="yellow")
    return text


class SharesScreen(PeerworkScreen):
    MODE = "shares"
    BINDINGS = [
        Binding("a", "add", "Add"),
        Binding("e", "edit", "Edit grants"),
        Binding("d,delete", "remove", "Remove"),
    ]

    def body(self) -> ComposeResult:
        table: DataTable[str | Text] = DataTable(id="shares", cursor_type="row", zebra_stripes=True)
        table.add_column("Share", key="name", width=16)
        table.add_column("Folder", key="path", width=28)
        table.add_column("Access", key="grants")
        yield table
        yield Static(id="share-details", classes="details")

    def rows(self) -> tuple[ShareRow, ...]:
        return self.pw.view.snapshot.shares or ()

    def show(self, what: str) -> None:
        if what not in ("all", "shares"):
            return
        table = self.query_one("#shares", DataTable)
        keep = table.cursor_row
        table.clear()
        for row in self.rows():
            style = "red" if row.problem else ""
            table.add_row(
                Text(printable(row.share.name, limit=80), style=style, overflow="ellipsis"),
                Text(printable(row.share.path, limit=200), overflow="ellipsis"),
                cell(row.grants_text()),
                key=row.share.name.casefold(),
            )
        if self.rows():
            table.move_cursor(row=min(keep, len(self.rows()) - 1))
        self._details()

    def selected(self) -> ShareRow | None:
        key = selected_key(self.query_one("#shares", DataTable))
        return next((r for r in self.rows() if r.share.name.casefold() == key), None)

    def _details(self) -> None:
        row = self.selected()
        self.query_one("#share-details", Static).update(
            share_details(row) if row else "Nothing shared yet: press a to share a folder."
        )

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self._details()

    def _accounts(self) -> list[str]:
        return list(self.pw.view.snapshot.accounts or ())

    def _done(self, data: Any, message: str) -> None:
        self.pw.notify(message)
        for note in data.get("warnings", []) if isinstance(data, dict) else []:
            self.pw.notify(printable(note, limit=300), severity="warning", timeout=10)

    def action_add(self) -> None:
        async def submit(request: ShareRequest) -> str:
            data, problem = await self.pw.ask(
                self.pw.api.add_share(request.path, request.name, request.comment, request.grants)
            )
            if not problem:
                where, name = printable(data["path"]), printable(data["name"])
                self._done(data, f"Sharing {where} as '{name}'.")
            return problem

        status = self.pw.view.snapshot.status
        owner = status.peer.owner if status else ""
        self.app.push_screen(ShareForm(self._accounts(), submit, owner=owner))

    def action_edit(self) -> None:
        row = self.selected()
        if row is None:
            return
        name = row.share.name

        async def submit(request: ShareRequest) -> str:
            comment = request.comment if request.comment != row.share.comment else None
            if not request.grants and not request.revoke and comment is None:
                self.pw.notify("Nothing changed.")
                return ""
            data, problem = await self.pw.ask(
                self.pw.api.set_grants(name, request.grants, request.revoke, comment)
            )
            if not problem:
                self._done(data, f"Permissions of '{printable(name)}' saved.")
            return problem

        form = ShareForm(
            self._accounts(),
            submit,
            existing=name,
            path=str(row.share.path),
            comment=row.share.comment,
            grants=row.grants(),
        )
        self.app.push_screen(form)

    @work(exclusive=True, group="shares")
    async def action_remove(self) -> None:
        row = self.selected()
        if row is None:
            return
        question = (
            f"Stop sharing '{printable(row.share.name)}'? The folder "
            f"{printable(row.share.path)} itself is untouched."
        )
        if await self.app.push_screen_wait(ConfirmDialog(question, yes="Stop sharing")):
            await self.pw.attempt(
                self.pw.api.remove_share(row.share.name),
                f"Stopped sharing '{printable(row.share.name)}'.",
            )

    def palette(self) -> list[tuple[str, str, str]]:
        return [
            ("Share a folder", "folder, name, comment and who may use it", "add"),
            ("Edit the selected share's permissions", "", "edit"),
            ("Stop sharing the selected share", "asks first; the folder is untouched", "remove"),
        ]
