"""What the account sync service knows of each member: what it holds, whether it answers.

Per peer, ``acked`` is the digest we know it holds (from its own sync request,
our sync of it, or entries it accepted); "behind by N" is how many of our
entries it lacks or has older. Pure bookkeeping: times are passed in.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from peerwork.account_log import Stamp


class ReplicaState(enum.Enum):
    UNKNOWN = "unknown"  # not synced with yet
    IN_SYNC = "in-sync"
    BEHIND = "behind"  # reachable, lacks some of our entries (a push or sync is due)
    UNREACHABLE = "unreachable"  # the last push or sync failed


@dataclass(slots=True)
class Replica:
    peer_id: str
    name: str
    acked: dict[str, Stamp] | None = None  # None: never synced
    reachable: bool = True
    error: str = ""
    last_sync: float = 0.0  # when a sync with it last succeeded (0: never)
    last_try: float = 0.0  # when we last tried one
    failures: int = 0
    more: bool = False  # it held back entries last time: sync again soon

    def note(self, stamps: Mapping[str, Stamp]) -> None:
        """It holds at least ``stamps``."""
        if self.acked is None:
            self.acked = {}
        for name, stamp in stamps.items():
            if self.acked.get(name, (0, "")) < stamp:
                self.acked[name] = stamp

    def behind(self, digest: Mapping[str, Stamp]) -> int | None:
        if self.acked is None:
            return None
        acked = self.acked
        return sum(1 for n, s in digest.items() if acked.get(n, (0, "")) < s)

    def state(self, digest: Mapping[str, Stamp]) -> ReplicaState:
        if not self.reachable:
            return ReplicaState.UNREACHABLE
        behind = self.behind(digest)
        if behind is None:
            return ReplicaState.UNKNOWN
        return ReplicaState.BEHIND if behind else ReplicaState.IN_SYNC

    def succeeded(self, now: float) -> None:
        self.reachable, self.error, self.failures = True, "", 0
        self.last_sync = self.last_try = now

    def failed(self, why: str, now: float) -> None:
        self.reachable, self.error = False, why
        self.failures += 1
        self.last_try = now

    def due(self, now: float, interval: float) -> bool:
        """Time for an anti-entropy round: at once for a new peer; every ``interval``
        after a success; after a failure, backing off from 1 s up to ``interval``."""
        if self.acked is None and self.failures == 0 and self.last_try == 0.0:
            return True
        if self.more:
            return True
        if self.failures:
            return now - self.last_try >= min(interval, 2.0 ** min(self.failures - 1, 8))
        return now - self.last_sync >= interval

    def to_json(self, digest: Mapping[str, Stamp]) -> dict[str, Any]:
        return {
            "peer_id": self.peer_id,
            "name": self.name,
            "state": self.state(digest).value,
            "behind": self.behind(digest),
            "last_sync": self.last_sync or None,
            "error": self.error,
        }


@dataclass(slots=True)
class Replicas:
    by_id: dict[str, Replica] = field(default_factory=dict)

    def get(self, peer_id: str, name: str) -> Replica:
        replica = self.by_id.get(peer_id)
        if replica is None:
            replica = self.by_id[peer_id] = Replica(peer_id, name)
        replica.name = name or replica.name
        return replica

    def all(self) -> Iterable[Replica]:
        return (self.by_id[k] for k in sorted(self.by_id))
