"""The channel as an agent service: its server, its client, the handlers, ``ctl``.

Other services reach it through ``handlers`` (to serve a request type) and
``client`` / :meth:`ChannelService.connect` (to call a peer). Which callers
are accepted is a policy callable; by default it is "a peer discovery knows
as verified right now", from the ``directory`` the agent hands in. The trust
service replaces it (:meth:`ChannelService.set_policy`, through the link) with
"a member of the workgroup" once this PC holds the workgroup key.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from aiohttp import web

from peerwork import PROTOCOL_VERSION, __version__
from peerwork.config import CHANNEL, DEFAULT_CHANNEL_PORT, ChannelSection, PeerSection
from peerwork.errors import InvalidInput, NotFound, ServiceError
from peerwork.identity import Identity
from peerwork.proto.channel_hello import HELLO, HelloReply, HelloRequest

from ..adverts import AdvertBoard, ServiceAdvert
from ..control_input import json_body, text_field
from ..service import EventSink, Route, Service, ServiceState, no_events
from .client import ChannelClient, ChannelConnection
from .errors import ChannelError
from .handlers import Caller, HandlerRegistry
from .server import DEFAULT_LIMITS, ChannelServer, PeerPolicy
from .wire import BodyStream

if TYPE_CHECKING:
    from ..context import ServiceContext

log = logging.getLogger("peerwork.channel")
# Seconds `peerwork ping` waits, under the control client's own 15 s.
HELLO_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class KnownPeer:
    """A peer discovery has verified: where its channel is, as its record says."""

    peer_id: str
    name: str
    addresses: tuple[str, ...]
    ctl_port: int | None = None  # None: the record carries none; try the default


Directory = Callable[[], Iterable[KnownPeer]]


class ChannelService(Service):
    name = "channel"
    section = CHANNEL

    def __init__(
        self,
        *,
        settings: ChannelSection,
        identity: Identity,
        peer: PeerSection,
        directory: Directory,
        policy: PeerPolicy | None = None,
        board: AdvertBoard | None = None,
        emit: EventSink = no_events,
        handlers: HandlerRegistry | None = None,
    ) -> None:
        """``handlers``: the registry to serve (the agent's :class:`ChannelLink`
        shares one with every service); a new one if None."""
        super().__init__(emit)
        self.settings = settings
        self.identity = identity
        self.peer = peer
        self.directory = directory
        self.policy: PeerPolicy = policy or self.known_and_verified
        self.board = board
        self.limits = replace(DEFAULT_LIMITS, handshake=settings.handshake_timeout)
        self.handlers = handlers if handlers is not None else HandlerRegistry()
        self.handlers.add(HELLO, self._hello)
        self.client = ChannelClient(identity)
        self._server: ChannelServer | None = None

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> ChannelService:
        def verified() -> list[KnownPeer]:
            # The channel accepts and calls only peers whose signed record verified.
            return [
                KnownPeer(p.peer_id, p.name, p.addresses, p.ports.get("ctl"))
                for p in ctx.peers()
                if p.verified
            ]

        service = cls(
            settings=ctx.settings,
            identity=ctx.identity,
            peer=ctx.peer,
            directory=verified,
            board=ctx.board,
            emit=ctx.emit,
            handlers=ctx.channel.handlers,
        )
        ctx.channel.attach(service)
        return service

    def routes(self) -> Sequence[Route]:
        async def hello(request: web.Request) -> web.Response:
            data = await json_body(request)
            port = data.get("port")
            if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
                raise InvalidInput("port must be an integer")
            if self.state is not ServiceState.RUNNING:
                raise ServiceError("the channel service is not running on this PC")
            return web.json_response(await self.hello(text_field(data, "peer"), port=port))

        return [Route("POST", "/hello", hello)]

    async def apply(self, settings: Any) -> bool:
        """``handshake_timeout`` applies live (the server reads its limits per
        connection); a new bind, port or ``enabled`` needs a restart."""
        if not isinstance(settings, ChannelSection):
            return False
        if replace(settings, handshake_timeout=self.settings.handshake_timeout) != self.settings:
            return False
        self.settings = settings
        self.limits = replace(self.limits, handshake=settings.handshake_timeout)
        if self._server is not None:
            self._server.limits = self.limits
        return True

    def set_policy(self, policy: PeerPolicy | None) -> None:
        """Replace who is accepted and called (None: known and verified); the
        server asks per connection, so this applies to the next one."""
        self.policy = policy or self.known_and_verified

    def known_and_verified(self, peer_id: str) -> bool:
        return any(p.peer_id == peer_id for p in self.directory())

    async def _start(self) -> None:
        server = ChannelServer(
            identity=self.identity,
            handlers=self.handlers,
            policy=lambda peer_id: self.policy(peer_id),
            host=self.settings.bind,
            port=self.settings.port,
            limits=self.limits,
            emit=self.emit,
        )
        await server.start()
        self._server = server
        if self.board is not None:
            self.board.set(self.name, ServiceAdvert(ports={"ctl": server.port}))

    async def _stop(self) -> None:
        if self.board is not None:
            self.board.clear(self.name)
        if self._server is not None:
            await self._server.stop()
            self._server = None

    def ports(self) -> dict[str, int]:
        return {"ctl": self._server.port} if self._server is not None else {}

    @property
    def serving(self) -> bool:
        return self._server is not None

    def details(self) -> dict[str, Any]:
        server = self._server
        return {
            "bind": self.settings.bind,
            "connections": server.connection_count() if server else 0,
            "requests": self.handlers.names(),
            "counters": asdict(server.counters) if server else {},
        }

    async def _hello(
        self, caller: Caller, request: HelloRequest, stream: BodyStream | None
    ) -> HelloReply:
        log.info("channel: hello from %s (peer %s)", request.name, caller.peer_id)
        return HelloReply(
            name=self.peer.name,
            peer_id=self.identity.peer_id,
            workgroup=self.peer.workgroup,
            version=__version__,
            protocol=PROTOCOL_VERSION,
        )

    def find(self, peer: str) -> KnownPeer:
        """A verified peer by name (case-insensitive) or peer id."""
        for known in self.directory():
            if known.peer_id == peer.lower() or known.name.upper() == peer.upper():
                return known
        raise NotFound(f"no verified peer {peer!r} is known on the LAN")

    async def connect(
        self, peer: KnownPeer, *, address: str | None = None, port: int | None = None
    ) -> ChannelConnection:
        """A connection to ``peer``: at ``address``, or at each address of its verified
        record in turn until one answers as ``peer.peer_id`` (proving its key)."""
        addresses = (address,) if address is not None else peer.addresses
        if not addresses:
            raise NotFound(f"peer {peer.name} announces no address")
        port = port or peer.ctl_port or DEFAULT_CHANNEL_PORT
        failure: ChannelError | None = None
        for candidate in addresses:
            try:
                return await self.client.connect(peer.peer_id, candidate, port)
            except ChannelError as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def hello(self, peer: str, *, port: int | None = None) -> dict[str, Any]:
        """Say hello to a peer by name or id: what ``peerwork ping`` runs."""
        known = self.find(peer)
        if not self.policy(known.peer_id):
            raise ChannelError(f"{known.name} is not a peer the channel may call (not a member)")
        try:
            async with asyncio.timeout(HELLO_TIMEOUT):
                async with await self.connect(known, port=port) as conn:
                    reply = await conn.call(HELLO, HelloRequest(self.peer.name))
        except TimeoutError:
            raise ChannelError(f"{known.name} did not answer within {HELLO_TIMEOUT:.0f}s") from None
        return reply.to_body()
