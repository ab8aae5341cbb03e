"""A value typed on the command line (``peerwork config set files.port 4450``), as TOML."""

from __future__ import annotations

from typing import Any

import tomlkit
from tomlkit.exceptions import ParseError

from .read import plain


def parse_value(text: str) -> Any:
    """``text`` read as a TOML value (``4450``, ``true``, ``["eth0"]``, ``"x"``); anything
    that is not one (``alice``, ``0.0.0.0``) is taken as the string it is."""
    try:
        doc = tomlkit.parse(f"value = {text}\n")
    except ParseError:
        return text
    if list(doc) != ["value"]:
        return text  # "1\nother = 2" would smuggle in a second key
    return plain(doc["value"])
