"""What a service is built from: :class:`ServiceContext`, one per service.

The agent makes one context per entry of its service list
(:mod:`agents.wiring`) and hands it to the service's ``from_context``. A
service reaches the rest of the agent only through it, so adding a service
never edits the agent, discovery, the control server or ``reload``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from peerwork.accounts import AccountStore
from peerwork.config import Config, PeerSection
from peerwork.home import HomePaths
from peerwork.identity import Identity
from peerwork.models import Peer

from .adverts import AdvertBoard
from .channel.link import ChannelLink
from .membership import MembershipView
from .service import EventSink, RetryPolicy
from .tasks import BackgroundTasks

if TYPE_CHECKING:
    from .actions import Actions
    from .files import ShareRegistry


@dataclass(frozen=True, slots=True)
class ServiceContext:
    """Everything a service may use; the agent owns each object, the service borrows it.

    ``settings``: the typed value the service's own ``read_settings`` made of
    its ``[<name>]`` section (``raw_section`` is that table as written).
    ``tasks``: the agent's background tasks; what a service spawns there is
    cancelled when the agent stops. ``peers``: the PCs of the workgroup seen
    so far, from whichever service finds them. ``channel``: the agent-to-agent
    channel, to serve request types (``channel.handlers.add``) and call peers
    (``await channel.connect(channel.find(name))``). ``membership``: this PC's
    workgroup membership (key, certificate), and who else is a member.
    """

    name: str
    settings: Any
    raw_section: Mapping[str, Any]
    config: Config
    accounts: AccountStore
    identity: Identity
    emit: EventSink
    board: AdvertBoard
    paths: HomePaths
    tasks: BackgroundTasks
    retry: RetryPolicy
    shares: ShareRegistry
    actions: Actions
    peers: Callable[[], Sequence[Peer]]
    channel: ChannelLink
    membership: MembershipView

    @property
    def peer(self) -> PeerSection:
        return self.config.peer
