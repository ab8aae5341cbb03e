"""The live table of peers discovery has heard, and what each received record changes in it.

No sockets: discovery resolves a record and hands it here with the addresses
the network gave; :func:`peerwork.peer_trust.judge` decides, and the table
answers with the events to emit. A peer's entry is replaced only by a record
that may replace it: an impostor is listed apart (without addresses: a client
must never be pointed at it) and a stale or misaddressed copy of a genuine
record leaves the entry as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from peerwork.peer_trust import PeerPins, Trust, judge
from peerwork.proto.peer_record import PeerRecord
from peerwork.proto.share_list import decode_printers, decode_shares

log = logging.getLogger(__name__)

# A LAN of 1-25 PCs; the bound keeps a flood of fake instances from growing memory.
MAX_PEERS = 512
# Impostors send no goodbye we could trust; forget one not heard of for this long (s).
IMPOSTOR_MEMORY = 120.0

Event = tuple[str, dict[str, object]]


@dataclass(frozen=True, slots=True)
class PeerInfo:
    name: str
    peer_id: str
    workgroup: str
    addresses: tuple[str, ...]
    roles: tuple[str, ...]
    trust: Trust
    version: int
    last_seen: float
    ports: Mapping[str, int] = field(default_factory=dict)
    shares: tuple[str, ...] = ()
    shares_truncated: bool = False
    printers: tuple[str, ...] = ()
    seq: int = 0
    problem: str = ""  # why it is unverified or an impostor

    @property
    def verified(self) -> bool:
        return self.trust is Trust.VERIFIED

    @property
    def smb_port(self) -> int | None:
        return self.ports.get("smb")

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "peer_id": self.peer_id,
            "workgroup": self.workgroup,
            "addresses": list(self.addresses),
            "smb_port": self.smb_port,
            "ports": dict(self.ports),
            "roles": list(self.roles),
            "shares": list(self.shares),
            "shares_truncated": self.shares_truncated,
            "printers": list(self.printers),
            "state": self.trust.value,
            "verified": self.verified,
            "problem": self.problem,
            "version": self.version,
            "seq": self.seq,
            "last_seen": self.last_seen,
        }

    def same_as(self, other: PeerInfo) -> bool:
        """Equal apart from when it was last seen."""
        return self.to_json() | {"last_seen": 0} == other.to_json() | {"last_seen": 0}


class PeerTable:
    def __init__(self, pins: PeerPins, own_id: str, clock: Callable[[], float]) -> None:
        self.pins = pins
        self._own_id = own_id
        self._clock = clock
        self._entries: dict[str, PeerInfo] = {}  # by lower-case instance name
        self._impostors: dict[tuple[str, str], PeerInfo] = {}  # by (name, claimed peer id)
        # The last rejection per name: an attacker repeating itself is said once.
        self._rejected: dict[str, str] = {}

    def entries(self) -> list[PeerInfo]:
        """Every peer heard (any workgroup) and every live impostor, by name."""
        now = self._clock()
        for key, imp in list(self._impostors.items()):
            if now - imp.last_seen > IMPOSTOR_MEMORY:
                del self._impostors[key]
        return sorted(
            [*self._entries.values(), *self._impostors.values()],
            key=lambda p: (p.name.lower(), p.trust is Trust.IMPOSTOR),
        )

    def get(self, name: str) -> PeerInfo | None:
        return self._entries.get(name.lower())

    def receive(
        self, instance: str, record: PeerRecord, problem: str, resolved: Sequence[str]
    ) -> list[Event]:
        """Apply one resolved record (``problem``: why it does not verify, or empty)."""
        ann = record.announcement
        if not problem and ann.peer_id == self._own_id:
            return []  # ourselves under an older name
        verdict = judge(ann, problem, resolved, self.pins)
        shares, truncated = decode_shares(ann.extra)
        peer = PeerInfo(
            name=instance,
            peer_id=ann.peer_id,
            workgroup=ann.workgroup,
            addresses=verdict.addresses,
            roles=ann.roles,
            trust=verdict.trust,
            version=ann.version,
            last_seen=self._clock(),
            ports=dict(ann.ports),
            shares=shares,
            shares_truncated=truncated,
            printers=decode_printers(ann.extra)[0],
            seq=ann.seq,
            problem=verdict.problem,
        )
        if verdict.trust is Trust.IMPOSTOR:
            key = (instance.lower(), ann.peer_id)
            known = key in self._impostors
            if not known and len(self._impostors) >= MAX_PEERS:
                return []
            self._impostors[key] = peer
            if known:
                return []
            log.warning("discovery: impostor for %s: %s", instance, verdict.problem)
            return [("peer-impostor", peer.to_json())]
        if not verdict.accept:
            if self._rejected.get(instance.lower()) == verdict.problem:
                return []
            if len(self._rejected) < MAX_PEERS:
                self._rejected[instance.lower()] = verdict.problem
            log.warning("discovery: ignoring a record for %s: %s", instance, verdict.problem)
            payload: dict[str, object] = {
                "name": instance,
                "peer_id": ann.peer_id,
                "problem": verdict.problem,
            }
            return [("peer-rejected", payload)]
        if verdict.trust is Trust.UNVERIFIED:
            log.warning("discovery: %s is unverified: %s", instance, verdict.problem)
        key_name = instance.lower()
        self._rejected.pop(key_name, None)
        old = self._entries.get(key_name)
        if old is None and len(self._entries) >= MAX_PEERS:
            log.warning("discovery: ignoring %s, already %d peers listed", instance, MAX_PEERS)
            return []
        self._entries[key_name] = peer
        if old is None:
            return [("peer-added", peer.to_json())]
        if not old.same_as(peer):
            return [("peer-updated", peer.to_json())]
        return []

    def drop(self, instance: str) -> list[Event]:
        key = instance.lower()
        self._rejected.pop(key, None)
        for imp_key in [k for k in self._impostors if k[0] == key]:
            del self._impostors[imp_key]
        peer = self._entries.pop(key, None)
        return [("peer-removed", peer.to_json())] if peer is not None else []

    def clear(self) -> None:
        self._entries.clear()
        self._impostors.clear()
        self._rejected.clear()
