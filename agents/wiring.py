"""The agent's services, in start order: adding a service is its module plus one line here.

Each entry is a :class:`~agents.service.Service` subclass whose ``name`` is
its ``peerwork.toml`` section and whose ``from_context`` builds it from a
:class:`~agents.context.ServiceContext`. The control API starts before all of
them; they stop in reverse order (discovery says goodbye first).
"""

from __future__ import annotations

from collections.abc import Sequence

from .account_sync import AccountSyncService
from .channel.service import ChannelService
from .discovery import DiscoveryService
from .files import FileService
from .gateway.service import GatewayService
from .mail.service import MailService
from .printers import PrinterService
from .service import Service
from .trust import TrustService
from .wsdiscovery import WsdService

# Every service before discovery: it announces the ports (and trust's certificate)
# they put on the board.
SERVICES: Sequence[type[Service]] = (
    FileService,
    PrinterService,
    ChannelService,
    TrustService,
    MailService,
    GatewayService,
    AccountSyncService,
    DiscoveryService,
    WsdService,
)
