"""What this PC sees for the gateway election: the candidates and any foreign gateway.

:func:`peerwork.gateway.election.elect` is pure; this gathers its input from
the peer table, the channel's policy and the last LAN probe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from peerwork.gateway.election import Candidate
from peerwork.gateway.failover import Armed
from peerwork.models import Peer

from .recognise import DhcpServerSeen


def candidates(
    own: Candidate | None, peers: Sequence[Peer], members: Iterable[str]
) -> list[Candidate]:
    """``own`` (None: this PC has no uplink) plus every peer that announces the
    ``gateway-capable`` role, has a verified record and is a peer the channel
    accepts (``members``: its policy is "a member of the workgroup"). A capable
    peer whose record carries no priority stands at 0, the configured default."""
    out = [own] if own is not None else []
    for p in member_peers(peers, members, own.peer_id if own else ""):
        if "gateway-capable" in p.roles:
            out.append(Candidate(p.peer_id, p.name, p.gateway_priority or 0))
    return out


def member_peers(peers: Sequence[Peer], members: Iterable[str], own_id: str) -> list[Peer]:
    """The verified peers (not this PC) the channel accepts: the workgroup's members."""
    accepted = set(members)
    return [p for p in peers if p.verified and p.peer_id in accepted and p.peer_id != own_id]


def armed(peers: Sequence[Peer], heard: Callable[[str], float], now: float) -> list[Armed]:
    """The armed members among ``peers`` (already :func:`member_peers`): an active one
    alive as of ``heard(peer_id)`` (its last lease push), a standby as of ``now``."""
    out = []
    for p in peers:
        cand = Candidate(p.peer_id, p.name, p.gateway_priority or 0)
        if "gateway" in p.roles:
            out.append(Armed(cand, True, heard(p.peer_id)))
        elif "gateway-standby" in p.roles:
            out.append(Armed(cand, False, now))
    return out


def foreign_gateways(
    default_route: str, servers: Sequence[DhcpServerSeen], ours: Iterable[str]
) -> list[str]:
    """The recognised gateways that are not peerwork's: a default route out of the LAN
    (``default_route``: its description, "" for none) and DHCP servers at none of
    ``ours`` (the members' addresses, and the LAN address while a member serves it)."""
    known = set(ours)
    found = [default_route] if default_route else []
    for s in servers:
        if str(s.server_id or "") not in known and s.source not in known:
            found.append(s.describe())
    return found
