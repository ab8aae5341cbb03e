"""The peerwork agent: one asyncio process per PC that runs the services of its list.

The services come from :data:`agents.wiring.SERVICES` (or the list a caller
passes): each is built from a :class:`~agents.context.ServiceContext`, and the
agent knows none by name. Start order: the control API (so status and changes
work at once, showing services as starting), then the services in list order.
Supervision (state, events, adverts, retries) is the
:class:`~agents.service.Service` base's. SIGTERM/SIGINT stop everything in
reverse order: discovery says goodbye first, so peers drop us at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from peerwork import PROTOCOL_VERSION, __version__
from peerwork.accounts import AccountStore
from peerwork.config import Config, ConfigFile, EditCheck, changed_sections, section_table
from peerwork.errors import PeerworkError
from peerwork.home import HomeLock, HomePaths
from peerwork.identity import Identity
from peerwork.models import AgentStatus, Peer, PeerIdentity, PeerTrust, ServiceState
from peerwork.shares import Share, folder_problem

from .actions import Actions, servable
from .adverts import AdvertBoard
from .channel.link import ChannelLink
from .context import ServiceContext
from .control_server import ControlServer
from .events import EventBus
from .files import ShareRegistry
from .log_throttle import throttle_accept_errors
from .membership import MembershipView
from .process_limits import raise_nofile_limit
from .service import RetryPolicy, Service
from .tasks import BackgroundTasks
from .wiring import SERVICES

log = logging.getLogger("peerwork.agent")
# Failed services are retried after RETRY_FIRST seconds, doubling up to RETRY_MAX.
RETRY_FIRST = 5.0
RETRY_MAX = 300.0


_OUTSIDERS = frozenset({PeerTrust.IMPOSTOR, PeerTrust.NOT_A_MEMBER, PeerTrust.REVOKED})


@runtime_checkable
class PeerSource(Protocol):
    """A service that finds other PCs (discovery); the agent asks whichever runs."""

    def peers(self) -> Sequence[Any]: ...

    def neighbours(self) -> Sequence[Any]: ...


@runtime_checkable
class PeerAnnotator(Protocol):
    """A service with its own view of each peer (account replication, say), shown
    under the service's name in ``GET /v1/peers``; keyed by peer id."""

    def peer_states(self) -> Mapping[str, Mapping[str, Any]]: ...


class Agent:
    def __init__(
        self,
        home: Path,
        *,
        only_share: Share | None = None,
        retry_first: float = RETRY_FIRST,
        services: Sequence[type[Service]] = SERVICES,
    ) -> None:
        """``only_share``: serve just this share and persist nothing about it
        (the foreground mode of ``peerwork share`` when no agent runs).
        ``retry_first``: seconds before a failed service is first tried again.
        ``services``: the service classes to run, in start order."""
        self.paths = HomePaths(home)
        self.paths.checked_socket()
        self.lock = HomeLock(self.paths.lock)
        self.lock.acquire()
        try:
            self.config = ConfigFile(self.paths.config)
            self.identity = Identity.load(self.paths.identity)
            # Signed by our peer key: every change is a change-log entry peers can check.
            self.accounts = AccountStore(self.paths.accounts, self.identity)
            self.membership = MembershipView.load(home)
        except BaseException:
            self.lock.release()
            raise
        cfg = self.config.config
        # What the services were built from: sections apply live only if their service can.
        self.running_config = cfg
        self.bus = EventBus()
        self.board = AdvertBoard()
        self.channel = ChannelLink()
        self.registry = ShareRegistry(servable([only_share] if only_share else cfg.shares, home))
        self.actions = Actions(
            config=self.config,
            accounts=self.accounts,
            registry=self.registry,
            emit=self.bus.emit,
            changed=self._shares_changed,
            home=home,
            persist=only_share is None,
        )
        self.started = time.time()
        self.retry = RetryPolicy(retry_first, RETRY_MAX)
        self._tasks = BackgroundTasks("agent")  # reloads, and what services spawn
        self.services: list[Service] = []
        self.settings: dict[str, Any] = {}  # each service's running settings, by name
        try:
            self._build_services(services)
        except BaseException:
            self.lock.release()
            raise
        self.control = ControlServer(self, self.paths.socket)
        self._stop = asyncio.Event()
        self.exit_status = 0

    def _raw_section(self, name: str) -> Mapping[str, Any]:
        return section_table(self.config.doc, name, str(self.config.path))

    def _context(self, cls: type[Service], cfg: Config) -> ServiceContext:
        raw = self._raw_section(cls.name)
        return ServiceContext(
            name=cls.name,
            settings=cls.read_settings(cfg, raw),
            raw_section=raw,
            config=cfg,
            accounts=self.accounts,
            identity=self.identity,
            emit=self.bus.emit,
            board=self.board,
            paths=self.paths,
            tasks=self._tasks,
            retry=self.retry,
            shares=self.registry,
            actions=self.actions,
            peers=self.peer_models,
            channel=self.channel,
            membership=self.membership,
        )

    def _build_services(self, classes: Sequence[type[Service]]) -> None:
        """Build every listed service, enabled or not: a disabled one still reports
        its state and keeps its control routes (which explain it is disabled)."""
        cfg = self.config.config
        for cls in classes:
            ctx = self._context(cls, cfg)
            service = cls.from_context(ctx)
            service.supervise(ctx.board, ctx.retry)
            if why := cls.disabled_reason(ctx.settings, cfg):
                service.disable(why)
            self.services.append(service)
            self.settings[cls.name] = ctx.settings

    def service(self, name: str) -> Service | None:
        return next((s for s in self.services if s.name == name), None)

    def roles(self) -> list[str]:
        return self.board.roles()

    async def _shares_changed(self) -> None:
        for service in self.services:
            if service.state is ServiceState.RUNNING:
                await service.refresh()

    def _peer_sources(self) -> list[PeerSource]:
        return [
            s
            for s in self.services
            if isinstance(s, PeerSource) and s.state is ServiceState.RUNNING
        ]

    def peers(self) -> list[Any]:
        """PCs of our workgroup seen on the LAN (each with ``to_json``)."""
        return [p for source in self._peer_sources() for p in source.peers()]

    def peers_json(self) -> list[dict[str, Any]]:
        """``peers()`` as JSON, each with what running services know of it by name."""
        views = [
            (s.name, s.peer_states())
            for s in self.services
            if isinstance(s, PeerAnnotator) and s.state is ServiceState.RUNNING
        ]
        out = []
        for peer in self.peers():
            data = dict(peer.to_json())
            for name, states in views:
                if (state := states.get(data.get("peer_id", ""))) is not None:
                    data[name] = dict(state)
            out.append(data)
        return out

    def neighbours(self) -> list[Any]:
        """peerwork PCs on the LAN that belong to other workgroups."""
        return [p for source in self._peer_sources() for p in source.neighbours()]

    def peer_models(self) -> list[Peer]:
        return [Peer.from_json(p.to_json()) for p in self.peers()]

    def status_model(self) -> AgentStatus:
        cfg = self.config.config
        return AgentStatus(
            peer=PeerIdentity(
                cfg.peer.name, cfg.peer.workgroup, self.identity.peer_id, cfg.peer.owner
            ),
            version=__version__,
            protocol=PROTOCOL_VERSION,
            pid=os.getpid(),
            home=str(self.paths.root),
            uptime=round(time.time() - self.started, 1),
            services=tuple(s.status() for s in self.services),
            shares=len(self.registry),
            # Impostors and PCs outside the workgroup's trust are listed apart (peers,
            # warnings), never counted as PCs seen.
            peers=sum(1 for p in self.peer_models() if p.state not in _OUTSIDERS),
            foreground_share=not self.actions.persist,
        )

    def status(self) -> dict[str, Any]:
        return self.status_model().to_json()

    def request_stop(self, exit_status: int = 0) -> None:
        self.exit_status = max(self.exit_status, exit_status)
        self._stop.set()

    async def reload(self) -> dict[str, Any]:
        """Re-read peerwork.toml. Shares apply at once; every other changed section goes
        to its service, which applies it live or needs a restart (``restart_needed``).
        A section that does not parse refuses the whole reload before anything changes."""
        self.config.reload()
        after = self.config.config
        wanted = {s.name: s.read_settings(after, self._raw_section(s.name)) for s in self.services}
        report: dict[str, Any] = dict(await self.actions.reload_shares())
        # Sections no service owns (such as [peer]: the name every service announces)
        # apply only at the agent's start.
        owned = {service.name for service in self.services}
        restart = [
            name for name in changed_sections(self.running_config, after) if name not in owned
        ]
        applied = []
        for service in self.services:
            new = wanted[service.name]
            if new == self.settings[service.name]:
                continue
            live = (
                service.state is not ServiceState.DISABLED
                and not service.disabled_reason(new, after)
                and await service.apply(new)
            )
            if live:
                self.settings[service.name] = new
                applied.append(service.name)
            else:
                restart.append(service.name)
        report["applied"] = applied
        report["restart_needed"] = restart
        if applied:
            log.info("peerwork.toml: applied [%s] without a restart", "], [".join(applied))
        if restart:
            log.warning(
                "peerwork.toml: [%s] changed; restart the agent to apply", "], [".join(restart)
            )
        return report

    async def edit_config(self, section: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Set keys of ``[section]`` in peerwork.toml (comments and hand edits kept), then
        reload: the report says whether its service applied it live or needs a restart.
        The new value must pass the section's reader (a service's own, for a section
        the config package does not list) before anything is written."""
        owner = self.service(section)
        check: EditCheck | None = None
        if owner is not None:
            reader = type(owner)

            def check(doc: Mapping[str, Any], config: Config) -> None:
                reader.read_settings(config, section_table(doc, section, str(self.config.path)))

        self.config.edit_section(section, changes, check)
        report = await self.reload()
        return {"section": section, "changes": dict(changes), **report}

    def _reload_on_signal(self) -> None:
        self._tasks.spawn(self._reload_logged(), "reload")

    async def _reload_logged(self) -> None:
        try:
            await self.reload()
        except PeerworkError as exc:
            log.error("reload refused: %s", exc.message)
        except Exception:
            log.exception("reload failed")

    async def run(self, on_ready: Callable[[Agent], None] | None = None) -> int:
        """Run until SIGTERM/SIGINT or :meth:`request_stop`; returns the exit status."""
        loop = asyncio.get_running_loop()
        fds = raise_nofile_limit()
        throttle_accept_errors(loop, log)
        log.info("open-file limit: %d", fds)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop, 0)
        loop.add_signal_handler(signal.SIGHUP, self._reload_on_signal)
        try:
            # The control API first: `peerwork status` and `share` work while services start.
            await self.control.start()
            for service in self.services:
                if service.state is not ServiceState.DISABLED:
                    await service.launch()
            for share in self.registry.all():
                if problem := folder_problem(share, self.paths.root):
                    log.warning("share %s: %s; clients get 'bad network name'", share.name, problem)
            log.info(
                "agent %s (workgroup %s, peer id %s) ready; control socket %s",
                self.config.config.peer.name,
                self.config.config.peer.workgroup,
                self.identity.peer_id,
                self.paths.socket,
            )
            self.bus.emit("agent", {"state": "running"})
            if on_ready is not None:
                on_ready(self)
            await self._stop.wait()
            log.info("stopping")
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            await self.shutdown()
        return self.exit_status

    async def shutdown(self) -> None:
        await self._tasks.close()
        self.bus.emit("agent", {"state": "stopping"})
        await self.control.stop()
        for service in reversed(self.services):
            try:
                await asyncio.wait_for(service.stop(), timeout=10)
            except Exception:
                log.exception("%s: error while stopping", service.name)
        self.lock.release()
