"""What the UI knows about the agent: values read through the control API, and how an
event changes them. Pure (no I/O, no clock read): the watcher feeds it, screens read it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from peerwork.errors import InvalidInput
from peerwork.models import AgentEvent, AgentStatus, Peer
from peerwork.shares import Share

# Event kinds and the part of the view they make stale (read again from the agent).
STALE_AFTER: Mapping[str, str] = {
    "share-added": "shares",
    "share-changed": "shares",
    "share-removed": "shares",
    "account-added": "accounts",
    "account-changed": "accounts",
    "account-removed": "accounts",
    "service": "status",
    "agent": "status",
    "name-conflict": "status",
    "peer-impostor": "status",
    # Trust and account replication report in the status (This PC, its warnings).
    "membership": "status",
    "member-joined": "status",
    "member-removed": "status",
    "account-sync-state": "status",
    "account-conflict": "status",
}
PEER_EVENTS = frozenset({"peer-added", "peer-updated", "peer-removed"})
PARTS = ("status", "peers", "shares", "accounts")


@dataclass(frozen=True, slots=True)
class ShareRow:
    """A share of this PC as ``GET /v1/shares`` lists it."""

    share: Share
    anonymous: str = "none"
    problem: str = ""
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Any) -> ShareRow:
        if not isinstance(data, Mapping):
            raise InvalidInput("the agent sent a share that is not a JSON object")
        warnings = data.get("warnings", [])
        if not isinstance(warnings, list):
            raise InvalidInput("the agent sent a share's warnings that are not a list")
        return cls(
            share=Share.from_json(data),
            anonymous=str(data.get("anonymous", "none")),
            problem=str(data.get("problem") or ""),
            warnings=tuple(str(w) for w in warnings),
        )

    def grants(self) -> dict[str, str]:
        """Every entry by grantee, ``anonymous`` always included."""
        out = {k: str(v) for k, v in self.share.grants.items()}
        out.setdefault("anonymous", self.anonymous)
        return out

    def grants_text(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in sorted(self.grants().items()))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The agent as read at one moment; any part may be missing (None) if not read yet."""

    status: AgentStatus | None = None
    peers: tuple[Peer, ...] | None = None
    shares: tuple[ShareRow, ...] | None = None
    accounts: tuple[str, ...] | None = None


def peer_key(peer: Peer) -> str:
    return peer.peer_id or peer.name.casefold()


@dataclass
class AgentView:
    """The app's current picture of the agent. ``first_seen`` is when this UI first saw
    each peer (the agent reports only when it last heard one), given by the caller."""

    snapshot: Snapshot = field(default_factory=Snapshot)
    peers: dict[str, Peer] = field(default_factory=dict)
    first_seen: dict[str, float] = field(default_factory=dict)

    def replace(self, snapshot: Snapshot, now: float) -> None:
        """Take what ``snapshot`` has; parts it lacks are kept."""
        merged = Snapshot(
            status=snapshot.status or self.snapshot.status,
            peers=snapshot.peers if snapshot.peers is not None else self.snapshot.peers,
            shares=snapshot.shares if snapshot.shares is not None else self.snapshot.shares,
            accounts=snapshot.accounts if snapshot.accounts is not None else self.snapshot.accounts,
        )
        self.snapshot = merged
        if snapshot.peers is not None:
            fresh = {peer_key(p): p for p in snapshot.peers}
            self.first_seen = {k: self.first_seen.get(k, now) for k in fresh}
            self.peers = fresh

    def apply_peer_event(self, event: AgentEvent, now: float) -> bool:
        """Apply a ``peer-*`` event; False if it is not one (or is malformed)."""
        if event.kind not in PEER_EVENTS:
            return False
        try:
            peer = Peer.from_json(event.payload)
        except InvalidInput:
            return False
        key = peer_key(peer)
        if event.kind == "peer-removed":
            self.peers.pop(key, None)
            self.first_seen.pop(key, None)
        else:
            self.peers[key] = peer
            self.first_seen.setdefault(key, now)
        self.snapshot = dataclasses.replace(self.snapshot, peers=tuple(self.peers.values()))
        return True

    def sorted_peers(self) -> list[Peer]:
        return sorted(self.peers.values(), key=lambda p: (p.name.casefold(), p.peer_id))


def stale_part(event: AgentEvent) -> tuple[str, ...]:
    """Which parts of the view ``event`` makes stale: all of them after lost events."""
    if event.kind == "dropped":
        return PARTS
    part = STALE_AFTER.get(event.kind)
    return (part,) if part else ()
