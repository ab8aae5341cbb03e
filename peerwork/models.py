"""What the control API says, as values: the agent writes them, the CLI and the TUI read them.

Each model is a frozen value with ``to_json`` (what the agent sends) and
``from_json`` (what a client makes of it). ``from_json`` is lenient about what
it does not know: an older client reading a newer agent ignores unknown keys
and fills missing ones with defaults, but a value of the wrong type is an
:class:`~peerwork.errors.InvalidInput`, never a crash deep in the renderer.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from peerwork.errors import InvalidInput
from peerwork.proto.sse import SseMessage

# The event stream (``/v1/events``) sends a comment at least this often;
# readers wait twice as long before calling the agent gone.
SSE_KEEPALIVE = 15.0
EVENTS_PATH = "/events"
# The SSE event name that tells a slow reader how many events it lost.
DROPPED = "dropped"

T = TypeVar("T")


def _get(data: Mapping[str, Any], key: str, kind: type[T], default: T) -> T:
    value = data.get(key, default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise InvalidInput(f"the agent sent {key!r} as {type(value).__name__}, not {kind.__name__}")
    return value


def _strings(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = _get(data, key, list, [])
    if not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"the agent sent {key!r} with entries that are not strings")
    return tuple(value)


def _optional_int(value: Any) -> int | None:
    # An absent or mistyped optional number means "not said", never an error.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"the agent sent {what} that is not a JSON object")
    return value


class ServiceState(enum.Enum):
    DISABLED = "disabled"
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """One service as ``status`` shows it.

    ``summary``: one line a person reads after the state (e.g. where discovery
    announces); ``notes``: further lines shown under it (what anonymous
    logons reach, a name conflict); ``warnings``: things the user must look
    at (the CLI prints them on stderr). They let the CLI and TUI render any
    service without knowing it.
    """

    name: str
    state: ServiceState
    reason: str = ""
    # Real listening endpoints, e.g. {"smb": 4445}; filled once running.
    ports: Mapping[str, int] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    summary: str = ""
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state.value,
            "reason": self.reason,
            "ports": dict(self.ports),
            "details": dict(self.details),
            "summary": self.summary,
            "notes": list(self.notes),
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_json(cls, data: Any) -> ServiceStatus:
        data = _object(data, "a service status")
        try:
            state = ServiceState(data.get("state"))
        except ValueError:
            raise InvalidInput(f"unknown service state {data.get('state')!r}") from None
        ports = _object(data.get("ports", {}), "service ports")
        if not all(isinstance(p, int) and not isinstance(p, bool) for p in ports.values()):
            raise InvalidInput("the agent sent a service port that is not a number")
        return cls(
            name=_get(data, "name", str, ""),
            state=state,
            reason=_get(data, "reason", str, ""),
            ports=dict(ports),
            details=dict(_object(data.get("details", {}), "service details")),
            summary=_get(data, "summary", str, ""),
            notes=_strings(data, "notes"),
            warnings=_strings(data, "warnings"),
        )


@dataclass(frozen=True, slots=True)
class PeerIdentity:
    name: str
    workgroup: str
    id: str = ""
    owner: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "workgroup": self.workgroup, "id": self.id, "owner": self.owner}

    @classmethod
    def from_json(cls, data: Any) -> PeerIdentity:
        data = _object(data, "a peer")
        return cls(
            _get(data, "name", str, ""),
            _get(data, "workgroup", str, ""),
            _get(data, "id", str, ""),
            _get(data, "owner", str, ""),
        )


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """``GET /v1/status``."""

    peer: PeerIdentity
    version: str
    protocol: int
    pid: int
    home: str
    uptime: float
    services: tuple[ServiceStatus, ...]
    shares: int = 0
    peers: int = 0
    foreground_share: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "peer": self.peer.to_json(),
            "version": self.version,
            "protocol": self.protocol,
            "pid": self.pid,
            "home": self.home,
            "uptime": self.uptime,
            "foreground_share": self.foreground_share,
            "services": [s.to_json() for s in self.services],
            "shares": self.shares,
            "peers": self.peers,
        }

    @classmethod
    def from_json(cls, data: Any) -> AgentStatus:
        data = _object(data, "a status")
        return cls(
            peer=PeerIdentity.from_json(data.get("peer", {})),
            version=_get(data, "version", str, ""),
            protocol=_get(data, "protocol", int, 0),
            pid=_get(data, "pid", int, 0),
            home=_get(data, "home", str, ""),
            uptime=_get(data, "uptime", float, 0.0),
            services=tuple(ServiceStatus.from_json(s) for s in _get(data, "services", list, [])),
            shares=_get(data, "shares", int, 0),
            peers=_get(data, "peers", int, 0),
            foreground_share=_get(data, "foreground_share", bool, False),
        )

    def service(self, name: str) -> ServiceStatus | None:
        return next((s for s in self.services if s.name == name), None)


class PeerTrust(enum.Enum):
    VERIFIED = "verified"  # its record is signed by the key its peer id names
    UNVERIFIED = "unverified"  # unsigned, badly signed, or not (yet) checkable
    IMPOSTOR = "impostor"  # a known name or id under a different key: never used
    # Once this PC belongs to a workgroup with a key (peerwork.workgroup), a verified
    # record claiming our workgroup is one of these three instead of VERIFIED.
    MEMBER = "member"  # shows a certificate of our workgroup key
    NOT_A_MEMBER = "not-a-member"  # claims our workgroup's name without one
    REVOKED = "revoked"  # its certificate is on the workgroup's revocation list


_SIGNED = frozenset(
    {PeerTrust.VERIFIED, PeerTrust.MEMBER, PeerTrust.NOT_A_MEMBER, PeerTrust.REVOKED}
)


@dataclass(frozen=True, slots=True)
class Peer:
    """Another PC as discovery sees it (``GET /v1/peers``). Every string came
    off the network: renderers must still strip control characters."""

    name: str
    peer_id: str = ""
    workgroup: str = ""
    addresses: tuple[str, ...] = ()
    smb_port: int | None = None
    ports: Mapping[str, int] = field(default_factory=dict)
    roles: tuple[str, ...] = ()
    shares: tuple[str, ...] = ()
    shares_truncated: bool = False
    state: PeerTrust = PeerTrust.UNVERIFIED
    problem: str = ""
    version: int = 0
    seq: int = 0
    last_seen: float = 0.0
    gateway_priority: int | None = None  # its gateway election priority, if it stands

    @property
    def verified(self) -> bool:
        """Its record is signed by the key its peer id names (member or not)."""
        return self.state in _SIGNED

    @property
    def member(self) -> bool:
        return self.state is PeerTrust.MEMBER

    def to_json(self) -> dict[str, Any]:
        # Every field, by its own name: tuples become JSON lists, the state its value.
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, PeerTrust):
                value = value.value
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        return out | {"verified": self.verified}

    @classmethod
    def from_json(cls, data: Any) -> Peer:
        data = _object(data, "a peer")
        port = data.get("smb_port")
        if port is not None and (not isinstance(port, int) or isinstance(port, bool)):
            raise InvalidInput("the agent sent a peer's smb_port that is not a number")
        ports = _object(data.get("ports", {}), "a peer's ports")
        if not all(isinstance(p, int) and not isinstance(p, bool) for p in ports.values()):
            raise InvalidInput("the agent sent a peer's port that is not a number")
        # Agents before trust states sent only "verified"; an unknown state is never trusted.
        verified = _get(data, "verified", bool, False)
        default = PeerTrust.VERIFIED.value if verified else PeerTrust.UNVERIFIED.value
        raw_state = _get(data, "state", str, default)
        try:
            state = PeerTrust(raw_state)
        except ValueError:
            state = PeerTrust.UNVERIFIED
        return cls(
            name=_get(data, "name", str, ""),
            peer_id=_get(data, "peer_id", str, ""),
            workgroup=_get(data, "workgroup", str, ""),
            addresses=_strings(data, "addresses"),
            smb_port=port,
            ports={str(k): v for k, v in ports.items()},
            roles=_strings(data, "roles"),
            shares=_strings(data, "shares"),
            shares_truncated=_get(data, "shares_truncated", bool, False),
            state=state,
            problem=_get(data, "problem", str, ""),
            version=_get(data, "version", int, 0),
            seq=_get(data, "seq", int, 0),
            last_seen=_get(data, "last_seen", float, 0.0),
            gateway_priority=_optional_int(data.get("gateway_priority")),
        )


@dataclass(frozen=True, slots=True)
class AgentEvent:
    """One event of the agent's stream: ``kind`` (``share-added``, ``service``,
    ``peer-added``…), a sequence number, when, and the kind's payload.

    On the wire (SSE) the payload's keys sit beside ``seq`` and ``at`` in the
    data object; ``seq`` 0 marks the stream's own notes (``dropped``).
    """

    seq: int
    kind: str
    payload: Mapping[str, Any]
    at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The shape ``peerwork events --json`` prints, one object a line."""
        return {"seq": self.seq, "kind": self.kind, "at": self.at, "payload": dict(self.payload)}

    @classmethod
    def from_json(cls, data: Any) -> AgentEvent:
        data = _object(data, "an event")
        return cls(
            seq=_get(data, "seq", int, 0),
            kind=_get(data, "kind", str, "message"),
            payload=dict(_object(data.get("payload", {}), "an event payload")),
            at=_get(data, "at", float, 0.0),
        )

    def wire_data(self) -> dict[str, Any]:
        """The SSE data object: the payload with ``seq`` and ``at`` beside it."""
        return {**self.payload, "seq": self.seq, "at": self.at}

    def to_sse(self) -> SseMessage:
        return SseMessage(
            event=self.kind,
            data=json.dumps(self.wire_data()),
            id=str(self.seq) if self.seq else None,
        )

    @classmethod
    def from_sse(cls, message: SseMessage) -> AgentEvent:
        try:
            data = json.loads(message.data)
        except json.JSONDecodeError:
            raise InvalidInput(f"the agent sent a malformed {message.event!r} event") from None
        data = dict(_object(data, f"a {message.event!r} event"))
        seq, at = _get(data, "seq", int, 0), _get(data, "at", float, 0.0)
        data.pop("seq", None)
        data.pop("at", None)
        return cls(seq=seq, kind=message.event, payload=data, at=at)


def dropped_event(missed: int) -> AgentEvent:
    """The note a slow reader gets in place of the ``missed`` events it lost."""
    return AgentEvent(0, DROPPED, {"missed": missed})
