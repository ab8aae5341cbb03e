"""The channel as the other services see it: request types to serve, peers to call.

The agent owns one :class:`ChannelLink` and hands it to every service in its
context, so a service built before the channel (or running while the channel
is down) can still register its handlers. :class:`ChannelService` serves the
link's handlers and, while it runs, makes its connections. Which peers it
accepts and calls is the channel service's ``policy``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from peerwork.errors import NotFound

from .errors import ChannelError
from .handlers import HandlerRegistry

if TYPE_CHECKING:
    from .client import ChannelConnection
    from .service import ChannelService, KnownPeer


class ChannelLink:
    def __init__(self) -> None:
        self.handlers = HandlerRegistry()
        self._service: ChannelService | None = None

    def attach(self, service: ChannelService) -> None:
        self._service = service

    def peers(self) -> list[KnownPeer]:
        """The peers the channel would call now (its directory, through its policy)."""
        service = self._service
        if service is None:
            return []
        return [p for p in service.directory() if service.policy(p.peer_id)]

    def find(self, peer: str) -> KnownPeer:
        """A peer by name (case-insensitive) or peer id, as the channel knows it."""
        if self._service is None:
            raise NotFound("the channel service is not part of this agent")
        return self._service.find(peer)

    async def connect(self, peer: KnownPeer) -> ChannelConnection:
        """A connection to ``peer``; ChannelError if the channel is not running here."""
        service = self._service
        if service is None or not service.serving:
            raise ChannelError("the channel service is not running on this PC")
        if not service.policy(peer.peer_id):
            raise ChannelError(f"{peer.name} is not a peer the channel may call")
        return await service.connect(peer)
