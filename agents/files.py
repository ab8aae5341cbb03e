"""The files service: the live share registry and the SMB server that serves it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from peerwork.accounts import AccountStore
from peerwork.config import FilesSection
from peerwork.shares import Share

from .process_limits import nofile_limit
from .service import EventSink, Service, no_events
from .smb.limits import MIB, ServerLimits
from .smb.server import SmbServer


class ShareRegistry:
    """The shares being served right now, looked up case-insensitively.

    The SMB server reads it on every tree connect (and checks open trees against
    it), so changes here take effect without a restart.
    """

    def __init__(self, shares: Iterable[Share] = ()) -> None:
        self._by_key: dict[str, Share] = {s.key: s for s in shares}

    def get(self, name: str) -> Share | None:
        return self._by_key.get(name.lower())

    def all(self) -> list[Share]:
        return sorted(self._by_key.values(), key=lambda s: s.key)

    def put(self, share: Share) -> None:
        self._by_key[share.key] = share

    def remove(self, name: str) -> Share | None:
        return self._by_key.pop(name.lower(), None)

    def __len__(self) -> int:
        return len(self._by_key)


class FileService(Service):
    name = "files"

    def __init__(
        self,
        *,
        settings: FilesSection,
        registry: ShareRegistry,
        accounts: AccountStore,
        server_name: str,
        workgroup: str,
        emit: EventSink = no_events,
    ) -> None:
        super().__init__(emit)
        self.settings = settings
        self.registry = registry
        self.accounts = accounts
        self.server_name = server_name
        self.workgroup = workgroup
        self._server: SmbServer | None = None

    async def _start(self) -> None:
        server = SmbServer(
            shares=self.registry,
            accounts=self.accounts,
            server_name=self.server_name,
            workgroup=self.workgroup,
            host=self.settings.bind,
            port=self.settings.port,
            require_signing=self.settings.require_signing,
            preauth_timeout=self.settings.logon_timeout,
            idle_timeout=self.settings.idle_timeout,
            limits=server_limits(self.settings).fit_to_fds(nofile_limit()),
        )
        await server.start()
        self._server = server

    async def _stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None

    @property
    def port(self) -> int | None:
        return int(self._server.port) if self._server is not None else None

    def ports(self) -> dict[str, int]:
        return {"smb": self._server.port} if self._server is not None else {}

    def details(self) -> dict[str, Any]:
        return {
            "bind": self.settings.bind,
            "shares": len(self.registry),
            "connections": self._server.connection_count() if self._server else 0,
            "require_signing": self.settings.require_signing,
            # In force: lowered from peerwork.toml's if the open-file limit is small.
            "max_connections": self._server.limits.max_connections if self._server else 0,
            "max_open_files": self._server.limits.max_open_files if self._server else 0,
            "max_open_files_total": (
                self._server.limits.max_open_files_total if self._server else 0
            ),
            "accounts_problem": self.accounts.problem,
        }


def server_limits(settings: FilesSection) -> ServerLimits:
    return ServerLimits(
        max_connections=settings.max_connections,
        max_connections_per_client=settings.max_connections_per_client,
        max_open_files=settings.max_open_files,
        queue_bytes=settings.queue_mib * MIB,
        queue_total_bytes=settings.queue_total_mib * MIB,
        stall_timeout=settings.stall_timeout,
    )
