"""Both ends of a join over the channel: the member's desk and the joiner's call.

The member side (:class:`JoinDesk`) serves ``trust.join-start`` and
``trust.join-finish`` to anyone with a verified key (open request kinds):
each start counts one try against the code (the fifth burns it); a wrong
confirmation is held back by the logon throttle's growing delays, per code
and per address, before it is refused. A PAKE half-done is forgotten after
:data:`PENDING_TTL` seconds. The joiner side is :func:`join_member`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from peerwork.errors import InvalidInput, PeerworkError
from peerwork.identity import Identity
from peerwork.invites import InviteBook
from peerwork.join_pake import JoinerSide, MemberSide, PakeFailed
from peerwork.logon_throttle import Key, KeyKind, ThrottleLimits, ThrottleTable
from peerwork.proto.join_body import (
    JOIN_FINISH,
    JOIN_START,
    JoinFinish,
    JoinFinished,
    JoinStart,
    JoinStarted,
)
from peerwork.proto.join_code import JoinCode
from peerwork.proto.membership import MemberCert, MembershipError, RevocationList
from peerwork.workgroup import Workgroup

from .channel.client import ChannelConnection
from .channel.errors import ChannelRefused
from .channel.handlers import Caller, HandlerRegistry
from .service import EventSink

log = logging.getLogger("peerwork.trust")

# Our own channel error code (services' codes start at 100): the join was refused.
JOIN_REFUSED = 140
PENDING_TTL = 60.0
MAX_PENDING = 64
# A wrong code: two answered at once, then 1 s doubling up to 10 s, per code and per address.
JOIN_THROTTLE = ThrottleLimits(free_failures=2, first_delay=1.0, max_delay=10.0)


class JoinError(PeerworkError):
    code = "join-failed"
    http_status = 403


@dataclass(frozen=True, slots=True)
class _Pending:
    side: MemberSide
    name: str
    started: float


class JoinDesk:
    """Where a member answers joins: the invites it issued, the PAKEs in progress."""

    def __init__(
        self,
        *,
        home: Path,
        identity: Identity,
        workgroup: Callable[[], Workgroup | None],
        emit: EventSink,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.book = InviteBook(home)
        self.identity = identity
        self.workgroup = workgroup
        self.emit = emit
        self.clock = clock
        self._sleep = sleep
        self.throttle = ThrottleTable(JOIN_THROTTLE)
        self._pending: dict[tuple[str, str], _Pending] = {}
        self.counters = {"started": 0, "joined": 0, "wrong": 0, "unknown_code": 0}

    def serve(self, handlers: HandlerRegistry) -> None:
        handlers.add(JOIN_START, self.start, open_to_all=True)
        handlers.add(JOIN_FINISH, self.finish, open_to_all=True)

    def invite(self, ttl: float) -> tuple[JoinCode, float]:
        if self.workgroup() is None:
            raise JoinError(
                "this PC is not a member of a workgroup with a key: nothing to invite to"
            )
        code = JoinCode.generate(self.identity.peer_id)
        invite = self.book.add(code, ttl=ttl, now=self.clock())
        return code, invite.expires

    async def _refuse(self, caller: Caller, code_id: str, why: str) -> ChannelRefused:
        """Count a failure against the address and the code, wait what the throttle says."""
        keys = (Key(KeyKind.ADDRESS, caller.address), Key(KeyKind.JOIN_CODE, code_id))
        verdict = self.throttle.failed(keys, time.monotonic())
        if verdict.log:
            log.warning(
                "trust: join from %s (peer %s) refused: %s", caller.address, caller.peer_id, why
            )
        for burst in verdict.bursts:
            log.warning(
                "trust: %d failed joins by %s %s",
                burst.failures,
                burst.key.kind.value,
                burst.key.name,
            )
        self.emit(
            "join-refused", {"address": caller.address, "peer_id": caller.peer_id, "reason": why}
        )
        if verdict.delay:
            await self._sleep(verdict.delay)
        return ChannelRefused(JOIN_REFUSED, why)

    async def start(self, caller: Caller, req: JoinStart, stream: object) -> JoinStarted:
        del stream
        wg = self.workgroup()
        if wg is None:
            raise ChannelRefused(JOIN_REFUSED, "this PC is not a member of a workgroup with a key")
        if req.workgroup.upper() != wg.name.upper():
            raise ChannelRefused(
                JOIN_REFUSED,
                f"this PC's workgroup is {wg.name}, not {req.workgroup}: "
                f"set the new PC up with --workgroup {wg.name}",
            )
        if wg.revoked is not None and wg.revoked.covers(caller.peer_id, 0):
            # A removed PC comes back only with a new peer key (a reinstall), not by code.
            raise await self._refuse(caller, req.code_id, "this PC was removed from the workgroup")
        now = self.clock()
        invite = self.book.count_try(req.code_id, now)
        if invite is None:
            self.counters["unknown_code"] += 1
            raise await self._refuse(
                caller, req.code_id, "no such join code here (wrong, expired, used or burnt)"
            )
        self.counters["started"] += 1
        side = MemberSide(invite.code, joiner_id=caller.peer_id, member_id=self.identity.peer_id)
        try:
            msg_b = side.answer(req.msg)
        except PakeFailed as exc:
            raise await self._refuse(caller, req.code_id, exc.message) from None
        self._forget_stale(now)
        self._pending[(caller.peer_id, req.code_id)] = _Pending(side, req.name, now)
        return JoinStarted(msg_b)

    async def finish(self, caller: Caller, req: JoinFinish, stream: object) -> JoinFinished:
        del stream
        now = self.clock()
        self._forget_stale(now)
        pending = self._pending.pop((caller.peer_id, req.code_id), None)
        wg = self.workgroup()
        if pending is None or wg is None:
            raise ChannelRefused(JOIN_REFUSED, "no join in progress: start again")
        if not pending.side.check(req.confirm):
            self.counters["wrong"] += 1
            raise await self._refuse(caller, req.code_id, "wrong join code")
        self.book.spend(req.code_id)
        wg.mark_shared()
        self.throttle.succeeded(Key(KeyKind.ADDRESS, caller.address), time.monotonic())
        try:
            cert = wg.issue(peer_id=caller.peer_id, name=pending.name, now=now)
        except (MembershipError, InvalidInput) as exc:
            raise ChannelRefused(JOIN_REFUSED, f"cannot certify that PC: {exc.message}") from None
        bundle = {
            "workgroup": wg.name,
            "key": base64.b64encode(wg.key_raw()).decode("ascii"),
            "cert": cert.to_text(),
            # So the newcomer (or a member back after missing a removal) knows who is out.
            "revoked": base64.b64encode(wg.revoked.pack()).decode("ascii") if wg.revoked else "",
        }
        confirm_b, sealed = pending.side.seal(json.dumps(bundle).encode())
        self.counters["joined"] += 1
        log.info("trust: %s (peer %s) joined the workgroup", cert.name, caller.peer_id)
        self.emit("member-joined", {"name": cert.name, "peer_id": caller.peer_id})
        return JoinFinished(confirm_b, sealed)

    def _forget_stale(self, now: float) -> None:
        for key, item in list(self._pending.items()):
            if now - item.started > PENDING_TTL:
                del self._pending[key]
        while len(self._pending) >= MAX_PENDING:
            self._pending.pop(next(iter(self._pending)))


@dataclass(frozen=True, slots=True)
class Bundle:
    """What a member hands a newcomer: the workgroup key and its certificate."""

    workgroup: str
    key_raw: bytes
    cert: MemberCert
    revoked: RevocationList | None = None


def parse_bundle(data: bytes) -> Bundle:
    try:
        raw = json.loads(data)
        key = base64.b64decode(raw["key"], validate=True)
        cert = MemberCert.from_text(raw["cert"])
        group = raw["workgroup"]
        listed = base64.b64decode(raw.get("revoked", ""), validate=True)
        revoked = RevocationList.parse(listed) if listed else None
    except (ValueError, KeyError, TypeError, binascii.Error, MembershipError):
        raise JoinError("the member's answer is malformed") from None
    if not isinstance(group, str) or len(key) != 32:
        raise JoinError("the member's answer is malformed")
    return Bundle(group, key, cert, revoked)


async def join_member(
    conn: ChannelConnection,
    code: JoinCode,
    *,
    identity: Identity,
    name: str,
    workgroup: str,
) -> Bundle:
    """Run the PAKE with the member at the other end of ``conn``; its bundle."""
    side = JoinerSide(code, joiner_id=identity.peer_id, member_id=conn.peer_id)
    try:
        started = await conn.call(
            JOIN_START, JoinStart(code.code_id, name, workgroup, side.start())
        )
        confirm = side.confirm(started.msg)
        finished = await conn.call(JOIN_FINISH, JoinFinish(code.code_id, confirm))
        bundle = parse_bundle(side.open(finished.confirm, finished.sealed))
    except ChannelRefused as exc:
        raise JoinError(exc.detail or exc.message) from None
    except PakeFailed as exc:
        raise JoinError(f"the member at the other end failed the join: {exc.message}") from None
    if bundle.cert.peer_id != identity.peer_id:
        raise JoinError("the member certified another peer, not this PC")
    return bundle
