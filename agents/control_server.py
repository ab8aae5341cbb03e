"""The control API: HTTP/JSON over a 0600 Unix socket, versioned under ``/v1/``.

The agent's own routes are status, peers, accounts, reload, config edits and the event
stream. Every service gets ``GET /v1/<name>`` (its status) and mounts the
routes it contributes under ``/v1/<name>/``; this module knows no service by
name. Routes are thin: decode the request, call :class:`Actions` or read
state, encode JSON. Every PeerworkError becomes ``{"error": code, "message":
text}`` with the error's HTTP status.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from peerwork.errors import InvalidInput, PeerworkError
from peerwork.models import SSE_KEEPALIVE, dropped_event
from peerwork.proto.sse import encode_comment, encode_message

from .control_input import json_body, text_field
from .service import Route, Service

if TYPE_CHECKING:
    from .agent import Agent

log = logging.getLogger("peerwork.control")
# Seconds the control API gives requests still being served when the agent stops.
STOP_GRACE = 2.0
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except PeerworkError as exc:
        return _error(exc.http_status, exc.code, exc.message)
    except web.HTTPException as exc:
        return _error(exc.status, "http", exc.reason)
    except Exception:
        log.exception("control API request %s %s failed", request.method, request.path)
        return _error(500, "internal", "the agent failed to handle this request; see its log")


def _peer_uid(request: web.Request) -> int | None:
    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is None or sock.family != socket.AF_UNIX:
        return None
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])


@web.middleware
async def owner_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    # The socket is 0600 already; this also holds if someone loosens its mode.
    uid = _peer_uid(request)
    if uid is not None and uid not in (0, os.geteuid()):
        return _error(403, "forbidden", "only the agent's owner or root may use the control API")
    return await handler(request)


class ControlServer:
    def __init__(self, agent: Agent, socket_path: Path) -> None:
        self.agent = agent
        self.socket_path = socket_path
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()  # set at stop: event streams end

    def app(self) -> web.Application:
        app = web.Application(middlewares=[owner_middleware, error_middleware])
        r = app.router
        r.add_get("/v1/status", self.status)
        r.add_get("/v1/peers", self.peers)
        r.add_get("/v1/accounts", self.accounts)
        r.add_post("/v1/accounts", self.add_account)
        r.add_put("/v1/accounts/{name}/password", self.set_password)
        r.add_delete("/v1/accounts/{name}", self.remove_account)
        r.add_get("/v1/events", self.events)
        r.add_post("/v1/reload", self.reload)
        r.add_post("/v1/config", self.edit_config)
        for service in self.agent.services:
            r.add_get(f"/v1/{service.name}", self._service_status(service))
            for route in service.routes():
                self._mount(r, service, route)
        return app

    @staticmethod
    def _mount(router: web.UrlDispatcher, service: Service, route: Route) -> None:
        if not route.path.startswith("/"):
            raise ValueError(f"{service.name}: route path {route.path!r} must start with '/'")
        router.add_route(route.method, f"/v1/{service.name}{route.path}", route.handler)
        if route.alias is not None:
            router.add_route(route.method, route.alias, route.handler)

    @staticmethod
    def _service_status(service: Service) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            return web.json_response(service.status().to_json())

        return handler

    async def start(self) -> None:
        # Handlers still running at stop (an event stream a TUI holds open) get this
        # long; aiohttp's default of 60 s held SIGTERM up for two minutes.
        self._runner = web.AppRunner(
            self.app(), access_log=None, handle_signals=False, shutdown_timeout=STOP_GRACE
        )
        await self._runner.setup()
        self.socket_path.unlink(missing_ok=True)
        old = os.umask(0o177)  # the socket is born 0600: no window where others can connect
        try:
            site = web.UnixSite(self._runner, str(self.socket_path))
            await site.start()
        finally:
            os.umask(old)
        self.socket_path.chmod(0o600)

    async def stop(self) -> None:
        # Event streams end on their own (and their connections close) before
        # aiohttp waits for handlers; cancelling aiohttp's handler tasks made it wait.
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.socket_path.unlink(missing_ok=True)

    # routes -----------------------------------------------------------------
    async def status(self, request: web.Request) -> web.Response:
        return web.json_response(self.agent.status())

    async def peers(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = {"peers": self.agent.peers_json()}
        if request.query.get("all") in ("1", "true", "yes"):
            body["neighbours"] = [p.to_json() for p in self.agent.neighbours()]
        return web.json_response(body)

    async def accounts(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"accounts": [a.public() for a in self.agent.actions.account_list()]}
        )

    async def add_account(self, request: web.Request) -> web.Response:
        data = await json_body(request)
        acc = self.agent.actions.add_account(text_field(data, "name"), text_field(data, "password"))
        return web.json_response(acc.public(), status=201)

    async def set_password(self, request: web.Request) -> web.Response:
        data = await json_body(request)
        acc = self.agent.actions.set_password(
            request.match_info["name"], text_field(data, "password")
        )
        return web.json_response(acc.public())

    async def remove_account(self, request: web.Request) -> web.Response:
        self.agent.actions.remove_account(request.match_info["name"])
        return web.json_response({"name": request.match_info["name"].lower()})

    async def reload(self, request: web.Request) -> web.Response:
        return web.json_response(await self.agent.reload())

    async def edit_config(self, request: web.Request) -> web.Response:
        """``{"section": "files", "values": {"max_connections": 100}}``: saved if the
        section's reader accepts it, then applied live or reported as restart-needed."""
        data = await json_body(request)
        values = data.get("values")
        if not isinstance(values, dict) or not values:
            raise InvalidInput("'values' must be an object of keys to set")
        section = text_field(data, "section")
        return web.json_response(await self.agent.edit_config(section, values))

    async def events(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        # The stream ends with the connection: nothing waits on a kept-alive socket at stop.
        resp.force_close()
        await resp.prepare(request)
        queue = self.agent.bus.subscribe()
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await resp.write(encode_comment("peerwork event stream"))
            while not self._stopping.is_set():
                getting = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait(
                    {getting, stopping}, timeout=SSE_KEEPALIVE, return_when=asyncio.FIRST_COMPLETED
                )
                if getting not in done:
                    getting.cancel()
                    if not done:
                        await resp.write(encode_comment("keep-alive"))
                    continue
                event = getting.result()
                missed = self.agent.bus.missed(queue)
                if missed:
                    await resp.write(encode_message(dropped_event(missed).to_sse()))
                await resp.write(encode_message(event.to_sse()))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            stopping.cancel()
            self.agent.bus.unsubscribe(queue)
        return resp
