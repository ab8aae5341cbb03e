"""Client of the local agent's control API: HTTP/JSON over ``$PEERWORK_HOME/agent.sock``.

Synchronous on purpose: the CLI makes one or two calls and exits. Errors come
back as the :mod:`peerwork.errors` class the agent named, with its message.
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

API = "/v1"
# The event stream sends a comment at least this often; readers wait twice as long.
SSE_KEEPALIVE = 15.0


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
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        try:
            conn.request(method, API + path, body=payload, headers=headers)
            return conn.getresponse(), conn
        except (FileNotFoundError, ConnectionRefusedError):
            conn.close()
            raise AgentNotRunning(
                f"no peerwork agent is running for this home ({self.socket_path.parent}); "
                "start one with 'peerwork agent'"
            ) from None
        except PermissionError:
            conn.close()
            raise PeerworkError(
                f"not allowed to talk to the agent at {self.socket_path}: "
                "only the user that runs the agent (or root) may"
            ) from None

    def request(self, method: str, path: str, body: Any = None) -> Any:
        resp, conn = self._open(method, path, body)
        try:
            raw = resp.read()
        finally:
            conn.close()
        try:
            data = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            raise PeerworkError(
                f"the agent answered {resp.status} with something that is not JSON"
            ) from None
        if resp.status >= 400:
            code = data.get("error", "error") if isinstance(data, dict) else "error"
            message = (
                data.get("message", raw.decode(errors="replace")) if isinstance(data, dict) else ""
            )
            raise errors.error_class(code)(message)
        return data

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

    def events(self) -> Iterator[tuple[str, Any]]:
        """Yield ``(kind, payload)`` from the agent's server-sent event stream, forever."""
        stream = ControlClient(self.socket_path, timeout=2 * SSE_KEEPALIVE)
        resp, conn = stream._open("GET", "/events")
        try:
            kind, data = "message", []
            while True:
                line = resp.readline()
                if not line:
                    return
                text = line.decode("utf-8", "replace").rstrip("\r\n")
                if text.startswith("event:"):
                    kind = text[6:].strip()
                elif text.startswith("data:"):
                    data.append(text[5:].strip())
                elif not text and data:
                    try:
                        payload = json.loads("\n".join(data))
                    except json.JSONDecodeError:
                        raise PeerworkError(f"the agent sent a malformed {kind!r} event") from None
                    yield kind, payload
                    kind, data = "message", []
        finally:
            conn.close()
