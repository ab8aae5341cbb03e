"""The service model: each service of the agent starts, stops and reports on its own.

A service that fails to start (port taken, missing root) is marked FAILED with
a reason a user can act on; the agent keeps the others running.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from peerwork.errors import describe_failure


class ServiceState(enum.Enum):
    DISABLED = "disabled"
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    name: str
    state: ServiceState
    reason: str = ""
    # Real listening endpoints, e.g. {"smb": 4445}; filled once running.
    ports: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state.value,
            "reason": self.reason,
            "ports": dict(self.ports),
            "details": dict(self.details),
        }


# An event for the control API's stream: (kind, payload), e.g. ("peer-added", {...}).
EventSink = Callable[[str, dict[str, Any]], None]


def no_events(kind: str, payload: dict[str, Any]) -> None:
    """The EventSink of a service nobody listens to (tests, tools)."""
    del kind, payload


class Service(abc.ABC):
    """Subclasses implement ``_start``/``_stop``; ``start``/``stop`` keep the state right."""

    name: str = "service"

    def __init__(self, emit: EventSink = no_events) -> None:
        self.emit = emit
        self.state = ServiceState.STOPPED
        self.reason = ""

    @abc.abstractmethod
    async def _start(self) -> None: ...

    @abc.abstractmethod
    async def _stop(self) -> None: ...

    def ports(self) -> dict[str, int]:
        return {}

    def details(self) -> dict[str, Any]:
        return {}

    async def start(self) -> None:
        self.state, self.reason = ServiceState.STARTING, ""
        try:
            await self._start()
        except Exception as exc:
            self.state, self.reason = ServiceState.FAILED, describe_failure(exc)
            self.emit("service", self.status().to_json())
            raise
        self.state = ServiceState.RUNNING
        self.emit("service", self.status().to_json())

    async def stop(self) -> None:
        # FAILED too: a service can fail while running and still own tasks or sockets.
        # Subclasses' _stop must therefore be safe on a half-started service.
        if self.state not in (ServiceState.RUNNING, ServiceState.STARTING, ServiceState.FAILED):
            return
        self.state = ServiceState.STOPPING
        try:
            await self._stop()
        finally:
            self.state = ServiceState.STOPPED
            self.emit("service", self.status().to_json())

    def status(self) -> ServiceStatus:
        running = self.state is ServiceState.RUNNING
        return ServiceStatus(
            self.name,
            self.state,
            self.reason,
            self.ports() if running else {},
            self.details() if running else {},
        )
