"""The one way tests (and bench/smb.py) run peerwork's SmbServer without the agent.

The server runs in-process, on its own event loop in a thread, bound to
127.0.0.1 on a free port::

    with smb_server(tmp_path, users={"alice": "secret"},
                    shares=[Share("docs", folder, grants={"alice": Access.FULL})],
                    idle_timeout=1.5) as lab:
        smbclient(lab.port, "//127.0.0.1/docs", "-U", "alice%secret", "-c", "ls")

``lab.table`` is live (add or remove shares while it runs); any other keyword is
passed to :class:`SmbServer` (limits, timeouts, ``require_signing``,
``logon_guard``). Tests of the agent as users run it start ``peerwork agent``
instead (tests/helpers/agent.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import threading
from collections.abc import Iterable, Iterator, Mapping
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


@dataclass
class SmbLab:
    """A running server and what it serves."""

    server: ServerThread
    table: ShareTable
    accounts: AccountStore

    @property
    def port(self) -> int:
        return self.server.port


@contextlib.contextmanager
def smb_server(
    home: Path,
    *,
    users: Mapping[str, str] | None = None,
    shares: Iterable[Share] = (),
    **options: Any,
) -> Iterator[SmbLab]:
    """An SmbServer for ``users`` (name → password, kept in ``home/accounts.toml``)
    and ``shares``; ``options`` are SmbServer keywords. Stopped on exit."""
    accounts = AccountStore(home / "accounts.toml")
    for name, password in (users or {}).items():
        accounts.add(name, password)
    table = ShareTable()
    for share in shares:
        table.add(share)
    srv = ServerThread(shares=table, accounts=accounts, **options)
    try:
        yield SmbLab(srv, table, accounts)
    finally:
        srv.stop()


def smbclient(
    port: int, target: str, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the real smbclient against 127.0.0.1:port; ``target`` is e.g. ``//127.0.0.1/docs``."""
    cmd = ["smbclient", target, "-p", str(port), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
