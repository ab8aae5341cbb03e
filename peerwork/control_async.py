"""Async client of the local agent's control API, for the TUI and other asyncio callers.

Beside :class:`peerwork.control.ControlClient` (sync, for the CLI) and sharing
its request encoding and answer decoding, so both clients raise the same
:mod:`peerwork.errors` classes with the same messages. The event stream is
decoded by the one SSE codec, :mod:`peerwork.proto.sse`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

from peerwork.control import API, decode_answer, encode_request, not_allowed, not_running
from peerwork.models import EVENTS_PATH, SSE_KEEPALIVE, AgentEvent, AgentStatus, Peer
from peerwork.proto.sse import SseDecoder

READ_SIZE = 64 * 1024


class AsyncControlClient:
    """Use as ``async with AsyncControlClient(path) as client:``, or call :meth:`close`."""

    def __init__(self, socket_path: Path, timeout: float = 15.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AsyncControlClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.UnixConnector(path=str(self.socket_path)),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.timeout),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _send(
        self, method: str, path: str, body: Any, limits: aiohttp.ClientTimeout
    ) -> aiohttp.ClientResponse:
        payload, headers = encode_request(body)
        try:
            return await self._client().request(
                method,
                "http://localhost" + API + path,
                data=payload,
                headers=headers,
                timeout=limits,
            )
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, PermissionError):
                raise not_allowed(self.socket_path) from None
            raise not_running(self.socket_path) from None

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        resp = await self._send(method, path, body, aiohttp.ClientTimeout(total=self.timeout))
        async with resp:
            raw = await resp.read()
        return decode_answer(resp.status, raw)

    async def get(self, path: str) -> Any:
        return await self.request("GET", path)

    async def post(self, path: str, body: Any = None) -> Any:
        return await self.request("POST", path, body if body is not None else {})

    async def patch(self, path: str, body: Any) -> Any:
        return await self.request("PATCH", path, body)

    async def put(self, path: str, body: Any) -> Any:
        return await self.request("PUT", path, body)

    async def delete(self, path: str) -> Any:
        return await self.request("DELETE", path)

    async def status(self) -> AgentStatus:
        return AgentStatus.from_json(await self.get("/status"))

    async def peers(self) -> list[Peer]:
        data = await self.get("/peers")
        return [Peer.from_json(p) for p in data.get("peers", [])]

    async def watch(self) -> AsyncIterator[AgentEvent]:
        """The agent's events as they happen; ends when the agent closes the stream.
        Silence longer than twice the keep-alive means the agent is gone: TimeoutError."""
        resp = await self._send(
            "GET", EVENTS_PATH, None, aiohttp.ClientTimeout(total=None, sock_read=None)
        )
        async with resp:
            if resp.status >= 400:
                decode_answer(resp.status, await resp.read())
            decoder = SseDecoder()
            while True:
                async with asyncio.timeout(2 * SSE_KEEPALIVE):
                    chunk = await resp.content.readany()
                if not chunk:
                    return
                for message in decoder.feed(chunk):
                    yield AgentEvent.from_sse(message)
