"""One account everywhere: account changes replicate to every member over the channel.

A change made here (``peerwork user add/passwd/del``) is pushed to every peer
the channel may call, at once (``accounts-push``). Besides, each member is
asked what it holds on first sight and every ``interval`` seconds
(``accounts-sync``: digests exchanged, each side sent what it lacks), so a
member that was off, or cut off, catches up when it returns. Received
entries go through the change log's rule (:mod:`peerwork.account_log`): only
entries their origin signed, from an origin that is a member, and only if
they beat what is held; the AccountStore is updated in place, so the file
service's next logon sees the change. The channel server admits only peers
its policy accepts; this service calls only ``ctx.channel.peers()``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from peerwork.account_log import AccountChange, Conflict, Merge, Outcome
from peerwork.accounts import AccountStore
from peerwork.config.account_sync import ACCOUNT_SYNC, AccountSyncSection
from peerwork.errors import PeerworkError
from peerwork.proto.channel import ErrorCode
from peerwork.proto.channel_accounts import (
    ACCOUNTS_PUSH,
    ACCOUNTS_SYNC,
    MAX_ENTRIES,
    PushReply,
    PushRequest,
    SyncReply,
    SyncRequest,
)

from .account_peers import Replica, Replicas, ReplicaState
from .channel.errors import ChannelRefused
from .channel.handlers import Caller
from .channel.link import ChannelLink
from .channel.wire import BodyStream
from .log_throttle import Throttle
from .service import EventSink, Service, ServiceState, no_events

if TYPE_CHECKING:
    from .channel.client import ChannelConnection
    from .channel.service import KnownPeer
    from .context import ServiceContext

log = logging.getLogger("peerwork.account_sync")
TICK = 1.0  # seconds between looks at which members are due a sync
KEEP_CONFLICTS = 50


class AccountSyncService(Service):
    name = "account_sync"
    section = ACCOUNT_SYNC

    def __init__(
        self,
        *,
        settings: AccountSyncSection,
        accounts: AccountStore,
        channel: ChannelLink,
        own_id: str,
        emit: EventSink = no_events,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(emit)
        self.settings = settings
        self.accounts = accounts
        self.channel = channel
        self.own_id = own_id
        self.clock = clock
        self.replicas = Replicas()
        self.conflicts: collections.deque[dict[str, Any]] = collections.deque(maxlen=KEEP_CONFLICTS)
        self._conflicts_seen: set[tuple[str, tuple[int, str], tuple[int, str]]] = set()
        self._published: dict[str, str] = {}  # peer id -> state last put in an event
        self._busy: set[str] = set()  # peers a sync runs with now
        self.refused = 0  # entries refused since start (forged, non-member, malformed)
        self._log_refused = Throttle(log)
        channel.handlers.add(ACCOUNTS_SYNC, self._on_sync)
        channel.handlers.add(ACCOUNTS_PUSH, self._on_push)
        accounts.subscribe(self._local_change)

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> AccountSyncService:
        return cls(
            settings=ctx.settings,
            accounts=ctx.accounts,
            channel=ctx.channel,
            own_id=ctx.identity.peer_id,
            emit=ctx.emit,
        )

    async def _start(self) -> None:
        self.run_supervised(self._loop(), "anti-entropy")

    async def _stop(self) -> None:
        self._busy.clear()

    async def apply(self, settings: Any) -> bool:
        if not isinstance(settings, AccountSyncSection) or not settings.enabled:
            return False
        self.settings = settings
        return True

    # -- who counts ----------------------------------------------------------------------
    def members(self) -> Callable[[str], bool]:
        """Is an origin one whose entries we take: us, a peer the channel's policy admits
        now, or one whose entries we took before (it may be off while others relay them)?
        Built once per batch of entries: the sets are not recomputed per entry."""
        known = {self.own_id, *(p.peer_id for p in self.channel.peers())}
        known |= self.accounts.origins()
        return known.__contains__

    def _peer_name(self, peer_id: str) -> str:
        known = next((p for p in self.channel.peers() if p.peer_id == peer_id), None)
        if known is not None:
            return known.name
        replica = self.replicas.by_id.get(peer_id)
        return replica.name if replica is not None else peer_id[:8]

    def _replica(self, peer_id: str) -> Replica:
        return self.replicas.get(peer_id, self._peer_name(peer_id))

    # -- what arrives --------------------------------------------------------------------
    def _require_running(self) -> None:
        if self.state is not ServiceState.RUNNING:
            raise ChannelRefused(ErrorCode.REFUSED, "account sync is not running on this PC")

    async def _on_sync(
        self, caller: Caller, request: SyncRequest, stream: BodyStream | None
    ) -> SyncReply:
        self._require_running()
        newer = self.accounts.newer_than(request.digest)
        theirs_newer = self.accounts.wanted(request.digest)
        # Asked for: what is newer there, and what is older there but perhaps made apart
        # from ours; ours of what is newer there goes along. Both sides then see a clash.
        wanted = theirs_newer + self.accounts.contested(request.digest)
        sent = newer[:MAX_ENTRIES]
        older = self.accounts.entries(theirs_newer)[: MAX_ENTRIES - len(sent)]
        replica = self._replica(caller.peer_id)
        replica.note(request.digest)
        replica.note({e.name: e.stamp for e in sent})
        self._publish_state(replica)
        return SyncReply(tuple(sent + older), tuple(wanted), more=len(newer) > len(sent))

    async def _on_push(
        self, caller: Caller, request: PushRequest, stream: BodyStream | None
    ) -> PushReply:
        self._require_running()
        replica = self._replica(caller.peer_id)
        merges = self.accounts.merge(request.entries, self.members())
        applied, refused = self._merged(merges, replica.name)
        replica.note(
            {m.change.name: m.change.stamp for m in merges if m.outcome is not Outcome.REFUSED}
        )
        self._publish_state(replica)
        if applied:
            self._synced(caller.peer_id, replica.name, applied, 0)
        return PushReply(applied, tuple(refused))

    def _merged(self, merges: Sequence[Merge], source: str) -> tuple[int, list[str]]:
        """Log, count and announce what a batch of received entries did."""
        applied, refused = 0, []
        for merge in merges:
            entry = merge.change
            if merge.outcome is Outcome.APPLIED:
                applied += 1
                what = "removed" if entry.removed else "changed"
                log.info(
                    "account %s %s (from %s, made on %s)", entry.name, what, source, entry.origin
                )
                self.emit(
                    f"account-{what}",
                    {
                        "name": entry.name,
                        "version": entry.version,
                        "origin": entry.origin,
                        "via": source,
                    },
                )
            elif merge.outcome is Outcome.REFUSED:
                self.refused += 1
                refused.append(f"{entry.name}: {merge.reason}")
                # A flood of forged entries (or one held back every round) logs once a minute.
                self._log_refused.log(
                    "refused",
                    logging.WARNING,
                    "account change for %s from %s refused: %s",
                    entry.name,
                    source,
                    merge.reason,
                )
            if merge.conflict is not None:
                self._conflict(merge.conflict, source)
                lost = merge.replaced
                if merge.outcome is Outcome.APPLIED and lost is not None and lost.signed:
                    # The losing entry now exists only here: show it to every member, so
                    # each reports the clash (to them it is stale: nothing else changes).
                    self.run_supervised(self._push_all((lost,)), f"clash {lost.name}")
        return applied, refused

    def _conflict(self, conflict: Conflict, source: str) -> None:
        key = (conflict.name, conflict.kept, conflict.lost)
        if key in self._conflicts_seen:
            return
        self._conflicts_seen.add(key)
        report = {**conflict.to_json(), "via": source, "at": self.clock()}
        self.conflicts.append(report)
        log.warning(
            "account %s was changed on two PCs that could not see each other (%s); "
            "kept the change made on %s (version %d), dropped the one made on %s (version %d)",
            conflict.name,
            conflict.kind,
            conflict.kept[1],
            conflict.kept[0],
            conflict.lost[1],
            conflict.lost[0],
        )
        self.emit("account-conflict", report)

    # -- what goes out -------------------------------------------------------------------
    def _local_change(self, entry: AccountChange) -> None:
        if self.state is not ServiceState.RUNNING or not entry.signed:
            return  # the next sync round carries it
        self.run_supervised(self._push_all((entry,)), f"push {entry.name}")

    async def _push_all(self, entries: Sequence[AccountChange]) -> None:
        await asyncio.gather(*(self._push(peer, entries) for peer in self.channel.peers()))

    async def _connect(self, peer: KnownPeer) -> ChannelConnection:
        return await self.channel.connect(peer)

    async def _push(self, peer: KnownPeer, entries: Sequence[AccountChange]) -> None:
        replica = self.replicas.get(peer.peer_id, peer.name)
        try:
            async with asyncio.timeout(self.settings.timeout):
                async with await self._connect(peer) as conn:
                    reply = await conn.call(ACCOUNTS_PUSH, PushRequest(tuple(entries)))
        except (PeerworkError, TimeoutError, OSError) as exc:
            self._unreachable(replica, exc)
            return
        refused = {r.split(":", 1)[0] for r in reply.refused}
        replica.note({e.name: e.stamp for e in entries if e.name not in refused})
        replica.reachable, replica.error = True, ""
        self._publish_state(replica)

    def _unreachable(self, replica: Replica, exc: BaseException) -> None:
        why = "timed out" if isinstance(exc, TimeoutError) else getattr(exc, "message", str(exc))
        if replica.reachable:
            log.warning("accounts: %s unreachable: %s", replica.name, why)
        replica.failed(why, self.clock())
        self._publish_state(replica)

    async def sync(self, peer: KnownPeer) -> None:
        """One anti-entropy round with ``peer``: both end up with the newer of each entry."""
        replica = self.replicas.get(peer.peer_id, peer.name)
        replica.last_try = self.clock()
        try:
            async with asyncio.timeout(self.settings.timeout):
                async with await self._connect(peer) as conn:
                    reply = await conn.call(ACCOUNTS_SYNC, SyncRequest(self.accounts.digest()))
                    # What it asked for as we hold it now, before its entries replace ours.
                    send = self.accounts.entries(reply.wanted)
                    merges = self.accounts.merge(reply.entries, self.members())
                    received, _ = self._merged(merges, peer.name)
                    refused: set[str] = set()
                    for start in range(0, len(send), MAX_ENTRIES):
                        chunk = tuple(send[start : start + MAX_ENTRIES])
                        pushed = await conn.call(ACCOUNTS_PUSH, PushRequest(chunk))
                        refused |= {r.split(":", 1)[0] for r in pushed.refused}
        except (PeerworkError, TimeoutError, OSError) as exc:
            self._unreachable(replica, exc)
            return
        first = replica.acked is None
        replica.note({n: s for n, s in self.accounts.digest().items() if n not in refused})
        replica.more = reply.more
        replica.succeeded(self.clock())
        if received or send or first:
            self._synced(peer.peer_id, peer.name, received, len(send))
        self._publish_state(replica)

    def _synced(self, peer_id: str, name: str, received: int, sent: int) -> None:
        """Entries moved between us and a peer (whichever side asked)."""
        log.info("accounts: synced with %s (received %d, sent %d)", name, received, sent)
        self.emit(
            "accounts-synced", {"peer": peer_id, "name": name, "received": received, "sent": sent}
        )

    async def _sync_guarded(self, peer: KnownPeer) -> None:
        try:
            await self.sync(peer)
        finally:
            self._busy.discard(peer.peer_id)

    async def _loop(self) -> None:
        while True:
            now = self.clock()
            for peer in self.channel.peers():
                replica = self.replicas.get(peer.peer_id, peer.name)
                if peer.peer_id in self._busy or not replica.due(now, self.settings.interval):
                    continue
                self._busy.add(peer.peer_id)
                self.run_supervised(self._sync_guarded(peer), f"sync {peer.name}")
            await asyncio.sleep(TICK)

    # -- what status shows ---------------------------------------------------------------
    def _publish_state(self, replica: Replica) -> None:
        digest = self.accounts.digest()
        state = replica.state(digest).value
        behind = replica.behind(digest)
        shown = f"{state}/{behind}"
        if self._published.get(replica.peer_id) == shown:
            return
        self._published[replica.peer_id] = shown
        self.emit("account-sync-state", replica.to_json(digest))

    def peer_states(self) -> dict[str, dict[str, Any]]:
        """Per peer id: its replication state (for status and ``peers --json``)."""
        digest = self.accounts.digest()
        seen = {p.peer_id for p in self.channel.peers()}
        return {
            r.peer_id: {**r.to_json(digest), "member_now": r.peer_id in seen}
            for r in self.replicas.all()
        }

    def details(self) -> dict[str, Any]:
        return {
            "accounts": len(self.accounts.names()),
            "interval": self.settings.interval,
            "peers": list(self.peer_states().values()),
            "conflicts": list(self.conflicts),
            "refused": self.refused,
        }

    def summary(self) -> str:
        states = [p["state"] for p in self.peer_states().values()]
        if not states:
            return "no member to replicate accounts with yet"
        counts = collections.Counter(states)
        return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))

    def notes(self) -> list[str]:
        lines = []
        for p in self.peer_states().values():
            line = f"{p['name']}: {p['state']}"
            if (
                p["state"] in (ReplicaState.BEHIND.value, ReplicaState.UNREACHABLE.value)
                and p["behind"]
            ):
                line += f", behind by {p['behind']}"
            if p["error"]:
                line += f" ({p['error']})"
            lines.append(line)
        for c in self.conflicts:
            lines.append(
                f"conflict on account {c['name']} ({c['kind']}): kept the change made on "
                f"{c['kept']['origin'][:8]}, dropped the one made on {c['lost']['origin'][:8]}"
            )
        return lines
