"""The Mail screen's dialogs: a message being read, and a message being written."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

from peerwork.client.mail_message import Reading
from peerwork.text import printable

from .dialogs import Field, FormDialog

# Acts on the form's values; "" when done, else the message to show in the dialog.
Send = Callable[[dict[str, str], list[Path]], Awaitable[str]]
Save = Callable[[Path], Awaitable[str]]


def message_text(reading: Reading) -> Text:
    text = Text()
    for name, value in reading.headers:
        text.append(f"{printable(name, limit=80)}: ", style="bold")
        text.append(printable(value, limit=500) + "\n")
    text.append("\n")
    # The text part is a stranger's: shown as plain text, control characters made visible.
    lines = reading.text.replace("\r\n", "\n").rstrip("\n").split("\n")
    text.append("\n".join(printable(line.expandtabs(), limit=10_000) for line in lines) + "\n")
    if reading.attachments:
        text.append("\nAttachments (s saves them):\n", style="bold")
    for a in reading.attachments:
        text.append(
            f"  [{a.number}] {printable(a.filename, limit=200)}  {printable(a.content_type)}"
            f"  (~{a.size} bytes)\n"
        )
    return text


class MessageView(ModalScreen[None]):
    """One message, read; ``s`` saves its attachments into a folder the user names."""

    BINDINGS = [
        Binding("s", "save", "Save attachments"),
        Binding("escape,q", "close", "Close"),
    ]

    def __init__(self, reading: Reading, save: Save, folder: str) -> None:
        super().__init__()
        self.reading = reading
        self.save = save
        self.folder = folder

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog message"):
            yield Static(message_text(self.reading), id="message")

    def action_close(self) -> None:
        self.dismiss(None)

    @work(exclusive=True, group="save")
    async def action_save(self) -> None:
        if not self.reading.attachments:
            self.app.notify("This message has no attachments.")
            return

        async def submit(values: dict[str, str]) -> str:
            folder = Path(values["folder"].strip()).expanduser()  # noqa: ASYNC240 - no disk I/O
            return await self.save(folder)

        await self.app.push_screen_wait(
            FormDialog(
                "Save the attachments into",
                [Field("folder", "Folder (made if missing)", value=self.folder)],
                ok="Save",
                submit=submit,
            )
        )


class ComposeDialog(ModalScreen[bool]):
    """To, Cc, Subject, the text and the files to attach (one path a line); ctrl+s sends.
    Stays open showing why when the post office or a file says no."""

    BINDINGS = [Binding("ctrl+s", "send", "Send"), Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    ComposeDialog #body { height: 8; }
    ComposeDialog #attach { height: 4; }
    ComposeDialog .row Label { width: 9; }
    """

    def __init__(self, sender: str, send: Send) -> None:
        super().__init__()
        self.sender = sender
        self.send = send

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog compose"):
            yield Static(Text(f"New message from {self.sender}"), classes="title")
            for key, label in (("to", "To"), ("cc", "Cc"), ("subject", "Subject")):
                with Horizontal(classes="row"):
                    yield Label(f"{label:<8}")
                    yield Input(id=f"field-{key}", compact=True, placeholder=_HINTS[key])
            yield TextArea(id="body", soft_wrap=True, show_line_numbers=False)
            yield Label("Attach (one file path a line)")
            yield TextArea(id="attach", soft_wrap=False, show_line_numbers=False)
            yield Static("", id="form-error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Send (ctrl+s)", variant="primary", id="ok", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#field-to", Input).focus()

    def values(self) -> tuple[dict[str, str], list[Path]]:
        values = {k: self.query_one(f"#field-{k}", Input).value for k in ("to", "cc", "subject")}
        values["body"] = self.query_one("#body", TextArea).text
        lines = self.query_one("#attach", TextArea).text.splitlines()
        return values, [Path(line.strip()).expanduser() for line in lines if line.strip()]

    @work(exclusive=True, group="send")
    async def action_send(self) -> None:
        error = self.query_one("#form-error", Static)
        error.update("Sending…")
        problem = await self.send(*self.values())
        if problem:
            error.update(Text(problem))
            return
        self.dismiss(True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.action_send()
        else:
            self.dismiss(False)

    def action_cancel(self) -> None:
        self.dismiss(False)


_HINTS = {"to": "bob, carl@office.lan", "cc": "", "subject": ""}
