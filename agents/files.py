"""The files service: the live share registry and the SMB server that serves it.

While the SMB server runs, the service's advert on the :class:`AdvertBoard`
gives this PC the ``files`` role, the signed ``smb`` port, the share list
(signed keys of the peer record, :mod:`peerwork.proto.share_list`) and the
``_smb._tcp`` record file managers browse, one per host as Samba does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from peerwork.accounts import AccountStore
from peerwork.config import FILES, FilesSection
from peerwork.logon_throttle import ThrottleLimits
from peerwork.proto.share_list import encode_shares
from peerwork.shares import Access, Share, folder_problem

from .adverts import AdvertBoard, DnsSdRecord, ServiceAdvert
from .process_limits import nofile_limit
from .service import EventSink, Route, Service, no_events
from .share_routes import share_routes
from .smb.limits import MIB, ServerLimits
from .smb.logon_guard import LogonGuard, SessionLimits
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


SMB_TYPE = "_smb._tcp.local."
# Room for share names in the peer record, out of its 1300 bytes (the rest is
# id, key, addresses, ports, roles and signature).
SHARES_TXT_BUDGET = 720


def files_advert(port: int | None, share_names: Sequence[str]) -> ServiceAdvert:
    """What a file service on ``port`` (None: not serving) announces about ``share_names``."""
    extra = encode_shares(share_names, SHARES_TXT_BUDGET)
    if port is None:
        return ServiceAdvert(extra=extra)
    return ServiceAdvert(
        roles=("files",),
        ports={"smb": port},
        records=(DnsSdRecord(SMB_TYPE, port),),
        extra=extra,
    )


class FileService(Service):
    name = "files"
    section = FILES

    def __init__(
        self,
        *,
        settings: FilesSection,
        registry: ShareRegistry,
        accounts: AccountStore,
        server_name: str,
        workgroup: str,
        board: AdvertBoard | None = None,
        emit: EventSink = no_events,
        routes: Sequence[Route] = (),
        home: Path | None = None,
    ) -> None:
        """``home``: the peerwork home, which no share may serve (checked again at
        every tree connect, as a share folder can be swapped after loading)."""
        super().__init__(emit)
        self._routes = routes
        self.home = home
        self.settings = settings
        self.registry = registry
        self.accounts = accounts
        self.server_name = server_name
        self.workgroup = workgroup
        self.board = board or AdvertBoard()
        self._server: SmbServer | None = None

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> FileService:
        return cls(
            settings=ctx.settings,
            registry=ctx.shares,
            accounts=ctx.accounts,
            server_name=ctx.peer.name,
            workgroup=ctx.peer.workgroup,
            board=ctx.board,
            emit=ctx.emit,
            home=ctx.paths.root,
            routes=share_routes(ctx.actions, ctx.paths.root),
        )

    def routes(self) -> Sequence[Route]:
        return self._routes

    async def refresh(self) -> None:
        self.advertise()  # shares changed: discovery hears it from the board

    def notes(self) -> list[str]:
        lines = []
        if problem := self.accounts.problem:
            lines.append(f"accounts.toml: {problem} (using the accounts read before)")
        if "unserved" in (details := self.details()):
            for name, why in sorted(details["unserved"].items()):
                lines.append(f"share {name} not served: {why}")
        anonymous = {
            s.name: str(s.anonymous) for s in self.registry.all() if s.anonymous > Access.NONE
        }
        grants = ", ".join(f"{name}={access}" for name, access in sorted(anonymous.items()))
        lines.append(
            f"anonymous (no logon): {grants}"
            if grants
            else "anonymous (no logon): none — anonymous logons are refused"
        )
        if self.settings.require_encryption:
            lines.append("encryption: required for every session (SMB 3; SMB 2 clients refused)")
        elif sealed := sorted(s.name for s in self.registry.all() if s.encrypt):
            lines.append(f"encryption required on: {', '.join(sealed)} (SMB 3 clients only)")
        bursts = self._server.logons.details().get("failure_bursts") if self._server else 0
        if bursts:
            lines.append(
                f"failed logons: {bursts} burst(s) since start, "
                "answered with growing delays (see the agent log)"
            )
        return lines

    async def _start(self) -> None:
        server = SmbServer(
            shares=self.registry,
            accounts=self.accounts,
            server_name=self.server_name,
            workgroup=self.workgroup,
            host=self.settings.bind,
            port=self.settings.port,
            require_signing=self.settings.require_signing,
            require_encryption=self.settings.require_encryption,
            logon_guard=logon_guard(self.settings, self.emit),
            home=self.home,
            max_locks_per_open=self.settings.max_locks_per_open,
            max_listing_work=self.settings.max_listing_work,
            preauth_timeout=self.settings.logon_timeout,
            idle_timeout=self.settings.idle_timeout,
            limits=server_limits(self.settings).fit_to_fds(nofile_limit()),
        )
        await server.start()
        self._server = server
        self.advertise()

    def advertise(self) -> None:
        """Put the current port and shares on the board (after a share change too)."""
        if self._server is None:
            self.board.clear(self.name)
            return
        names = [s.name for s in self.registry.all()]
        self.board.set(self.name, files_advert(int(self._server.port), names))

    async def _stop(self) -> None:
        self.board.clear(self.name)
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
            "require_encryption": self.settings.require_encryption,
            # In force: lowered from peerwork.toml's if the open-file limit is small.
            "max_connections": self._server.limits.max_connections if self._server else 0,
            "max_open_files": self._server.limits.max_open_files if self._server else 0,
            "max_open_files_total": (
                self._server.limits.max_open_files_total if self._server else 0
            ),
            "accounts_problem": self.accounts.problem,
            # Shares reachable without a logon (an anonymous logon is refused when empty).
            "anonymous": {
                s.name: str(s.anonymous) for s in self.registry.all() if s.anonymous > Access.NONE
            },
            "logons": self._server.logons.details() if self._server else {},
            # Shares registered but refused to clients right now, and why.
            "unserved": {
                s.name: problem
                for s in self.registry.all()
                if (problem := folder_problem(s, self.home))
            },
        }


def logon_guard(settings: FilesSection, emit: EventSink) -> LogonGuard:
    """The logon limits ``[files]`` asks for; bursts of failed logons go to ``emit``."""
    return LogonGuard(
        sessions=SessionLimits(
            max_pending=settings.max_pending_logons,
            max_sessions=settings.max_sessions_per_connection,
            pending_timeout=settings.pending_logon_timeout,
        ),
        throttle=ThrottleLimits(
            free_failures=settings.logon_free_failures,
            first_delay=settings.logon_first_delay,
            max_delay=settings.logon_max_delay,
            forget_after=settings.logon_forget_after,
            burst_failures=settings.logon_burst_failures,
            burst_window=settings.logon_burst_window,
            max_entries=settings.logon_throttle_entries,
        ),
        emit=emit,
    )


def server_limits(settings: FilesSection) -> ServerLimits:
    return ServerLimits(
        max_connections=settings.max_connections,
        max_connections_per_client=settings.max_connections_per_client,
        max_open_files=settings.max_open_files,
        queue_bytes=settings.queue_mib * MIB,
        queue_total_bytes=settings.queue_total_mib * MIB,
        stall_timeout=settings.stall_timeout,
    )
