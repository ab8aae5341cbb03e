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
from dataclasses import dataclass, field, replace

from peerwork.gateway.election import parse_priority
from peerwork.peer_trust import PeerPins, Trust, judge
from peerwork.proto.peer_record import PeerRecord
from peerwork.proto.share_list import decode_printers, decode_shares
from peerwork.workgroup import Standing

# The record key a member's certificate travels under (peerwork.workgroup).
CERT_KEY = "mc"

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
    certificate: str = ""  # the membership certificate its record carries (base64)
    standing: Standing | None = None  # member or not, once we hold a workgroup key
    gateway_priority: int | None = None  # its gateway election priority, if it stands

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
            "state": self.standing.trust.value if self.standing else self.trust.value,
            "verified": self.verified,
            "problem": (self.standing.problem if self.standing else "") or self.problem,
            "version": self.version,
            "seq": self.seq,
            "last_seen": self.last_seen,
            "gateway_priority": self.gateway_priority,
        }

    def same_as(self, other: PeerInfo) -> bool:
        """Equal apart from when it was last seen."""
        return self.to_json() | {"last_seen": 0} == other.to_json() | {"last_seen": 0}


# What a verified record is to our workgroup (None: not ours to judge).
Judge = Callable[[PeerInfo], Standing | None]


def _no_judge(peer: PeerInfo) -> Standing | None:
    del peer
    return None


class PeerTable:
    def __init__(
        self,
        pins: PeerPins,
        own_id: str,
        clock: Callable[[], float],
        judge_member: Judge = _no_judge,
    ) -> None:
        self.pins = pins
        self.judge_member = judge_member
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
            certificate=ann.extra.get(CERT_KEY) or "",
            gateway_priority=parse_priority(ann.extra),
        )
        peer = self._judged(peer)
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
        if peer.standing is not None and not peer.standing.member:
            old_entry = self._entries.get(instance.lower())
            if old_entry is None or old_entry.standing != peer.standing:
                log.warning(
                    "discovery: %s is %s: %s",
                    instance,
                    peer.standing.trust.value,
                    peer.standing.problem,
                )
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

    def _judged(self, peer: PeerInfo) -> PeerInfo:
        standing = self.judge_member(peer) if peer.trust is Trust.VERIFIED else None
        return replace(peer, standing=standing)

    def rejudge(self) -> list[Event]:
        """Membership changed here (joined, revocations): every entry judged again."""
        events: list[Event] = []
        for key, old in list(self._entries.items()):
            new = self._judged(old)
            self._entries[key] = new
            if not old.same_as(new):
                events.append(("peer-updated", new.to_json()))
        return events

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
