"""The gateway's control routes under ``/v1/gateway``: leases, plan, enable, disable.

Status is ``GET /v1/gateway`` (every service's status; ``details`` holds the
gateway's mode, what it recognised, rogue servers, the plan in force).

``plan`` and ``enable`` take the command line's options as a JSON object
(``uplink``, ``lan``, ``lan_address``, ``pool``), each over ``[gateway]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from peerwork.errors import InvalidInput

from ..control_input import json_body
from ..service import Route

if TYPE_CHECKING:
    from .service import GatewayService

OPTIONS = ("uplink", "lan", "lan_address", "pool")


async def _options(request: web.Request) -> dict[str, Any]:
    data = await json_body(request)
    unknown = sorted(set(data) - set(OPTIONS))
    if unknown:
        raise InvalidInput(f"unknown gateway option(s): {', '.join(unknown)}")
    for key, value in data.items():
        if value is not None and not isinstance(value, str):
            raise InvalidInput(f"'{key}' must be a string")
    return data


def gateway_routes(service: GatewayService) -> list[Route]:
    async def leases(request: web.Request) -> web.Response:
        return web.json_response({"leases": service.lease_rows()})

    async def plan(request: web.Request) -> web.Response:
        wanted = service.wanted(await _options(request))
        made = await service.make_plan(wanted)
        return web.json_response(made.to_json() | {"recognised": service.recognised})

    async def enable(request: web.Request) -> web.Response:
        wanted = service.wanted(await _options(request))
        made = await service.enable_gateway(wanted)
        following = service.verdict.reason if service.verdict else ""
        return web.json_response(made.to_json() | {"mode": service.mode, "following": following})

    async def disable(request: web.Request) -> web.Response:
        failures = await service.disable_gateway()
        return web.json_response({"mode": service.mode, "failures": failures})

    return [
        Route("GET", "/leases", leases),
        Route("POST", "/plan", plan),
        Route("POST", "/enable", enable),
        Route("POST", "/disable", disable),
    ]
