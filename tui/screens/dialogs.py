"""Small modal dialogs: a yes/no confirmation, and a form of text fields."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class ConfirmDialog(ModalScreen[bool]):
    """Answers True only on an explicit yes (y or the Yes button)."""

    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str, yes: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Static(Text(self.question), classes="question")
            with Horizontal(classes="buttons"):
                yield Button(f"{self.yes} (y)", variant="error", id="yes", compact=True)
                yield Button("No (n)", id="no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class NoticeDialog(ModalScreen[None]):
    """Text to read (and copy) with one OK: e.g. a join code."""

    BINDINGS = [Binding("escape,enter", "close", "OK")]

    def __init__(self, text: str, id: str | None = None) -> None:
        super().__init__(id=id)
        self.text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Static(Text(self.text), classes="question", id="notice")
            with Horizontal(classes="buttons"):
                yield Button("OK", variant="primary", id="ok", compact=True)

    def on_button_pressed(self, _: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True, slots=True)
class Field:
    key: str
    label: str
    value: str = ""
    password: bool = False
    placeholder: str = ""


# Acts on the values (asks the agent): "" when done, else the message to show in the form.
Submit = Callable[[dict[str, str]], Awaitable[str]]


class FormDialog(ModalScreen[dict[str, str] | None]):
    """Text fields and OK/Cancel; dismissed with {key: value}, or None when cancelled.
    ``check`` may refuse the values, and ``submit`` (if given) the agent may: the form
    then stays open, showing why."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, title: str, fields: list[Field], ok: str = "OK", submit: Submit | None = None
    ) -> None:
        super().__init__()
        self.title_text = title
        self.fields = fields
        self.ok = ok
        self.submit = submit

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Static(Text(self.title_text), classes="title")
            for f in self.fields:
                yield Label(f.label)
                yield Input(
                    f.value,
                    placeholder=f.placeholder,
                    password=f.password,
                    id=f"field-{f.key}",
                    compact=True,
                )
            yield Static("", id="form-error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button(self.ok, variant="primary", id="ok", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        # The first empty field (the password, when the name is filled in), else the first.
        inputs = list(self.query(Input))
        target = next((i for i in inputs if not i.value), inputs[0] if inputs else None)
        if target is not None:
            target.focus()

    def values(self) -> dict[str, str]:
        return {f.key: self.query_one(f"#field-{f.key}", Input).value for f in self.fields}

    def check(self, values: dict[str, str]) -> str:
        """A reason to refuse ``values``, or "" to accept them."""
        return ""

    @work(exclusive=True, group="form")
    async def _submit(self) -> None:
        values = self.values()
        error = self.query_one("#form-error", Static)
        problem = self.check(values)
        if not problem and self.submit is not None:
            error.update("Asking the agent…")
            problem = await self.submit(values)
        if problem:
            error.update(Text(problem))
            return
        self.dismiss(values)

    def on_input_submitted(self, _: Input.Submitted) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
