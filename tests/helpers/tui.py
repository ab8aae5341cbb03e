"""Driving the terminal UI in tests: wait for a condition under Pilot, read the screen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, Input

# The UI reacts within a frame or two; this is a ceiling for a loaded 2-core machine.
WAIT = 15.0


async def wait_for(
    pilot: Pilot[Any],
    condition: Callable[[], object],
    within: float = WAIT,
    what: str | Callable[[], str] = "",
) -> float:
    """Pause the pilot until ``condition()`` is true; returns the seconds it took.
    ``what`` (or what it returns, when called at the timeout) explains a failure."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > within:
            said = what() if callable(what) else what
            raise AssertionError(f"not within {within}s: {said or condition}")
        await pilot.pause(0.05)
    return time.monotonic() - start


def table_rows(table: DataTable[Any]) -> list[list[str]]:
    """Every row's cells as plain text."""
    return [
        [str(getattr(c, "plain", c)) for c in table.get_row_at(i)] for i in range(table.row_count)
    ]


def screen_text(pilot: Pilot[Any]) -> str:
    """What the terminal shows now, as plain text (the SVG export's text layer)."""
    import re
    from html import unescape

    svg = pilot.app.export_screenshot()
    return unescape("".join(re.findall(r">([^<]*)</text>", svg))).replace("\xa0", " ")


async def type_into(pilot: Pilot[Any], selector: str, text: str) -> None:
    """Set an input's value as typing would (the screen's own Input, found by id)."""
    widget = pilot.app.screen.query_one(selector, Input)
    widget.focus()
    widget.value = text
    await pilot.pause()
