"""Lease replication over the peer channel (``gateway.leases``, see the codec).

The active gateway runs a :class:`LeasePusher`: after each lease change, and
every ``resync`` seconds for a standby that has not acknowledged the latest
table (one that just appeared, or was unreachable), it sends the whole kept
table to each standby in the election's line. A standby's
:func:`lease_handler` stores a push in its own ``leases.json`` — only from the
PC it takes for the gateway — so when it takes over, it serves the same leases.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from peerwork.errors import PeerworkError
from peerwork.proto.gateway_leases import (
    LEASES,
    MAX_LEASES,
    NOT_THE_GATEWAY,
    LeaseEntry,
    LeasePush,
    LeasePushReply,
)

from ..channel.client import ChannelConnection
from ..channel.errors import ChannelError, ChannelRefused
from ..channel.handlers import Caller, Handler
from ..channel.link import ChannelLink
from .dhcp_leases import Lease, LeaseState, LeaseTable

log = logging.getLogger("peerwork.gateway.replication")

CALL_TIMEOUT = 5.0  # one push; a standby that can't take it in this long is retried later


def to_push(table: LeaseTable) -> LeasePush:
    """The table's kept leases (never offers), newest expiry first if over the cap."""
    kept = [x for x in table.leases.values() if x.state is not LeaseState.OFFERED]
    kept.sort(key=lambda x: -x.expires)
    return LeasePush(
        tuple(
            LeaseEntry(x.address, x.client_id, x.mac, x.state.value, x.expires, x.hostname)
            for x in kept[:MAX_LEASES]
        )
    )


def from_push(push: LeasePush) -> LeaseTable:
    return LeaseTable(
        {
            e.address: Lease(
                e.address, e.client_id, e.mac, LeaseState(e.state), e.expires, e.hostname
            )
            for e in push.leases
        }
    )


def lease_handler(
    accept: Callable[[str], bool], store: Callable[[str, LeaseTable], Awaitable[None]]
) -> Handler[LeasePush, LeasePushReply]:
    """Serve ``gateway.leases``: ``accept(peer_id)`` says whether the caller is the PC
    this one takes for the gateway; ``store(peer_id, table)`` keeps the table (on disk
    before the reply) and notes that the gateway is alive."""

    async def handle(caller: Caller, push: LeasePush, stream: object) -> LeasePushReply:
        del stream
        if not accept(caller.peer_id):
            raise ChannelRefused(NOT_THE_GATEWAY, "this PC does not take you for the gateway")
        table = from_push(push)
        await store(caller.peer_id, table)
        return LeasePushReply(len(table.leases))

    return handle


class LeasePusher:
    """Keeps every standby's copy of the lease table current (run while active). Every
    ``resync`` seconds each standby gets the table even unchanged: that push is also
    the heartbeat by which a standby knows the gateway is alive."""

    def __init__(
        self,
        link: ChannelLink,
        standbys: Callable[[], Sequence[str]],
        table: Callable[[], LeaseTable],
        *,
        resync: float = 1.0,
    ) -> None:
        self.link = link
        self.standbys = standbys  # peer ids of the PCs in line after this one
        self.table = table
        self.resync = resync
        self.version = 0  # bumped by each change
        self.acked: dict[str, int] = {}  # peer id -> the version it acknowledged
        self.pushes = 0
        self.failures = 0
        self._changed = asyncio.Event()
        self._conns: dict[str, ChannelConnection] = {}

    def changed(self) -> None:
        self.version += 1
        self._changed.set()

    async def run(self) -> None:
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), self.resync)
                self._changed.clear()
                await self.push_once()
        finally:
            for conn in self._conns.values():
                with contextlib.suppress(Exception):
                    await conn.close()
            self._conns.clear()

    async def push_once(self) -> None:
        """Push the current table to every standby."""
        version, push = self.version, to_push(self.table())
        wanted = list(self.standbys())
        if wanted:
            await asyncio.gather(*(self._push(p, version, push) for p in wanted))

    async def _push(self, peer_id: str, version: int, push: LeasePush) -> None:
        try:
            conn = self._conns.get(peer_id)
            if conn is None:
                conn = await asyncio.wait_for(
                    self.link.connect(self.link.find(peer_id)), CALL_TIMEOUT
                )
                self._conns[peer_id] = conn
            reply = await asyncio.wait_for(conn.call(LEASES, push), CALL_TIMEOUT)
        except (ChannelError, OSError, TimeoutError) as exc:
            self.failures += 1
            log.info("gateway: lease push to %s failed: %s", peer_id[:12], exc)
            bad = self._conns.pop(peer_id, None)
            if bad is not None:
                with contextlib.suppress(Exception):
                    await bad.close()
            return
        except PeerworkError as exc:  # NotFound: the peer left the directory meanwhile
            log.info("gateway: lease push to %s skipped: %s", peer_id[:12], exc)
            return
        self.pushes += 1
        self.acked[peer_id] = version
        log.debug("gateway: %s keeps %d lease(s)", peer_id[:12], reply.kept)
