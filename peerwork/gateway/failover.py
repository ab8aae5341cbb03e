"""When an armed PC serves as the gateway, stands by, or steps aside: a pure decision.

An *armed* PC is one whose user ran ``gateway enable``: it announces the
``gateway`` role while it serves, ``gateway-standby`` while it waits. Only
armed PCs stand in the line of succession (a PC that merely has an uplink
can't serve, so it must not hold the others back). The active gateway pushes
its lease table to every standby every couple of seconds; a gateway not heard
for ``dead_after`` seconds (its agent died, its link went) is dead, as is one
that said goodbye (it left the peer table).

The rules, the same on every PC:

* a recognised foreign gateway (a router's DHCP server): everyone stands down;
* an alive active gateway keeps the role — a PC that comes back with a higher
  priority becomes a standby and does not fight (the incumbent rule: a
  handover costs the office its DHCP and DNS for seconds, a priority does not
  justify that while the incumbent works);
* with no alive active gateway, the first armed, alive PC in election order
  (highest priority, then lowest peer id) takes over;
* two actives at once (both took over in the same instant) resolve by
  election order: the lower-ranked one steps down to standby.

``now`` and the heard-times are injected; nothing here reads a clock.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from .election import Candidate, elect


class Move(enum.Enum):
    SERVE = "serve"  # be (or stay) the active gateway
    STAND_BY = "stand-by"  # wait, keeping the gateway's leases
    STAND_DOWN = "stand-down"  # a foreign gateway serves the LAN


@dataclass(frozen=True, slots=True)
class Armed:
    """An armed member as this PC sees it: ``active`` if it announces the ``gateway``
    role; ``heard`` when it last showed life — for an active one its last lease push
    (or when this PC began to watch), for a standby now while its record is listed."""

    candidate: Candidate
    active: bool
    heard: float


@dataclass(frozen=True, slots=True)
class Verdict:
    move: Move
    gateway: Candidate | None  # whom this PC takes for the gateway (itself if serving)
    reason: str


def decide(
    own: Candidate,
    own_active: bool,
    others: Iterable[Armed],
    now: float,
    *,
    dead_after: float,
    foreign: Iterable[str] = (),
) -> Verdict:
    """What ``own`` (an armed PC) should do now."""
    reasons = sorted(set(foreign))
    if reasons:
        return Verdict(Move.STAND_DOWN, None, "; ".join(reasons))
    alive = [a for a in others if now - a.heard <= dead_after and a.candidate != own]
    actives = [a.candidate for a in alive if a.active]
    if own_active:
        actives.append(own)
    if actives:
        incumbent = elect(actives).gateway
        assert incumbent is not None
        if incumbent == own:
            return Verdict(Move.SERVE, own, "this PC is the active gateway")
        return Verdict(Move.STAND_BY, incumbent, f"{incumbent.name} is the active gateway")
    first = elect([own, *(a.candidate for a in alive)]).gateway
    if first == own:
        return Verdict(Move.SERVE, own, "no gateway is alive and this PC is first in line")
    assert first is not None
    return Verdict(Move.STAND_BY, first, f"{first.name} is first in line")
