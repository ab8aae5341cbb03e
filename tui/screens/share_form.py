"""The dialog that adds a share (folder, name, comment, grants) or edits a share's grants,
and the folder picker it opens."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Input, Label, Static

from peerwork.errors import InvalidInput
from peerwork.shares import validate_share_name
from peerwork.text import printable

from ..widgets.grants import GrantsEditor


@dataclass(frozen=True, slots=True)
class ShareRequest:
    path: str
    name: str
    comment: str
    grants: dict[str, str]
    revoke: list[str]


class FolderTree(DirectoryTree):
    def filter_paths(self, paths: object) -> list[Path]:
        return [p for p in paths if isinstance(p, Path) and p.is_dir()]  # type: ignore[attr-defined]


class FolderPicker(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, start: Path) -> None:
        super().__init__()
        self.start = start

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Static("Pick a folder (enter chooses, esc cancels)", classes="title")
            yield FolderTree(self.start, id="folders")

    @on(DirectoryTree.DirectorySelected)
    def chosen(self, event: DirectoryTree.DirectorySelected) -> None:
        self.dismiss(str(event.path))


# Sends a request to the agent: "" when done, else the agent's message (shown in the form).
Submit = Callable[[ShareRequest], Awaitable[str]]


class ShareForm(ModalScreen[ShareRequest | None]):
    """Adding when ``existing`` is None, else editing that share's comment and grants.
    The form stays open, showing the agent's message, until the agent accepts."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+o", "pick", "Pick folder"),
        Binding("ctrl+s", "save", "Save"),
    ]

    def __init__(
        self,
        accounts: list[str],
        submit: Submit,
        *,
        existing: str | None = None,
        owner: str = "",
        path: str = "",
        comment: str = "",
        grants: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.accounts = accounts
        self.submit = submit
        self.existing = existing
        self.path = path
        self.comment = comment
        self.owner = owner
        # A new share gives its owner full access unless told otherwise: show it so.
        self.grants = grants if grants is not None else ({owner: "full"} if owner else {})

    def compose(self) -> ComposeResult:
        title = f"Permissions of {self.existing}" if self.existing else "Share a folder"
        with VerticalScroll(classes="dialog", id="share-form"):
            yield Static(Text(title), classes="title")
            if self.existing is None:
                yield Label("Folder (ctrl+o picks one)")
                with Horizontal(classes="row"):
                    yield Input(
                        self.path, placeholder="/home/you/Documents", id="path", compact=True
                    )
                    yield Button("Pick…", id="pick", compact=True)
                yield Label("Share name (empty: the folder's name)")
                yield Input(placeholder="e.g. Documents", id="name", max_length=200, compact=True)
            else:
                yield Static(Text(f"Folder: {printable(self.path)}"))
            yield Label("Comment")
            yield Input(self.comment, id="comment", compact=True)
            yield Label("Who may do what")
            yield GrantsEditor(self.accounts, self.grants, id="grants")
            yield Static("", id="form-error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="save", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def check(self) -> str:
        if self.existing is not None:
            return ""
        path = self.query_one("#path", Input).value.strip()
        if not path:
            return "give the folder to share"
        name = self.query_one("#name", Input).value.strip()
        try:
            validate_share_name(name or Path(path).name)
        except InvalidInput as exc:
            return exc.message
        return ""

    def show_error(self, text: str) -> None:
        self.query_one("#form-error", Static).update(Text(printable(text, limit=400)))

    @work(exclusive=True, group="share-form")
    async def action_save(self) -> None:
        problem = self.check()
        if problem:
            self.show_error(problem)
            return
        editor = self.query_one(GrantsEditor)
        grants, revoke = editor.changes()
        if self.existing is None:
            grants, revoke = editor.initial(self.owner), []
            # Relative to where the TUI was started, as on the command line.
            typed = self.query_one("#path", Input).value.strip()
            path = str(Path(typed).expanduser().absolute())  # noqa: ASYNC240 - no disk I/O
            name = self.query_one("#name", Input).value.strip()
        else:
            path, name = self.path, self.existing
        comment = self.query_one("#comment", Input).value
        request = ShareRequest(path, name, comment, grants, revoke)
        self.show_error("Asking the agent…")
        problem = await self.submit(request)
        if problem:
            self.show_error(problem)
            return
        self.dismiss(request)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_pick(self) -> None:
        if self.existing is not None:
            return
        current = Path(self.query_one("#path", Input).value.strip() or Path.home()).expanduser()
        start = current if current.is_dir() else Path.home()

        def picked(folder: str | None) -> None:
            if folder:
                self.query_one("#path", Input).value = folder

        self.app.push_screen(FolderPicker(start), picked)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        elif event.button.id == "pick":
            self.action_pick()
        else:
            self.dismiss(None)
