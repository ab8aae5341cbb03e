"""DataTable helpers every list screen uses."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from peerwork.text import printable


def cell(value: object, limit: int = 200, style: str = "") -> Text:
    """A cell showing ``value`` as it is: a plain string would be read as markup, and
    names come from other people and PCs ("[/]" in a file name must not break the list)."""
    return Text(printable(value, limit=limit), style=style, no_wrap=True, overflow="ellipsis")


def selected_key(table: DataTable[Any]) -> str | None:
    """The row key under the cursor, None for an empty table."""
    if table.row_count == 0:
        return None
    return table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
