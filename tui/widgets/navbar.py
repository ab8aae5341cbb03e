"""The line at the top of every screen: where you are and the key of every other screen."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ..nav import PLACES


class NavBar(Static):
    DEFAULT_CSS = """
    NavBar { height: 1; background: $panel; color: $text-muted; }
    """

    def __init__(self, current: str) -> None:
        super().__init__(self._render_bar(current))

    @staticmethod
    def _render_bar(current: str) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        for place in PLACES:
            style = "bold reverse" if place.mode == current else ""
            text.append(f"{place.key}", style="bold")
            text.append(f" {place.label} ", style=style)
        return text
