"""Which PC of the workgroup is the gateway: a pure function of what every PC sees.

Every gateway-capable PC (it has an uplink configured) announces its election
priority in its signed ``_peerwork._tcp`` record under :data:`PRIORITY_KEY`.
Each PC runs :func:`elect` over the candidates it sees, itself included, and
since the answer depends only on the set of candidates (highest priority, then
the lowest peer id), every PC with the same view names the same gateway.

Only workgroup members may stand: the caller passes the candidates the peer
channel accepts (``ctx.channel.peers()``, whose policy is "a member of the
workgroup"). A recognised gateway that is not peerwork's — a router with a
default route out of the LAN, a DHCP server no candidate runs — makes every
PC stand down: a second DHCP server on a LAN is an outage.

No sockets, no clock: :mod:`peerwork.agents.gateway.service` gathers the view.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

PRIORITY_KEY = "gwp"  # signed record key: this PC's election priority (0-65535)
MAX_PRIORITY = 65535


@dataclass(frozen=True, slots=True)
class Candidate:
    """A gateway-capable PC as the election sees it."""

    peer_id: str
    name: str
    priority: int

    def rank(self) -> tuple[int, str, str]:
        # Sorting by this puts the winner first: higher priority, then lower peer id
        # (the name only orders two claims of one peer id, so no input order shows).
        return (-self.priority, self.peer_id, self.name)


@dataclass(frozen=True, slots=True)
class Election:
    """The outcome: ``gateway`` (None when nobody may be), the order of succession
    (the gateway first, then who takes over next), and why nobody is, if so."""

    gateway: Candidate | None
    succession: tuple[Candidate, ...]
    stood_down: str = ""  # the foreign gateway everyone stands down for

    def is_gateway(self, peer_id: str) -> bool:
        return self.gateway is not None and self.gateway.peer_id == peer_id

    def to_json(self) -> dict[str, object]:
        return {
            "gateway": _candidate_json(self.gateway) if self.gateway else None,
            "succession": [_candidate_json(c) for c in self.succession],
            "stood_down": self.stood_down,
        }


def elect(candidates: Iterable[Candidate], foreign: Iterable[str] = ()) -> Election:
    """The gateway among ``candidates``; ``foreign`` names recognised non-peerwork
    gateways (any one makes everyone stand down).

    A peer id listed twice (a stale and a fresh record) counts once, with the
    higher priority it claimed, so the answer never depends on the order seen.
    """
    best: dict[str, Candidate] = {}
    for c in candidates:
        held = best.get(c.peer_id)
        if held is None or c.rank() < held.rank():
            best[c.peer_id] = c
    succession = tuple(sorted(best.values(), key=Candidate.rank))
    reasons = sorted(set(foreign))
    if reasons:
        return Election(None, succession, "; ".join(reasons))
    return Election(succession[0] if succession else None, succession)


def parse_priority(extra: Mapping[str, str | None]) -> int | None:
    """The priority a record announces, or None when it announces none (or garbage:
    a peer whose record we cannot read takes no part rather than a made-up rank)."""
    raw = extra.get(PRIORITY_KEY)
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 5:
        return None
    value = int(raw)
    return value if value <= MAX_PRIORITY else None


def _candidate_json(c: Candidate) -> dict[str, object]:
    return {"peer_id": c.peer_id, "name": c.name, "priority": c.priority}
