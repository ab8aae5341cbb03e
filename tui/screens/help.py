"""The help screen: every key, every screen, and what is not there yet."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..nav import PLACES

KEYS = (
    ("1 … 8", "switch screen (also from the command palette)"),
    ("ctrl+p", "command palette: every screen and action by name"),
    ("?  F1", "this help"),
    ("ctrl+t", "dark / light theme"),
    ("tab", "next field or list; arrows move in lists"),
    ("a e d", "add / edit / remove on Shares and Accounts"),
    ("p", "change password (Accounts); print a file (Printers)"),
    ("o g u m", "Browse: open //PC/share, copy here, copy there, new folder"),
    ("enter", "open (Browse: folder; Workgroup: browse that PC)"),
    ("backspace", "Browse: up one folder"),
    ("esc", "close a dialog, cancel a copy"),
    ("q", "quit"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        keys = Table(title="Keys", title_justify="left", box=None, expand=True)
        keys.add_column(style="bold", no_wrap=True)
        keys.add_column()
        for key, what in KEYS:
            keys.add_row(key, what)
        places = Table(title="Screens", title_justify="left", box=None, expand=True)
        places.add_column(style="bold", no_wrap=True)
        places.add_column(no_wrap=True)
        places.add_column()
        for p in PLACES:
            places.add_row(p.key, p.label, p.about)
        with VerticalScroll(id="help", classes="dialog"):
            yield Static(keys)
            yield Static(places)
            yield Static("esc closes this help.", classes="hint")
