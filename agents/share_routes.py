"""The files service's control routes: ``/v1/files/shares`` (and the older ``/v1/shares``).

Thin: decode, call :class:`~agents.actions.Actions`, encode. They work while
the file service is stopped or disabled too: shares live in peerwork.toml and
are served once the service runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from peerwork.errors import InvalidInput
from peerwork.shares import Share, folder_problem

from .control_input import grants_field, json_body, names_field, text_field
from .service import Route

if TYPE_CHECKING:
    from .actions import Actions  # actions imports files, which imports this module


def _share_json(share: Share, home: Path) -> dict[str, Any]:
    return share.to_json() | {"problem": folder_problem(share, home)}


def _optional_flag(data: dict[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if value is not None and not isinstance(value, bool):
        raise InvalidInput(f"{name} must be true, false or null")
    return value


def share_routes(actions: Actions, home: Path) -> list[Route]:
    async def list_shares(request: web.Request) -> web.Response:
        return web.json_response({"shares": [_share_json(s, home) for s in actions.shares()]})

    async def get_share(request: web.Request) -> web.Response:
        return web.json_response(_share_json(actions.share(request.match_info["name"]), home))

    async def add_share(request: web.Request) -> web.Response:
        data = await json_body(request)
        share = await actions.add_share(
            text_field(data, "path"),
            name=text_field(data, "name", required=False) or None,
            comment=text_field(data, "comment", required=False),
            grants=grants_field(data),
            encrypt=_optional_flag(data, "encrypt") or False,
        )
        body = share.to_json() | {"warnings": actions.grant_warnings(share)}
        return web.json_response(body, status=201)

    async def update_share(request: web.Request) -> web.Response:
        data = await json_body(request)
        comment = data.get("comment")
        share = await actions.update_share(
            request.match_info["name"],
            grants=grants_field(data),
            comment=None if comment is None else str(comment),
            revoke=names_field(data, "revoke"),
            encrypt=_optional_flag(data, "encrypt"),
        )
        body = share.to_json() | {"warnings": actions.grant_warnings(share)}
        return web.json_response(body)

    async def remove_share(request: web.Request) -> web.Response:
        share = await actions.remove_share(request.match_info["name"])
        return web.json_response(share.to_json())

    return [
        Route("GET", "/shares", list_shares, alias="/v1/shares"),
        Route("POST", "/shares", add_share, alias="/v1/shares"),
        Route("GET", "/shares/{name}", get_share, alias="/v1/shares/{name}"),
        Route("PATCH", "/shares/{name}", update_share, alias="/v1/shares/{name}"),
        Route("DELETE", "/shares/{name}", remove_share, alias="/v1/shares/{name}"),
    ]
