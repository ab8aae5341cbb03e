"""Reading the agent's JSON defensively: a part of an answer that has the wrong shape
is shown as missing, never a crash of the screen that renders it."""

from __future__ import annotations

from typing import Any


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def dicts(value: object) -> list[dict[str, Any]]:
    return [v for v in as_list(value) if isinstance(v, dict)]
