"""The service model: each service of the agent starts, stops and reports on its own.

One supervision path for every service, here in the base class: state
changes emit a ``service`` event and (re)publish or withdraw the service's
advert; a service that fails to start, or fails while running (it calls
:meth:`Service.fail`, or a coroutine it runs with :meth:`Service.run_supervised`
raises), is marked FAILED with a reason a user can act on and retried with
backoff. The agent keeps the other services running meanwhile.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from peerwork.errors import describe_failure
from peerwork.models import ServiceState, ServiceStatus

from .adverts import AdvertBoard, ServiceAdvert
from .tasks import BackgroundTasks

if TYPE_CHECKING:
    from peerwork.config import Config, ConfigSection

    from .context import ServiceContext

__all__ = [
    "EventSink",
    "RetryPolicy",
    "Route",
    "Service",
    "ServiceState",
    "ServiceStatus",
    "no_events",
]

log = logging.getLogger("peerwork.service")

# An event for the control API's stream: (kind, payload), e.g. ("peer-added", {...}).
EventSink = Callable[[str, dict[str, Any]], None]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def no_events(kind: str, payload: dict[str, Any]) -> None:
    """The EventSink of a service nobody listens to (tests, tools)."""
    del kind, payload


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A failed service is tried again after ``first`` seconds, doubling up to ``maximum``."""

    first: float = 5.0
    maximum: float = 300.0


@dataclass(frozen=True, slots=True)
class Route:
    """One control API route a service contributes, mounted at ``/v1/<service><path>``.

    ``alias``: a second, absolute path (``/v1/shares``) kept for clients that
    used it before routes moved under their service.
    """

    method: str
    path: str
    handler: Handler
    alias: str | None = None


class Service(abc.ABC):
    """Subclasses implement ``_start``/``_stop``; ``start``/``stop`` keep the state right.

    ``name`` is also the service's ``peerwork.toml`` section; ``section`` declares
    that section's typed reader (a :class:`~peerwork.config.ConfigSection`), which
    ``read_settings`` uses, and which ``peerwork config set`` checks a new value
    with. Subclasses that the agent builds from its list implement
    ``from_context`` (and ``read_settings`` when they declare no section).
    """

    name: str = "service"
    section: ConfigSection[Any] | None = None

    def __init__(self, emit: EventSink = no_events) -> None:
        self.emit = emit
        self.state = ServiceState.STOPPED
        self.reason = ""
        self._advert_board: AdvertBoard | None = None
        self._retry_policy = RetryPolicy()
        self._advert_published = False  # the board holds an advert this base put there
        self._advert_problem = ""  # why advert() could not be built, last time it was asked
        self._retrying: asyncio.Task[None] | None = None
        # Supervised coroutines and the retry loop: all cancelled by stop().
        self._supervised = BackgroundTasks(self.name)

    # -- what the agent's list needs ------------------------------------------------------
    @classmethod
    def read_settings(cls, config: Config, raw: Mapping[str, Any]) -> Any:
        """The typed value of this service's section: its declared ``section``'s reader
        (without one, the table as written). Raises ConfigError on a bad section; the
        agent then refuses to start, reload or save a ``config set``."""
        del config
        if cls.section is not None:
            return cls.section.read(raw)
        return dict(raw)

    @classmethod
    def disabled_reason(cls, settings: Any, config: Config) -> str:
        """Why this service is off under ``settings`` (its section) and ``config`` (the
        whole file, for services that depend on another's); "" when it should run."""
        del config
        if isinstance(settings, Mapping):
            enabled = settings.get("enabled", True)
        else:
            enabled = getattr(settings, "enabled", True)
        if enabled is False:
            return f"disabled in peerwork.toml ([{cls.name}] enabled = false)"
        return ""

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> Service:
        raise NotImplementedError(f"{cls.__name__} cannot be built from the agent's list")

    def supervise(self, board: AdvertBoard, retry: RetryPolicy) -> None:
        """Join the agent's supervision: adverts go to ``board``, failures retry by ``retry``."""
        self._advert_board, self._retry_policy = board, retry

    def disable(self, why: str) -> None:
        self.state, self.reason = ServiceState.DISABLED, why

    # -- what subclasses provide ----------------------------------------------------------
    @abc.abstractmethod
    async def _start(self) -> None: ...

    @abc.abstractmethod
    async def _stop(self) -> None: ...

    def ports(self) -> dict[str, int]:
        return {}

    def details(self) -> dict[str, Any]:
        return {}

    def summary(self) -> str:
        """One line for ``peerwork status`` after the state and ports."""
        return ""

    def notes(self) -> list[str]:
        """Further lines under this service in ``peerwork status`` while it runs."""
        return []

    def warnings(self) -> list[str]:
        """Things the user must look at (an impostor, say); ``status`` prints them on stderr."""
        return []

    def advert(self) -> ServiceAdvert | None:
        """What this service announces while it runs (None: nothing)."""
        return None

    def routes(self) -> Sequence[Route]:
        """Control API routes under ``/v1/<name>/``; there even while disabled or failed,
        so a route can explain the state instead of answering 404."""
        return ()

    async def apply(self, settings: Any) -> bool:
        """Take changed settings of this service's section without a restart.
        False (the default): this service needs the agent restarted to apply them."""
        del settings
        return False

    async def refresh(self) -> None:
        """Shared state (shares, accounts) changed: update what depends on it."""
        return None

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        self.state, self.reason = ServiceState.STARTING, ""
        try:
            await self._start()
        except Exception as exc:
            self.set_state(ServiceState.FAILED, describe_failure(exc))
            raise
        self.set_state(ServiceState.RUNNING, "")

    async def stop(self) -> None:
        await self._supervised.close()
        self._retrying = None
        # FAILED too: a service can fail while running and still own tasks or sockets.
        # Subclasses' _stop must therefore be safe on a half-started service.
        if self.state not in (ServiceState.RUNNING, ServiceState.STARTING, ServiceState.FAILED):
            return
        self.state = ServiceState.STOPPING
        try:
            await self._stop()
        finally:
            self.set_state(ServiceState.STOPPED, "")

    async def launch(self) -> None:
        """Start under supervision: a failure is logged and retried in the background."""
        try:
            await self.start()
        except Exception as exc:
            log.error("%s: failed to start: %s", self.name, self.reason)
            log.debug("%s start failure", self.name, exc_info=exc)
            self._schedule_retry()
        else:
            log.info("%s: running %s", self.name, self.ports() or "")

    def fail(self, why: BaseException | str) -> None:
        """The service stopped working while running: FAILED with ``why``, retried later."""
        if self.state is not ServiceState.RUNNING:
            return
        reason = why if isinstance(why, str) else describe_failure(why)
        log.error("%s: failed while running: %s", self.name, reason)
        self.set_state(ServiceState.FAILED, reason)
        self._schedule_retry()

    def run_supervised(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run ``coro`` for this service; if it raises, the service fails (and is retried)."""

        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.fail(exc)

        task = self._supervised.spawn(guarded(), name)
        # Cancelled before its first step, guarded() never awaits coro: close it quietly.
        task.add_done_callback(lambda _: coro.close())
        return task

    def _schedule_retry(self) -> None:
        if self._retrying is not None and not self._retrying.done():
            return
        self._retrying = self._supervised.spawn(self._retry_loop(), "retry")

    async def _retry_loop(self) -> None:
        """Try a failed service again, backing off: the port may be freed, the network
        may come up after boot. Status keeps showing the last reason meanwhile."""
        delay = self._retry_policy.first
        while self.state is ServiceState.FAILED:
            await asyncio.sleep(delay)
            if self.state is not ServiceState.FAILED:
                return
            # Whatever the failed run still holds goes first (_stop is safe half-started).
            with contextlib.suppress(Exception):
                await self._stop()
            try:
                await self.start()
            except Exception:
                delay = min(delay * 2, self._retry_policy.maximum)
                log.info("%s: still failing (%s); next try in %.0fs", self.name, self.reason, delay)
                continue
            log.info("%s: running %s (after a retry)", self.name, self.ports() or "")

    def set_state(self, state: ServiceState, reason: str) -> None:
        """The one way a state change is made known: advert (re)published or withdrawn,
        ``service`` event emitted. For services that run their own recovery loop."""
        self.state, self.reason = state, reason
        self.publish()
        self.emit("service", self.status().to_json())

    def publish(self) -> None:
        """Put this service's current advert on the board (withdraw it unless running);
        also for a running service whose advert changed (a port, a list)."""
        if self._advert_board is None:
            return
        try:
            advert = self.advert() if self.state is ServiceState.RUNNING else None
        except Exception as exc:
            # A bug in one service's advert must not take its state or anyone else's
            # records with it: it just announces nothing, and status says why.
            problem = describe_failure(exc)
            if problem != self._advert_problem:
                log.error("%s: its advert could not be built: %s", self.name, problem, exc_info=exc)
            self._advert_problem, advert = problem, None
        else:
            self._advert_problem = ""
        if advert is not None:
            self._advert_board.set(self.name, advert)
            self._advert_published = True
        elif self._advert_published:
            # Only what the base put there: a service may keep its board entry itself.
            self._advert_board.clear(self.name)
            self._advert_published = False

    def status(self) -> ServiceStatus:
        running = self.state is ServiceState.RUNNING
        return ServiceStatus(
            self.name,
            self.state,
            self.reason,
            self.ports() if running else {},
            self.details() if running else {},
            self.summary() if running else "",
            tuple(self.notes()) if running else (),
            tuple(self.warnings())
            + ((f"not announced: {self._advert_problem}",) if self._advert_problem else ()),
        )
