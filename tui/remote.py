"""A peer's share as the Browse screen uses it: one SMB connection, called from asyncio.

Behind :mod:`peerwork.client.smb`'s public functions only (it may move to another SMB
library); its blocking calls run in a thread, one at a time per connection. Copies
report progress and can be cancelled between chunks.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from peerwork.client.target import Endpoint, agent_peers, resolve_peer
from peerwork.errors import PeerworkError

if TYPE_CHECKING:
    from peerwork.client.smb import RemoteEntry, ShareInfo, SmbClient, TransferResult

T = TypeVar("T")


class Cancelled(PeerworkError):
    """The user cancelled a copy (what was copied so far is kept as a resumable .part)."""

    code = "cancelled"


@dataclass(frozen=True, slots=True)
class Credentials:
    user: str
    password: str


async def resolve(peer: str, socket_path: Path) -> Endpoint:
    """A discovered peer name (asked of the agent) or HOST[:PORT]."""
    return await asyncio.to_thread(resolve_peer, peer, agent_peers(socket_path))


def where(endpoint: Endpoint) -> str:
    """How to name a peer to the user: its discovered name, else HOST[:PORT]."""
    if endpoint.discovered:
        return endpoint.display
    return endpoint.host if endpoint.port == 445 else f"{endpoint.host}:{endpoint.port}"


class RemotePeer:
    """An open SMB session with one peer; ``close()`` when done."""

    def __init__(self, endpoint: Endpoint, client: SmbClient) -> None:
        self.endpoint = endpoint
        self._client = client
        self._lock = asyncio.Lock()
        self.cancel = threading.Event()

    @classmethod
    async def open(cls, endpoint: Endpoint, creds: Credentials, wait: float = 15) -> RemotePeer:
        from peerwork.client.smb import SmbClient

        client = await asyncio.to_thread(
            SmbClient.connect,
            endpoint.host,
            endpoint.port,
            creds.user,
            creds.password,
            endpoint.name,
            timeout=wait,
        )
        return cls(endpoint, client)

    async def _call(self, fn: Callable[[], T]) -> T:
        async with self._lock:
            return await asyncio.to_thread(fn)

    async def shares(self) -> list[ShareInfo]:
        found = await self._call(self._client.list_shares)
        return [s for s in found if not s.special and s.kind == "disk"]

    async def list_dir(self, share: str, path: str) -> list[RemoteEntry]:
        entries = await self._call(lambda: self._client.list_dir(share, path))
        return sorted(entries, key=lambda e: (not e.is_dir, e.name.casefold()))

    async def mkdir(self, share: str, path: str) -> None:
        await self._call(lambda: self._client.mkdir(share, path))

    async def delete(self, share: str, path: str, is_dir: bool) -> None:
        await self._call(lambda: (self._client.rmdir if is_dir else self._client.rm)(share, path))

    def _progress(self, report: Callable[[int, int], None]) -> Callable[[int, int], None]:
        def step(done: int, total: int) -> None:
            if self.cancel.is_set():
                raise Cancelled("copy cancelled; run it again to resume where it stopped")
            report(done, total)

        return step

    async def get(
        self, share: str, path: str, local: Path, report: Callable[[int, int], None]
    ) -> TransferResult:
        self.cancel.clear()
        step = self._progress(report)
        return await self._call(lambda: self._client.get(share, path, local, progress=step))

    async def put(
        self, local: Path, share: str, path: str, report: Callable[[int, int], None]
    ) -> TransferResult:
        self.cancel.clear()
        step = self._progress(report)
        return await self._call(lambda: self._client.put(local, share, path, progress=step))

    async def close(self) -> None:
        await asyncio.to_thread(self._client.close)
