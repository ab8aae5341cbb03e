"""**Browse**: open a PC's share (credentials asked, kept for this session only),
navigate, copy files in and out with progress and cancel, make folders, delete.

The list is a DataTable, which draws only the rows on screen: a folder of thousands
of files stays responsive.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import time
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input, ProgressBar, Static

from peerwork.client.target import Target, parse_target
from peerwork.errors import LogonFailed, PeerworkError
from peerwork.text import printable

from ..remote import Cancelled, Credentials, RemotePeer, resolve, where
from ..widgets.tables import cell, selected_key
from .base import PeerworkScreen
from .dialogs import ConfirmDialog, Field, FormDialog

UP = ".."


def human(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return str(size)


class BrowseScreen(PeerworkScreen):
    MODE = "browse"
    BINDINGS = [
        Binding("o", "location", "Open…"),
        Binding("backspace", "up", "Up", show=False),
        Binding("g", "get", "Copy here"),
        Binding("u", "put", "Copy there"),
        Binding("m", "mkdir", "New folder"),
        Binding("d,delete", "delete", "Delete"),
        Binding("escape", "cancel", "Cancel copy", show=False),
        Binding("r", "reload", "Reload", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.target: Target | None = None
        self.remote: RemotePeer | None = None
        self.copying = False

    def body(self) -> ComposeResult:
        yield Input(placeholder="//PC/share/folder — or pick a PC on Workgroup", id="location")
        table: DataTable[Text] = DataTable(id="entries", cursor_type="row", zebra_stripes=True)
        table.add_column("Name", key="name", width=40)
        table.add_column("Size", key="size", width=10)
        table.add_column("Modified", key="mtime", width=16)
        yield table
        yield ProgressBar(id="progress", show_eta=False)
        yield Static(
            "Press o and type //PC/share, or pick a PC on Workgroup (2).",
            id="browse-status",
            classes="details",
        )

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#progress", ProgressBar).display = False
        self.query_one("#entries", DataTable).focus()

    def action_location(self) -> None:
        self.query_one("#location", Input).focus()

    async def on_unmount(self) -> None:
        await super().on_unmount()
        await self._drop_remote()

    def show(self, what: str) -> None:
        request = self.pw.browse_request
        if what in ("all", "browse") and request:
            self.pw.browse_request = ""
            self.query_one("#location", Input).value = f"//{request}"
            self.open(f"//{request}")

    def fail(self, text: str) -> None:
        """An error: in the status line (it stays) and as a notification."""
        self.status(text, error=True)
        self.pw.notify(printable(text, limit=300), severity="error")

    def status(self, text: str, *, error: bool = False) -> None:
        line = Text(printable(text, limit=400), style="red" if error else "")
        self.query_one("#browse-status", Static).update(line)

    # -- opening and listing ---------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "location":
            self.open(event.value)

    @work(exclusive=True, group="browse")
    async def open(self, text: str) -> None:
        try:
            target = parse_target(text.strip())
        except PeerworkError as exc:
            self.status(exc.message, error=True)
            return
        if (
            self.remote is None
            or self.target is None
            or (self.target.peer.casefold() != target.peer.casefold())
        ):
            await self._drop_remote()
            if not await self._connect(target.peer):
                return
        await self._list(target)

    async def _connect(self, peer: str) -> bool:
        try:
            endpoint = await resolve(peer, self.pw.paths.socket)
        except PeerworkError as exc:
            self.status(exc.message, error=True)
            return False
        shown = where(endpoint)
        key = shown.casefold()
        while True:
            creds = self.pw.credentials.get(key)
            if creds is None:
                creds = await self._ask_credentials(shown)
                if creds is None:
                    self.status("Not connected.")
                    return False
            self.status(f"Connecting to {shown}…")
            try:
                self.remote = await RemotePeer.open(endpoint, creds)
            except LogonFailed as exc:
                self.pw.credentials.pop(key, None)
                self.pw.notify(exc.message, severity="error")
                continue
            except PeerworkError as exc:
                self.status(exc.message, error=True)
                return False
            self.pw.credentials[key] = creds
            return True

    async def _ask_credentials(self, where: str) -> Credentials | None:
        owner = self.pw.view.snapshot.status
        default = (owner.peer.owner if owner else "") or getpass.getuser()
        form = FormDialog(
            f"Log on to {printable(where)} (kept until you quit)",
            [
                Field("user", "Account (empty: anonymous)", value=default),
                Field("password", "Password", password=True),
            ],
            ok="Log on",
        )
        values = await self.app.push_screen_wait(form)
        if values is None:
            return None
        return Credentials(values["user"].strip(), values["password"])

    async def _list(self, target: Target) -> None:
        remote = self.remote
        if remote is None:
            return
        table = self.query_one("#entries", DataTable)
        try:
            if target.share is None:
                shares = await remote.shares()
                rows = [(cell(f"{s.name}/"), cell("share"), cell(s.comment, 40)) for s in shares]
                keys = [s.name for s in shares]
            else:
                entries = await remote.list_dir(target.share, target.path)
                rows = [(cell(UP + "/"), cell(""), cell(""))]
                keys = [UP]
                for e in entries:
                    name = cell(e.name + ("/" if e.is_dir else ""))
                    size = cell("" if e.is_dir else human(e.size))
                    when = cell(time.strftime("%Y-%m-%d %H:%M", time.localtime(e.mtime)))
                    rows.append((name, size, when))
                    keys.append(("d:" if e.is_dir else "f:") + e.name)
        except PeerworkError as exc:
            self.fail(exc.message)
            return
        self.target = target
        table.clear()
        for row, key in zip(rows, keys, strict=True):
            table.add_row(*row, key=key)
        self.query_one("#location", Input).value = str(target)
        count = len(rows) - (1 if target.share else 0)
        self.status(
            f"{target} — {count} item(s), as {self.pw.credentials_user(where(remote.endpoint))}"
        )
        table.focus()

    def _selected(self) -> str | None:
        return selected_key(self.query_one("#entries", DataTable))

    def on_data_table_row_selected(self, _: DataTable.RowSelected) -> None:
        key, target = self._selected(), self.target
        if key is None or target is None:
            return
        if target.share is None:
            self._go(Target(target.peer, key))
        elif key == UP:
            self.action_up()
        elif key.startswith("d:"):
            self._go(target.child(key[2:]))

    @work(exclusive=True, group="browse")
    async def _go(self, target: Target) -> None:
        await self._list(target)

    def action_up(self) -> None:
        target = self.target
        if target is None or target.share is None:
            return
        up = Target(target.peer, None if not target.parts else target.share, target.parts[:-1])
        self._go(up)

    def action_reload(self) -> None:
        if self.target is not None:
            self._go(self.target)

    async def _drop_remote(self) -> None:
        if self.remote is not None:
            remote, self.remote = self.remote, None
            # A connection that already broke needs no closing.
            with contextlib.suppress(Exception):
                await remote.close()

    # -- actions on entries ------------------------------------------------------

    async def _session(self) -> RemotePeer | None:
        """The open session, reconnecting (with the kept logon) after a cancelled copy."""
        if self.remote is None and self.target is not None:
            await self._connect(self.target.peer)
        return self.remote

    def _file_selected(self) -> tuple[Target, str, bool] | None:
        key, target = self._selected(), self.target
        if key is None or target is None or target.share is None or key == UP:
            return None
        return target, key[2:], key.startswith("d:")

    @work(exclusive=True, group="copy")
    async def action_get(self) -> None:
        chosen = self._file_selected()
        remote = await self._session()
        if chosen is None or remote is None:
            return
        target, name, is_dir = chosen
        if is_dir:
            self.pw.notify("Copying whole folders is not there yet: open it and copy files.")
            return
        values = await self.app.push_screen_wait(
            FormDialog(
                f"Copy {printable(name)} to this PC",
                [Field("folder", "Into the local folder", value=str(Path.cwd()))],
                ok="Copy",
            )
        )
        if values is None:
            return
        folder = Path(values["folder"].strip()).expanduser()  # noqa: ASYNC240 - no disk I/O
        if not await asyncio.to_thread(folder.is_dir):
            self.fail(f"{folder}: no such local folder")
            return
        await self._copy(
            f"Copying {name}",
            lambda report: remote.get(
                target.share or "", target.child(name).path, folder / name, report
            ),
        )

    @work(exclusive=True, group="copy")
    async def action_put(self) -> None:
        target, remote = self.target, await self._session()
        if target is None or target.share is None or remote is None:
            return
        values = await self.app.push_screen_wait(
            FormDialog(
                f"Copy a file of this PC into {printable(str(target))}",
                [Field("file", "Local file", placeholder="/home/you/report.pdf")],
                ok="Copy",
            )
        )
        if values is None:
            return
        local = Path(values["file"].strip()).expanduser()  # noqa: ASYNC240 - no disk I/O
        if not await asyncio.to_thread(local.is_file):
            self.fail(f"{local}: no such file")
            return
        ok = await self._copy(
            f"Copying {local.name}",
            lambda report: remote.put(
                local, target.share or "", target.child(local.name).path, report
            ),
        )
        if ok:
            await self._list(target)

    async def _copy(self, label: str, start) -> bool:  # type: ignore[no-untyped-def]
        bar = self.query_one("#progress", ProgressBar)
        bar.update(total=None, progress=0)
        bar.display = True
        self.copying = True
        self.status(f"{label}… (esc cancels)")

        def report(done: int, total: int) -> None:
            self.app.call_from_thread(bar.update, total=max(total, 1), progress=done)

        try:
            result = await start(report)
        except Cancelled as exc:
            self.pw.notify(exc.message, severity="warning")
            await self._drop_remote()  # the transfer stopped mid-exchange: start afresh
            return False
        except (PeerworkError, OSError) as exc:
            text = exc.message if isinstance(exc, PeerworkError) else str(exc)
            self.fail(text)
            return False
        finally:
            self.copying = False
            bar.display = False
        self.pw.notify(f"Copied {printable(result.remote)} ({human(result.size)}).")
        self.status(f"Copied {result.remote} → {result.local}")
        return True

    def action_cancel(self) -> None:
        if self.copying and self.remote is not None:
            self.remote.cancel.set()

    @work(exclusive=True, group="browse")
    async def action_mkdir(self) -> None:
        target, remote = self.target, await self._session()
        if target is None or target.share is None or remote is None:
            return
        values = await self.app.push_screen_wait(
            FormDialog("New folder", [Field("name", "Folder name")], ok="Create")
        )
        if not values or not values["name"].strip():
            return
        try:
            where = target.child(values["name"].strip())
            await remote.mkdir(target.share, where.path)
        except PeerworkError as exc:
            self.fail(exc.message)
            return
        await self._list(target)

    @work(exclusive=True, group="browse")
    async def action_delete(self) -> None:
        chosen = self._file_selected()
        remote = await self._session()
        if chosen is None or remote is None:
            return
        target, name, is_dir = chosen
        what = "the empty folder" if is_dir else "the file"
        question = (
            f"Delete {what} {printable(name)} on {printable(target.peer)}? This cannot be undone."
        )
        if not await self.app.push_screen_wait(ConfirmDialog(question, yes="Delete")):
            return
        try:
            await remote.delete(target.share or "", target.child(name).path, is_dir)
        except PeerworkError as exc:
            self.fail(exc.message)
            return
        await self._list(target)

    def palette(self) -> list[tuple[str, str, str]]:
        return [
            ("Copy the selected file to this PC", "with progress; esc cancels", "get"),
            ("Copy a file of this PC into the open folder", "", "put"),
            ("New folder here", "", "mkdir"),
            ("Delete the selected file or empty folder", "asks first", "delete"),
            ("Up one folder", "", "up"),
        ]
