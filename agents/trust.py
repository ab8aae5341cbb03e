"""The trust service: invites, joins, this PC's certificate on the air, the channel's policy.

Once this PC holds a workgroup key (created with ``init --create`` or received
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
from peerwork.workgroup import Workgroup

from .adverts import ServiceAdvert
from .channel.errors import ChannelError
from .channel.link import ChannelLink
from .control_input import json_body, text_field
from .membership import MembershipView
from .peer_table import CERT_KEY
from .service import EventSink, Route, Service, no_events
from .trust_join import JoinDesk, JoinError, join_member

if TYPE_CHECKING:
    from pathlib import Path

    from .context import ServiceContext

log = logging.getLogger("peerwork.trust")
JOIN_TIMEOUT = 12.0  # under the control client's own 15 s


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
        return None

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
            return web.json_response(await self.join(text_field(data, "code")))

        return [Route("POST", "/invite", invite), Route("POST", "/join", join)]

    async def join(self, text: str) -> dict[str, Any]:
        """``peerwork join CODE``: find the member the code names and run the PAKE with it."""
        code = JoinCode.parse(text)
        if self.membership.workgroup is not None:
            raise JoinError(f"this PC is already a member of {self.membership.workgroup.name}")
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
            wg = Workgroup.install(self.home, key_raw=bundle.key_raw, cert=bundle.cert)
            self.membership.install(wg)
            self.channel.set_policy(self.is_member)
            self.publish()
            log.info("trust: joined workgroup %s through %s", wg.name, peer.name)
            self.emit("membership", {"workgroup": wg.name, "through": peer.name, "member": True})
            return {"workgroup": wg.name, "through": peer.name, "serial": wg.cert.serial}
        raise JoinError(f"could not reach the member that issued the code: {failure}")
