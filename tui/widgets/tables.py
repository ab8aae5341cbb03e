"""DataTable helpers every list screen uses."""

from __future__ import annotations

from typing import Any

from textual.coordinate import Coordinate
from textual.widgets import DataTable


def selected_key(table: DataTable[Any]) -> str | None:
    """The row key under the cursor, None for an empty table."""
    if table.row_count == 0:
        return None
    return table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
