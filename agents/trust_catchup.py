"""Revocation gossip: a member back from being off learns the removal it missed.

While a member is off, another can be removed: the others get the new key
(``trust.rekey``), it does not. Back on, it sees the members' certificates
signed by a key it does not hold. It then asks one of them
(``trust.catch-up``, an open request kind) with its certificate of the key
it holds; a member that went through that rotation answers with what the
rekey would have carried: the new key, a certificate of it for the asker,
the signed, numbered revocation list and the *succession* (the previous
key's signature over the new key and list). The asker installs it only if
:func:`peerwork.rekey.check_rekey` passes: vouched for by the key it holds,
a list newer than its own. The answering member hands the key only to a
peer proving (mutual TLS) the peer id of a certificate of the previous key
that is not revoked, and that it saw announce itself as a member before the
rotation: a removed PC asking gets nothing, and neither does a PC the removed
one certified afterwards with the previous key it still holds.

Limits: one rotation only (a member that missed two must join again: only
the last succession is kept), and only members that went through that
rotation can answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from peerwork.errors import PeerworkError
from peerwork.models import Peer, PeerTrust
from peerwork.proto.catchup_body import CATCH_UP, CatchUpRequest
from peerwork.proto.rekey_body import RekeyRequest
from peerwork.workgroup import Workgroup, cert_problem

from .channel.errors import ChannelRefused
from .channel.handlers import Caller, HandlerRegistry
from .channel.link import ChannelLink
from .trust_join import JOIN_REFUSED

log = logging.getLogger("peerwork.trust")

# A peer whose key differs from ours is asked at most this often (s).
ASK_EVERY = 20.0
ASK_TIMEOUT = 8.0
OTHER_KEY = "another workgroup's key"


class CatchUpDesk:
    """The member side: answer a catch-up for the last rotation this PC went through."""

    def __init__(self, workgroup: Callable[[], Workgroup | None], now: Callable[[], float]) -> None:
        self.workgroup = workgroup
        self.now = now
        self.answered = 0

    def serve(self, handlers: HandlerRegistry) -> None:
        handlers.add(CATCH_UP, self.answer, open_to_all=True)

    async def answer(self, caller: Caller, req: CatchUpRequest, stream: object) -> RekeyRequest:
        del stream
        wg = self.workgroup()
        why = _refusal(wg, caller.peer_id, req)
        if why or wg is None or wg.succession is None or wg.revoked is None:
            log.info("trust: catch-up of peer %s refused: %s", caller.peer_id, why)
            raise ChannelRefused(JOIN_REFUSED, why or "no rotation to catch up on")
        cert = wg.issue(peer_id=caller.peer_id, name=req.cert.name, now=self.now())
        self.answered += 1
        log.warning("trust: %s caught up on revocation list %d", cert.name, wg.revoked.number)
        return RekeyRequest(wg.key_raw(), cert, wg.revoked, wg.succession[1])


def _refusal(wg: Workgroup | None, peer_id: str, req: CatchUpRequest) -> str:
    if wg is None or wg.succession is None or wg.revoked is None:
        return "this PC went through no rotation of the workgroup key"
    if req.cert.peer_id != peer_id:
        return "the certificate is another peer's"
    if req.cert.workgroup.upper() != wg.name.upper():
        return f"the certificate is for workgroup {req.cert.workgroup}"
    if wg.revoked.covers(peer_id, req.cert.serial):
        return "removed from the workgroup"
    if peer_id not in wg.previous:
        # A removed PC holds the previous key and can certify anyone with it after its
        # removal: only PCs this one saw as members before the rotation are caught up.
        return "this PC did not see it as a member before the key changed"
    problem = cert_problem(req.cert, wg.succession[0])
    return f"not a certificate of the previous key: {problem}" if problem else ""


class CatchUpAsker:
    """The side that missed a rotation: ask members whose key is not ours, now and then."""

    def __init__(self, channel: ChannelLink, now: Callable[[], float]) -> None:
        self.channel = channel
        self.now = now
        self._asked: dict[str, float] = {}

    def candidates(self, wg: Workgroup, peers: list[Peer]) -> list[Peer]:
        now = self.now()
        out = []
        for p in peers:
            if p.state is not PeerTrust.NOT_A_MEMBER or OTHER_KEY not in p.problem:
                continue
            if now - self._asked.get(p.peer_id, -ASK_EVERY) < ASK_EVERY:
                continue
            out.append(p)
        if len(self._asked) > 1024:  # bounded, whatever the LAN announces
            self._asked.clear()
        return out

    async def ask(self, wg: Workgroup, peer: Peer) -> RekeyRequest | None:
        """The rotation ``peer`` offers, unchecked; None if it had none for us."""
        self._asked[peer.peer_id] = self.now()
        try:
            known = self.channel.find(peer.peer_id)
            async with asyncio.timeout(ASK_TIMEOUT):
                async with await self.channel.connect(known, open_kinds=True) as conn:
                    return await conn.call(CATCH_UP, CatchUpRequest(wg.cert))
        except (PeerworkError, TimeoutError, OSError) as exc:
            log.info("trust: %s had no catch-up for us: %s", peer.name, exc)
            return None
