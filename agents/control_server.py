"""The control API: HTTP/JSON over a 0600 Unix socket, versioned under ``/v1/``.

Routes are thin: decode the request, call :class:`Actions` or read state, encode
JSON. Every PeerworkError becomes ``{"error": code, "message": text}`` with the
error's HTTP status.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from peerwork.control import SSE_KEEPALIVE
from peerwork.errors import InvalidInput, PeerworkError, ServiceError
from peerwork.shares import Access, Share, folder_problem, parse_grant

from .service import ServiceState

if TYPE_CHECKING:
    from .agent import Agent

log = logging.getLogger("peerwork.control")
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


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json() if request.can_read_body else {}
    except ValueError:  # bad JSON, or bytes that are not UTF-8 at all
        raise InvalidInput("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object")
    return data


def _grants(data: dict[str, Any]) -> dict[str, Access]:
    raw = data.get("grants", {})
    if isinstance(raw, list):  # ["alice=change", ...] as typed on the command line
        return dict(parse_grant(str(g)) for g in raw)
    if isinstance(raw, dict):
        return {str(k): Access.parse(str(v)) for k, v in raw.items()}
    raise InvalidInput("grants must be an object {who: access} or a list of 'who=access'")


def _names(data: dict[str, Any], key: str) -> list[str]:
    raw = data.get(key) or []
    if not isinstance(raw, list) or not all(isinstance(n, str) for n in raw):
        raise InvalidInput(f"'{key}' must be a list of names")
    return raw


def _text(data: dict[str, Any], key: str, required: bool = True) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise InvalidInput(f"'{key}' must be a non-empty string")
    return value


def _share_json(share: Share, home: Path) -> dict[str, Any]:
    return share.to_json() | {"problem": folder_problem(share, home)}


class ControlServer:
    def __init__(self, agent: Agent, socket_path: Path) -> None:
        self.agent = agent
        self.socket_path = socket_path
        self._runner: web.AppRunner | None = None
        self._streams: set[web.StreamResponse] = set()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[owner_middleware, error_middleware])
        r = app.router
        r.add_get("/v1/status", self.status)
        r.add_get("/v1/peers", self.peers)
        r.add_get("/v1/shares", self.shares)
        r.add_post("/v1/shares", self.add_share)
        r.add_get("/v1/shares/{name}", self.get_share)
        r.add_patch("/v1/shares/{name}", self.update_share)
        r.add_delete("/v1/shares/{name}", self.remove_share)
        r.add_get("/v1/accounts", self.accounts)
        r.add_post("/v1/accounts", self.add_account)
        r.add_put("/v1/accounts/{name}/password", self.set_password)
        r.add_delete("/v1/accounts/{name}", self.remove_account)
        r.add_get("/v1/events", self.events)
        r.add_post("/v1/reload", self.reload)
        r.add_post("/v1/channel/hello", self.channel_hello)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
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
        for stream in list(self._streams):
            task = getattr(stream, "_peerwork_task", None)
            if task:
                task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.socket_path.unlink(missing_ok=True)

    # routes -----------------------------------------------------------------
    async def status(self, request: web.Request) -> web.Response:
        return web.json_response(self.agent.status())

    async def peers(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = {"peers": [p.to_json() for p in self.agent.peers()]}
        if request.query.get("all") in ("1", "true", "yes"):
            body["neighbours"] = [p.to_json() for p in self.agent.neighbours()]
        return web.json_response(body)

    async def shares(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"shares": [_share_json(s, self.agent.paths.root) for s in self.agent.actions.shares()]}
        )

    async def get_share(self, request: web.Request) -> web.Response:
        return web.json_response(
            _share_json(self.agent.actions.share(request.match_info["name"]), self.agent.paths.root)
        )

    async def add_share(self, request: web.Request) -> web.Response:
        data = await _body(request)
        share = await self.agent.actions.add_share(
            _text(data, "path"),
            name=_text(data, "name", required=False) or None,
            comment=_text(data, "comment", required=False),
            grants=_grants(data),
        )
        body = share.to_json() | {"warnings": self.agent.actions.grant_warnings(share)}
        return web.json_response(body, status=201)

    async def update_share(self, request: web.Request) -> web.Response:
        data = await _body(request)
        comment = data.get("comment")
        share = await self.agent.actions.update_share(
            request.match_info["name"],
            grants=_grants(data),
            comment=None if comment is None else str(comment),
            revoke=_names(data, "revoke"),
        )
        body = share.to_json() | {"warnings": self.agent.actions.grant_warnings(share)}
        return web.json_response(body)

    async def remove_share(self, request: web.Request) -> web.Response:
        share = await self.agent.actions.remove_share(request.match_info["name"])
        return web.json_response(share.to_json())

    async def accounts(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"accounts": [a.public() for a in self.agent.actions.account_list()]}
        )

    async def add_account(self, request: web.Request) -> web.Response:
        data = await _body(request)
        acc = self.agent.actions.add_account(_text(data, "name"), _text(data, "password"))
        return web.json_response(acc.public(), status=201)

    async def set_password(self, request: web.Request) -> web.Response:
        data = await _body(request)
        acc = self.agent.actions.set_password(request.match_info["name"], _text(data, "password"))
        return web.json_response(acc.public())

    async def remove_account(self, request: web.Request) -> web.Response:
        self.agent.actions.remove_account(request.match_info["name"])
        return web.json_response({"name": request.match_info["name"].lower()})

    async def reload(self, request: web.Request) -> web.Response:
        return web.json_response(await self.agent.reload())

    async def channel_hello(self, request: web.Request) -> web.Response:
        data = await _body(request)
        port = data.get("port")
        if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
            raise InvalidInput("port must be an integer")
        channel = self.agent.channel
        if channel is None or channel.state is not ServiceState.RUNNING:
            raise ServiceError("the channel service is not running on this PC")
        return web.json_response(await channel.hello(_text(data, "peer"), port=port))

    async def events(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await resp.prepare(request)
        queue = self.agent.bus.subscribe()
        self._streams.add(resp)
        resp._peerwork_task = asyncio.current_task()  # type: ignore[attr-defined]
        try:
            await resp.write(b": peerwork event stream\n\n")
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), SSE_KEEPALIVE)
                except TimeoutError:
                    await resp.write(b": keep-alive\n\n")
                    continue
                missed = self.agent.bus.missed(queue)
                if missed:
                    note = json.dumps({"missed": missed})
                    await resp.write(f"event: dropped\ndata: {note}\n\n".encode())
                body = json.dumps({"seq": event.seq, "at": event.at, **event.payload})
                await resp.write(f"id: {event.seq}\nevent: {event.kind}\ndata: {body}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.agent.bus.unsubscribe(queue)
            self._streams.discard(resp)
        return resp
