"""Run peerwork's SmbServer for tests: in-process (a loop in a thread) or as a subprocess.

In-process::

    with running_server(shares, accounts) as srv:
        smbclient(... srv.port ...)

As a subprocess (``python -m tests.helpers.smbserver_runner CONFIG.json``) it
prints ``PORT <n>`` on stdout once listening; CONFIG names the accounts file and
the shares.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from peerwork.accounts import AccountStore
from peerwork.agents.smb.server import SmbServer
from peerwork.shares import Share


@dataclass
class ShareTable:
    """A live ShareSource for tests: mutate ``shares`` while the server runs."""

    shares: dict[str, Share] = field(default_factory=dict)

    def add(self, share: Share) -> None:
        self.shares[share.key] = share

    def remove(self, name: str) -> None:
        self.shares.pop(name.lower(), None)

    def get(self, name: str) -> Share | None:
        return self.shares.get(name.lower())

    def all(self) -> list[Share]:
        return list(self.shares.values())


class ServerThread:
    """SmbServer on its own event loop in a daemon thread."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("host", "127.0.0.1")
        kwargs.setdefault("port", 0)
        kwargs.setdefault("server_name", "PEERTEST")
        kwargs.setdefault("workgroup", "OFFICE")
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        try:
            self.server: SmbServer = self.call(self._make(kwargs))
        except BaseException:
            self._halt()
            raise

    @staticmethod
    async def _make(kwargs: dict[str, Any]) -> SmbServer:
        srv = SmbServer(**kwargs)
        await srv.start()
        return srv

    def call(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def port(self) -> int:
        return self.server.port

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.call(self.server.stop())
        self._halt()

    def _halt(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@contextlib.contextmanager
def running_server(shares: Any, accounts: Any, **kwargs: Any) -> Iterator[ServerThread]:
    srv = ServerThread(shares=shares, accounts=accounts, **kwargs)
    try:
        yield srv
    finally:
        srv.stop()


def smbclient(
    port: int, target: str, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the real smbclient against 127.0.0.1:port; ``target`` is e.g. ``//127.0.0.1/docs``."""
    cmd = ["smbclient", target, "-p", str(port), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


async def _main(cfg: dict[str, Any]) -> None:
    table = ShareTable()
    for s in cfg.get("shares", []):
        table.add(Share.from_json(s))
    srv = SmbServer(
        shares=table,
        accounts=AccountStore(Path(cfg["accounts"])),
        server_name=cfg.get("server_name", "PEERTEST"),
        workgroup=cfg.get("workgroup", "OFFICE"),
        host=cfg.get("host", "127.0.0.1"),
        port=int(cfg.get("port", 0)),
        require_signing=bool(cfg.get("require_signing", False)),
    )
    await srv.start()
    print(f"PORT {srv.port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await srv.stop()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(json.loads(Path(sys.argv[1]).read_text())))
