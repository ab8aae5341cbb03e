"""The peerwork agent: one asyncio process per PC that runs the enabled services.

Start order: the control API (so status and changes work at once, showing
services as starting), then files (so its real port is known), then discovery
(which announces that port). A service that fails to start is reported as
failed, retried later, and the others keep running. SIGTERM/SIGINT stop everything
in reverse order: discovery says goodbye first, so peers drop us at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from peerwork import PROTOCOL_VERSION, __version__
from peerwork.accounts import AccountStore
from peerwork.config import ConfigFile
from peerwork.errors import PeerworkError
from peerwork.home import HomeLock, HomePaths
from peerwork.identity import Identity
from peerwork.shares import Share, folder_problem

from .actions import Actions, servable
from .control_server import ControlServer
from .discovery import DiscoveryService, PeerInfo
from .events import EventBus
from .files import FileService, ShareRegistry
from .log_throttle import throttle_accept_errors
from .process_limits import raise_nofile_limit
from .service import Service, ServiceState, ServiceStatus
from .tasks import BackgroundTasks

log = logging.getLogger("peerwork.agent")
# Failed services are retried after RETRY_FIRST seconds, doubling up to RETRY_MAX.
RETRY_FIRST = 5.0
RETRY_MAX = 300.0


class Agent:
    def __init__(
        self, home: Path, *, only_share: Share | None = None, retry_first: float = RETRY_FIRST
    ) -> None:
        """``only_share``: serve just this share and persist nothing about it
        (the foreground mode of ``peerwork share`` when no agent runs).
        ``retry_first``: seconds before a failed service is first tried again."""
        self.paths = HomePaths(home)
        self.paths.checked_socket()
        self.lock = HomeLock(self.paths.lock)
        self.lock.acquire()
        try:
            self.config = ConfigFile(self.paths.config)
            self.identity = Identity.load(self.paths.identity)
            self.accounts = AccountStore(self.paths.accounts)
        except BaseException:
            self.lock.release()
            raise
        cfg = self.config.config
        # What the services were built from: sections other than shares apply at restart.
        self.running_config = cfg
        self.bus = EventBus()
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
        self.services: dict[str, Service] = {}
        self.disabled: dict[str, str] = {}
        self.files: FileService | None = None
        self.discovery: DiscoveryService | None = None
        self.control = ControlServer(self, self.paths.socket)
        self._stop = asyncio.Event()
        self.retry_first = retry_first
        self.exit_status = 0
        self._tasks = BackgroundTasks("agent")  # service retries, reloads

    def _build_services(self) -> None:
        cfg = self.config.config
        if cfg.files.enabled:
            self.files = FileService(
                settings=cfg.files,
                registry=self.registry,
                accounts=self.accounts,
                server_name=cfg.peer.name,
                workgroup=cfg.peer.workgroup,
                emit=self.bus.emit,
            )
            self.services["files"] = self.files
        else:
            self.disabled["files"] = "disabled in peerwork.toml ([files] enabled = false)"
        if cfg.discovery.enabled:
            self.discovery = DiscoveryService(
                identity=self.identity,
                peer=cfg.peer,
                settings=cfg.discovery,
                roles=self.roles,
                smb_port=lambda: self.files.port if self.files else None,
                shares=self.registry.all,
                emit=self.bus.emit,
            )
            self.services["discovery"] = self.discovery
        else:
            self.disabled["discovery"] = "disabled in peerwork.toml ([discovery] enabled = false)"

    def roles(self) -> list[str]:
        roles = []
        if self.files is not None and self.files.state is ServiceState.RUNNING:
            roles.append("files")
        return roles

    async def _shares_changed(self) -> None:
        if self.discovery is not None and self.discovery.state is ServiceState.RUNNING:
            await self.discovery.refresh()

    def peers(self) -> list[PeerInfo]:
        if self.discovery is None or self.discovery.state is not ServiceState.RUNNING:
            return []
        return self.discovery.peers()

    def neighbours(self) -> list[PeerInfo]:
        """peerwork PCs on the LAN that belong to other workgroups."""
        if self.discovery is None or self.discovery.state is not ServiceState.RUNNING:
            return []
        return self.discovery.neighbours()

    def status(self) -> dict[str, Any]:
        cfg = self.config.config
        statuses = [s.status() for s in self.services.values()]
        statuses += [
            ServiceStatus(n, ServiceState.DISABLED, why) for n, why in self.disabled.items()
        ]
        return {
            "peer": {
                "name": cfg.peer.name,
                "workgroup": cfg.peer.workgroup,
                "id": self.identity.peer_id,
                "owner": cfg.peer.owner,
            },
            "version": __version__,
            "protocol": PROTOCOL_VERSION,
            "pid": os.getpid(),
            "home": str(self.paths.root),
            "uptime": round(time.time() - self.started, 1),
            "foreground_share": not self.actions.persist,
            "services": [s.to_json() for s in statuses],
            "shares": len(self.registry),
            "peers": len(self.peers()),
        }

    def request_stop(self, exit_status: int = 0) -> None:
        self.exit_status = max(self.exit_status, exit_status)
        self._stop.set()

    async def reload(self) -> dict[str, Any]:
        """Re-read peerwork.toml: shares apply at once; other sections need a restart."""
        before = self.running_config
        report: dict[str, Any] = dict(await self.actions.reload_shares())
        after = self.config.config
        report["restart_needed"] = [
            name
            for name, old, new in (
                ("peer", before.peer, after.peer),
                ("files", before.files, after.files),
                ("discovery", before.discovery, after.discovery),
            )
            if old != new
        ]
        if report["restart_needed"]:
            log.warning(
                "peerwork.toml: [%s] changed; restart the agent to apply",
                "], [".join(report["restart_needed"]),
            )
        return report

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
            self._build_services()
            # The control API first: `peerwork status` and `share` work while services start.
            await self.control.start()
            for service in self.services.values():
                try:
                    await service.start()
                    log.info("%s: running %s", service.name, service.ports() or "")
                except Exception as exc:
                    log.error("%s: failed to start: %s", service.name, service.reason)
                    log.debug("%s start failure", service.name, exc_info=exc)
                    self._retry_later(service)
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

    def _retry_later(self, service: Service) -> None:
        self._tasks.spawn(self._retry(service), f"retry-{service.name}")

    async def _retry(self, service: Service) -> None:
        """Try a failed service again, backing off: the port may be freed, the network
        may come up after boot. Status keeps showing the last reason meanwhile."""
        delay = self.retry_first
        while service.state is ServiceState.FAILED:
            await asyncio.sleep(delay)
            try:
                await service.start()
            except Exception:
                delay = min(delay * 2, RETRY_MAX)
                log.info(
                    "%s: still failing (%s); next try in %.0fs", service.name, service.reason, delay
                )
                continue
            log.info("%s: running %s (after a retry)", service.name, service.ports() or "")
            # A late file service changes what discovery announces (roles, SMB port).
            await self._shares_changed()

    async def shutdown(self) -> None:
        await self._tasks.close()
        self.bus.emit("agent", {"state": "stopping"})
        await self.control.stop()
        for service in reversed(list(self.services.values())):
            try:
                await asyncio.wait_for(service.stop(), timeout=10)
            except Exception:
                log.exception("%s: error while stopping", service.name)
        self.lock.release()
