"""Reading control API requests: JSON bodies and typed fields, with errors a user can act on.

Shared by the control server's own routes and the routes services contribute.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from peerwork.errors import InvalidInput
from peerwork.shares import Access, parse_grant


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json() if request.can_read_body else {}
    except ValueError:  # bad JSON, or bytes that are not UTF-8 at all
        raise InvalidInput("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object")
    return data


def grants_field(data: dict[str, Any]) -> dict[str, Access]:
    raw = data.get("grants", {})
    if isinstance(raw, list):  # ["alice=change", ...] as typed on the command line
        return dict(parse_grant(str(g)) for g in raw)
    if isinstance(raw, dict):
        return {str(k): Access.parse(str(v)) for k, v in raw.items()}
    raise InvalidInput("grants must be an object {who: access} or a list of 'who=access'")


def names_field(data: dict[str, Any], key: str) -> list[str]:
    raw = data.get(key) or []
    if not isinstance(raw, list) or not all(isinstance(n, str) for n in raw):
        raise InvalidInput(f"'{key}' must be a list of names")
    return raw


def text_field(data: dict[str, Any], key: str, required: bool = True) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise InvalidInput(f"'{key}' must be a non-empty string")
    return value
