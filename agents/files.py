"""The files service: the live share registry and the SMB server that serves it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from peerwork.accounts import AccountStore
from peerwork.config import Config, FilesSection
from peerwork.shares import Share

from .adverts import ServiceAdvert
from .service import EventSink, Route, Service, no_events
from .share_routes import share_routes
from .smb.server import SmbServer

if TYPE_CHECKING:
    from .context import ServiceContext


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
        routes: Sequence[Route] = (),
    ) -> None:
        super().__init__(emit)
        self._routes = routes
        self.settings = settings
        self.registry = registry
        self.accounts = accounts
        self.server_name = server_name
        self.workgroup = workgroup
        self._server: SmbServer | None = None

    @classmethod
    def read_settings(cls, config: Config, raw: Mapping[str, Any]) -> FilesSection:
        return config.files

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> FileService:
        return cls(
            settings=ctx.settings,
            registry=ctx.shares,
            accounts=ctx.accounts,
            server_name=ctx.peer.name,
            workgroup=ctx.peer.workgroup,
            emit=ctx.emit,
            routes=share_routes(ctx.actions, ctx.paths.root),
        )

    def routes(self) -> Sequence[Route]:
        return self._routes

    def advert(self) -> ServiceAdvert | None:
        port = self.port
        return ServiceAdvert(roles=("files",), ports={"smb": port}) if port else None

    def notes(self) -> list[str]:
        problem = self.accounts.problem
        return [f"accounts.toml: {problem} (using the accounts read before)"] if problem else []

    async def _start(self) -> None:
        server = SmbServer(
            shares=self.registry,
            accounts=self.accounts,
            server_name=self.server_name,
            workgroup=self.workgroup,
            host=self.settings.bind,
            port=self.settings.port,
            require_signing=self.settings.require_signing,
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
            "accounts_problem": self.accounts.problem,
        }
