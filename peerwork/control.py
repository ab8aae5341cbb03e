"""Client of the local agent's control API: HTTP/JSON over ``$PEERWORK_HOME/agent.sock``.

Synchronous on purpose: the CLI makes one or two calls and exits (the TUI uses
:mod:`peerwork.control_async`, which shares the request and answer handling
here). Errors come back as the :mod:`peerwork.errors` class the agent named,
with its message.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from peerwork import errors
from peerwork.errors import AgentNotRunning, PeerworkError
from peerwork.models import EVENTS_PATH, SSE_KEEPALIVE, AgentEvent
from peerwork.proto.sse import SseDecoder

API = "/v1"
READ_SIZE = 64 * 1024


def encode_request(body: Any) -> tuple[bytes | None, dict[str, str]]:
    """The payload and headers of a request carrying ``body`` (None: no body)."""
    if body is None:
        return None, {}
    return json.dumps(body).encode(), {"Content-Type": "application/json"}


def decode_answer(status: int, raw: bytes) -> Any:
    """The JSON the agent answered, or the error it named raised as its class."""
    try:
        data = json.loads(raw) if raw else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise PeerworkError(
            f"the agent answered {status} with something that is not JSON"
        ) from None
    if status >= 400:
        code = data.get("error", "error") if isinstance(data, dict) else "error"
        message = data.get("message", "") if isinstance(data, dict) else ""
        raise errors.error_class(str(code))(str(message) or raw.decode(errors="replace"))
    return data


def not_running(socket_path: Path) -> AgentNotRunning:
    return AgentNotRunning(
        f"no peerwork agent is running for this home ({socket_path.parent}); "
        "start one with 'peerwork agent'"
    )


def not_allowed(socket_path: Path) -> PeerworkError:
    return PeerworkError(
        f"not allowed to talk to the agent at {socket_path}: "
        "only the user that runs the agent (or root) may"
    )


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self._path))
        except OSError:
            sock.close()
            raise
        self.sock = sock


class ControlClient:
    def __init__(self, socket_path: Path, timeout: float = 15.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def _open(self, method: str, path: str, body: Any = None) -> tuple[Any, _UnixConnection]:
        conn = _UnixConnection(self.socket_path, self.timeout)
        payload, headers = encode_request(body)
        try:
            conn.request(method, API + path, body=payload, headers=headers)
            return conn.getresponse(), conn
        except (FileNotFoundError, ConnectionRefusedError):
            conn.close()
            raise not_running(self.socket_path) from None
        except PermissionError:
            conn.close()
            raise not_allowed(self.socket_path) from None

    def request(self, method: str, path: str, body: Any = None) -> Any:
        resp, conn = self._open(method, path, body)
        try:
            raw = resp.read()
        finally:
            conn.close()
        return decode_answer(resp.status, raw)

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, body if body is not None else {})

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, body)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def is_running(self) -> bool:
        try:
            self.get("/status")
        except AgentNotRunning:
            return False
        return True

    def watch(self) -> Iterator[AgentEvent]:
        """The agent's events as they happen, until it stops (then the iterator ends)."""
        stream = ControlClient(self.socket_path, timeout=2 * SSE_KEEPALIVE)
        resp, conn = stream._open("GET", EVENTS_PATH)
        try:
            if resp.status >= 400:
                decode_answer(resp.status, resp.read())
            decoder = SseDecoder()
            while chunk := _read_stream(resp):
                for message in decoder.feed(chunk):
                    yield AgentEvent.from_sse(message)
        finally:
            conn.close()

    def events(self) -> Iterator[tuple[str, Any]]:
        """Yield ``(kind, data)`` from the event stream, forever; ``data`` is the
        payload with ``seq`` and ``at`` beside it, as sent."""
        for event in self.watch():
            yield event.kind, event.wire_data()


def _read_stream(resp: http.client.HTTPResponse) -> bytes:
    """The next bytes of the event stream; b"" once the agent has ended it, also
    when it closed the connection mid-chunk (a stopping agent does)."""
    try:
        return resp.read1(READ_SIZE)
    except (http.client.IncompleteRead, ConnectionError):
        return b""
