"""**Accounts**: the workgroup's accounts; add, change password, remove."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from peerwork.accounts import validate_account_name
from peerwork.errors import InvalidInput
from peerwork.text import printable

from ..widgets.tables import cell, selected_key
from .base import PeerworkScreen
from .dialogs import ConfirmDialog, Field, FormDialog, Submit


class PasswordForm(FormDialog):
    """Name (when adding) and the password twice; refuses a mismatch or a bad name."""

    def __init__(self, name: str | None, submit: Submit) -> None:
        fields = [] if name else [Field("name", "Account name", placeholder="e.g. alice")]
        fields += [
            Field("password", "Password", password=True),
            Field("again", "Password again", password=True),
        ]
        title = f"New password for {name}" if name else "Add an account"
        super().__init__(title, fields, ok="Save", submit=submit)

    def check(self, values: dict[str, str]) -> str:
        if "name" in values:
            try:
                validate_account_name(values["name"])
            except InvalidInput as exc:
                return exc.message
        if not values["password"]:
            return "give a password (accounts without one cannot log on)"
        if values["password"] != values["again"]:
            return "the two passwords differ"
        return ""


class AccountsScreen(PeerworkScreen):
    MODE = "accounts"
    BINDINGS = [
        Binding("a", "add", "Add"),
        Binding("p", "password", "Password"),
        Binding("d,delete", "remove", "Remove"),
    ]

    def body(self) -> ComposeResult:
        table: DataTable[Text] = DataTable(id="accounts", cursor_type="row", zebra_stripes=True)
        table.add_column("Account", key="name")
        yield table
        yield Static(
            "The same accounts and passwords work on every PC of the workgroup.",
            classes="details",
        )

    def show(self, what: str) -> None:
        if what not in ("all", "accounts"):
            return
        table = self.query_one("#accounts", DataTable)
        keep = table.cursor_row
        table.clear()
        names = self.pw.view.snapshot.accounts or ()
        for name in names:
            table.add_row(cell(name, limit=80), key=name)
        if names:
            table.move_cursor(row=min(keep, len(names) - 1))

    def selected(self) -> str | None:
        return selected_key(self.query_one("#accounts", DataTable))

    def action_add(self) -> None:
        async def submit(values: dict[str, str]) -> str:
            name = values["name"].strip()
            _, problem = await self.pw.ask(self.pw.api.add_account(name, values["password"]))
            if not problem:
                self.pw.notify(f"Account {printable(name)} added.")
            return problem

        self.app.push_screen(PasswordForm(None, submit))

    def action_password(self) -> None:
        name = self.selected()
        if name is None:
            return

        async def submit(values: dict[str, str]) -> str:
            _, problem = await self.pw.ask(self.pw.api.set_password(name, values["password"]))
            if not problem:
                self.pw.notify(f"Password of {printable(name)} changed.")
            return problem

        self.app.push_screen(PasswordForm(name, submit))

    @work(exclusive=True, group="accounts")
    async def action_remove(self) -> None:
        name = self.selected()
        if name is None:
            return
        question = f"Remove the account {printable(name)}? It can no longer log on anywhere."
        if await self.app.push_screen_wait(ConfirmDialog(question, yes="Remove")):
            await self.pw.attempt(self.pw.api.remove_account(name), f"Account {name} removed.")

    def palette(self) -> list[tuple[str, str, str]]:
        return [
            ("Add an account", "a workgroup account with a password", "add"),
            ("Change the selected account's password", "", "password"),
            ("Remove the selected account", "asks first", "remove"),
        ]
