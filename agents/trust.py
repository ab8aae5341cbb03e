"""The trust service: invites, joins, this PC's certificate on the air, the channel's policy.

Once this PC holds a workgroup key (created by a plain ``init`` or received
by ``join``), the channel accepts and calls only members — peers whose record
carries a certificate of our workgroup key that is not revoked — plus the
join request kinds from anyone. A PC without a workgroup key keeps the
channel's default policy (a verified peer), as before workgroups had keys.
See :mod:`peerwork.workgroup` for the design.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from peerwork.config.trust import TRUST, TrustSection
from peerwork.errors import InvalidInput, NotFound
from peerwork.identity import Identity
from peerwork.models import Peer, PeerTrust
from peerwork.proto.join_code import JoinCode
from peerwork.proto.rekey_body import REKEY, RekeyReply, RekeyRequest
from peerwork.rekey import check_rekey, rotate
from peerwork.workgroup import Workgroup

from .adverts import ServiceAdvert
from .channel.errors import ChannelError, ChannelRefused
from .channel.handlers import Caller
from .channel.link import ChannelLink
from .control_input import json_body, text_field
from .membership import MembershipView
from .peer_table import CERT_KEY
from .service import EventSink, Route, Service, no_events
from .trust_catchup import CatchUpAsker, CatchUpDesk
from .trust_join import JOIN_REFUSED, JoinDesk, JoinError, join_member

if TYPE_CHECKING:
    from pathlib import Path

    from .context import ServiceContext

log = logging.getLogger("peerwork.trust")
REKEY_TIMEOUT = 10.0
JOIN_TIMEOUT = 12.0  # under the control client's own 15 s
CATCH_UP_TICK = 3.0  # seconds between looks for a rotation this PC missed


class TrustService(Service):
    name = "trust"
    section = TRUST

    def __init__(
        self,
        *,
        home: Path,
        identity: Identity,
        pc_name: str,
        workgroup_name: str,
        membership: MembershipView,
        channel: ChannelLink,
        settings: TrustSection | None = None,
        peers: Callable[[], Sequence[Peer]],
        emit: EventSink = no_events,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(emit)
        self.home = home
        self.identity = identity
        self.pc_name = pc_name
        self.workgroup_name = workgroup_name
        self.membership = membership
        self.channel = channel
        self.peers = peers
        self.clock = clock
        self.settings = settings or TrustSection()
        self.desk = JoinDesk(
            home=home,
            identity=identity,
            workgroup=lambda: self.membership.workgroup,
            emit=emit,
            clock=clock,
        )
        self.desk.serve(channel.handlers)
        channel.handlers.add(REKEY, self._rekey)
        self.catch_up_desk = CatchUpDesk(lambda: self.membership.workgroup, clock)
        self.catch_up_desk.serve(channel.handlers)
        self.asker = CatchUpAsker(channel, clock)
        if membership.workgroup is not None:
            channel.set_policy(self.is_member)

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> TrustService:
        return cls(
            home=ctx.paths.root,
            identity=ctx.identity,
            pc_name=ctx.peer.name,
            workgroup_name=ctx.peer.workgroup,
            membership=ctx.membership,
            channel=ctx.channel,
            settings=ctx.settings,
            peers=ctx.peers,
            emit=ctx.emit,
        )

    def is_member(self, peer_id: str) -> bool:
        """The channel's policy once this PC holds a workgroup key."""
        return any(p.peer_id == peer_id and p.member for p in self.peers())

    async def apply(self, settings: Any) -> bool:
        if not isinstance(settings, TrustSection):
            return False
        self.settings = settings
        return True

    async def _start(self) -> None:
        self.run_supervised(self._catch_up_loop(), "catch-up")

    async def _catch_up_loop(self) -> None:
        while True:
            await asyncio.sleep(CATCH_UP_TICK)
            await self.catch_up()

    async def catch_up(self) -> bool:
        """Ask members holding a key other than ours for a rotation we missed (see
        :mod:`agents.trust_catchup`); True if one was installed."""
        wg = self.membership.workgroup
        if wg is None:
            return False
        for peer in self.asker.candidates(wg, list(self.peers())):
            offer = await self.asker.ask(wg, peer)
            if offer is None or self.membership.workgroup is not wg:
                continue
            why = check_rekey(
                wg,
                key_raw=offer.key,
                cert=offer.cert,
                revoked=offer.revoked,
                succession=offer.succession,
            )
            if why:
                log.warning("trust: catch-up offered by %s refused: %s", peer.name, why)
                continue
            self._install_rekey(wg, offer, f"{peer.name} (catch-up)")
            return True
        return False

    async def _stop(self) -> None:
        return None

    def advert(self) -> ServiceAdvert | None:
        wg = self.membership.workgroup
        return ServiceAdvert(extra={CERT_KEY: wg.cert.to_text()}) if wg is not None else None

    def summary(self) -> str:
        wg = self.membership.workgroup
        if wg is None:
            return f"workgroup {self.workgroup_name} has no key here: trust on first use"
        return f"member of {wg.name} (certificate serial {wg.cert.serial})"

    def warnings(self) -> list[str]:
        out = []
        for p in self.peers():
            if p.state in (PeerTrust.NOT_A_MEMBER, PeerTrust.REVOKED):
                out.append(f"{p.name} is {p.state.value.replace('-', ' ')}: {p.problem}")
        return out

    def details(self) -> dict[str, Any]:
        wg = self.membership.workgroup
        members = [p.name for p in self.peers() if p.member]
        others = {
            p.name: p.state.value
            for p in self.peers()
            if p.state in (PeerTrust.NOT_A_MEMBER, PeerTrust.REVOKED)
        }
        return {
            "workgroup": wg.name if wg else self.workgroup_name,
            "member": wg is not None,
            "key_id": wg.key_id.hex() if wg else "",
            "serial": wg.cert.serial if wg else None,
            "members": sorted(members),
            "not_members": others,
            "joins": dict(self.desk.counters),
        }

    def routes(self) -> Sequence[Route]:
        async def invite(request: web.Request) -> web.Response:
            data = await json_body(request)
            ttl = data.get("ttl", self.settings.code_ttl)
            if isinstance(ttl, bool) or not isinstance(ttl, int | float):
                raise InvalidInput("ttl must be a number of seconds")
            code, expires = self.desk.invite(float(ttl))
            log.info("trust: join code %s-… issued, expires in %.0f s", code.hint, ttl)
            return web.json_response(
                {"code": code.text(), "expires": expires, "issuer": self.pc_name}
            )

        async def join(request: web.Request) -> web.Response:
            data = await json_body(request)
            again = data.get("again", False)
            if not isinstance(again, bool):
                raise InvalidInput("again must be true or false")
            return web.json_response(await self.join(text_field(data, "code"), again=again))

        async def remove(request: web.Request) -> web.Response:
            data = await json_body(request)
            return web.json_response(await self.remove(text_field(data, "peer")))

        return [
            Route("POST", "/invite", invite),
            Route("POST", "/join", join),
            Route("POST", "/remove", remove),
        ]

    async def join(self, text: str, *, again: bool = False) -> dict[str, Any]:
        """``peerwork join CODE``: find the member the code names and run the PAKE with it.

        ``again``: also when this PC holds a workgroup key already (a member that was
        off while another was removed, and so missed the new key)."""
        code = JoinCode.parse(text)
        held = self.membership.workgroup
        # A key made here that admitted nobody is given up for the one joined:
        # nothing else relies on it ('init' makes one by default).
        solo = held is not None and held.solo
        if held is not None and not again and not solo:
            raise JoinError(
                f"this PC is already a member of {held.name} with other PCs "
                "(if it missed a new workgroup key while it was off, use 'peerwork join --again')"
            )
        candidates = [p for p in self.channel.known() if code.names(p.peer_id)]
        if not candidates:
            raise NotFound(
                f"no PC on the LAN matches the code's first group {code.hint}: is the member "
                "that printed it running and on this network?"
            )
        failure: Exception | None = None
        for peer in candidates:
            try:
                async with asyncio.timeout(JOIN_TIMEOUT):
                    async with await self.channel.connect(peer, open_kinds=True) as conn:
                        bundle = await join_member(
                            conn,
                            code,
                            identity=self.identity,
                            name=self.pc_name,
                            workgroup=self.workgroup_name,
                        )
            except (ChannelError, TimeoutError) as exc:
                failure = exc
                continue
            wg = Workgroup.install(
                self.home, key_raw=bundle.key_raw, cert=bundle.cert, revoked=bundle.revoked
            )
            self.membership.install(wg)
            self.channel.set_policy(self.is_member)
            self.publish()
            replaced = held.key_id.hex() if solo and held is not None else ""
            if replaced:
                log.warning("trust: this PC's own workgroup key %s replaced by the join", replaced)
            log.info("trust: joined workgroup %s through %s", wg.name, peer.name)
            self.emit(
                "membership",
                {"workgroup": wg.name, "through": peer.name, "member": True, "replaced": replaced},
            )
            return {
                "workgroup": wg.name,
                "through": peer.name,
                "serial": wg.cert.serial,
                "replaced": replaced,
            }
        raise JoinError(f"could not reach the member that issued the code: {failure}")

    async def remove(self, name: str) -> dict[str, Any]:
        """``peerwork remove-peer NAME``: revoke it, rotate the key, rekey the others."""
        wg = self.membership.workgroup
        if wg is None:
            raise JoinError("this PC is not a member of a workgroup with a key")
        seen = self.peers()
        target = next(
            (p for p in seen if name.upper() in (p.name.upper(), p.peer_id.upper())), None
        )
        if target is None:
            raise NotFound(f"no PC {name!r} of the workgroup is seen on the LAN")
        if target.state is PeerTrust.IMPOSTOR:
            raise InvalidInput(f"{target.name} as listed is an impostor; nothing to revoke")
        stay = [(p.peer_id, p.name) for p in seen if p.member and p.peer_id != target.peer_id]
        rekey = rotate(
            wg,
            remove=target.peer_id,
            members=[*stay, (wg.cert.peer_id, wg.cert.name)],
            now=self.clock(),
        )
        # The others first, while they still take this PC for a member under the old key.
        reached, unreachable = [], []
        for peer_id, peer_name in stay:
            request = RekeyRequest(
                rekey.key_raw, rekey.certs[peer_id], rekey.revoked, rekey.succession
            )
            try:
                async with asyncio.timeout(REKEY_TIMEOUT):
                    async with await self.channel.connect(self.channel.find(peer_id)) as conn:
                        await conn.call(REKEY, request)
                reached.append(peer_name)
            except (ChannelError, NotFound, TimeoutError) as exc:
                log.warning("trust: could not hand %s the new key: %s", peer_name, exc)
                unreachable.append(peer_name)
        new = Workgroup.install(
            self.home,
            key_raw=rekey.key_raw,
            cert=rekey.certs[wg.cert.peer_id],
            revoked=rekey.revoked,
            succession=(wg.public_raw, rekey.succession),
            previous=wg.members_known(),
        )
        self.membership.install(new)
        self.publish()
        log.warning("trust: %s (peer %s) removed from %s", target.name, target.peer_id, new.name)
        result = {
            "removed": target.name,
            "peer_id": target.peer_id,
            "revocation": rekey.revoked.number,
            "rekeyed": sorted(reached),
            "unreachable": sorted(unreachable),
        }
        self.emit("member-removed", result)
        return result

    async def _rekey(self, caller: Caller, req: RekeyRequest, stream: object) -> RekeyReply:
        del stream
        wg = self.membership.workgroup
        if wg is None:
            raise ChannelRefused(JOIN_REFUSED, "this PC holds no workgroup key")
        why = check_rekey(
            wg, key_raw=req.key, cert=req.cert, revoked=req.revoked, succession=req.succession
        )
        if why:
            log.warning("trust: rekey from peer %s refused: %s", caller.peer_id, why)
            raise ChannelRefused(JOIN_REFUSED, why)
        self._install_rekey(wg, req, caller.peer_id)
        return RekeyReply(req.revoked.number)

    def _install_rekey(self, wg: Workgroup, req: RekeyRequest, source: str) -> None:
        """A checked rotation (pushed by the remover or pulled by a catch-up) takes effect."""
        new = Workgroup.install(
            self.home,
            key_raw=req.key,
            cert=req.cert,
            revoked=req.revoked,
            succession=(wg.public_raw, req.succession),
            previous=wg.members_known(),
        )
        self.membership.install(new)
        self.publish()
        removed = [r.peer_id for r in req.revoked.revoked]
        log.warning("trust: new workgroup key from %s; revoked: %s", source, removed)
        self.emit(
            "membership",
            {"workgroup": new.name, "rekeyed_by": source, "revocation": req.revoked.number},
        )
