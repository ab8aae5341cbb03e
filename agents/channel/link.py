"""The channel as the other services see it: request types to serve, peers to call.

The agent owns one :class:`ChannelLink` and hands it to every service in its
context, so a service built before the channel (or running while the channel
is down) can still register its handlers. :class:`ChannelService` serves the
link's handlers and, while it runs, makes its connections. Which peers it
accepts and calls is the channel service's ``policy``, which the trust
service sets through :meth:`ChannelLink.set_policy` (members only). Request
kinds added with ``open_to_all`` (the join PAKE) are served to anyone with a
verified key, and ``connect(peer, open_kinds=True)`` calls a peer for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from peerwork.errors import NotFound

from .errors import ChannelError
from .handlers import HandlerRegistry

if TYPE_CHECKING:
    from .client import ChannelConnection
    from .server import PeerPolicy
    from .service import ChannelService, KnownPeer


class ChannelLink:
    def __init__(self) -> None:
        self.handlers = HandlerRegistry()
        self._service: ChannelService | None = None
        self._policy: PeerPolicy | None = None

    def attach(self, service: ChannelService) -> None:
        self._service = service
        if self._policy is not None:
            service.set_policy(self._policy)

    def peers(self) -> list[KnownPeer]:
        """The peers the channel would call now (its directory, through its policy)."""
        service = self._service
        if service is None:
            return []
        return [p for p in service.directory() if service.policy(p.peer_id)]

    def known(self) -> list[KnownPeer]:
        """Every peer the channel knows a verified record of, accepted by its policy or not."""
        return list(self._service.directory()) if self._service is not None else []

    def set_policy(self, policy: PeerPolicy | None) -> None:
        """Who the channel accepts and calls (None: back to its default)."""
        self._policy = policy
        if self._service is not None:
            self._service.set_policy(policy)

    def find(self, peer: str) -> KnownPeer:
        """A peer by name (case-insensitive) or peer id, as the channel knows it."""
        if self._service is None:
            raise NotFound("the channel service is not part of this agent")
        return self._service.find(peer)

    async def connect(self, peer: KnownPeer, *, open_kinds: bool = False) -> ChannelConnection:
        """A connection to ``peer``; ChannelError if the channel is not running here.

        ``open_kinds``: for open request kinds only (a join), so also to a peer
        the policy does not accept."""
        service = self._service
        if service is None or not service.serving:
            raise ChannelError("the channel service is not running on this PC")
        if not open_kinds and not service.policy(peer.peer_id):
            raise ChannelError(f"{peer.name} is not a peer the channel may call")
        return await service.connect(peer)
