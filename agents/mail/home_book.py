"""What this PC knows of every PC's mailbox claims, kept on disk between runs.

Each PC's claim (its ``[mail] mailboxes``) is learned over the channel
(``mail.homes``) from every verified peer with the ``mail`` role, and learned
again whenever that peer's signed record changes: the mail service puts a
digest of its list into the record (:func:`.homes.digest`), so a changed list
means a new sequence number. The book is kept in ``mail/homes.json`` so that
a home PC that is switched off still owns its mailboxes: their mail waits in
the queue instead of landing on the wrong PC.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peerwork.atomic import atomic_write_text
from peerwork.errors import PeerworkError

from .homes import Claim, Home, conflicts, home_of

log = logging.getLogger("peerwork.mail.homes")


@dataclass(frozen=True, slots=True)
class Known:
    """A peer's claim as last learned, and the record sequence number it was learned at."""

    claim: Claim
    seq: int


@dataclass(frozen=True, slots=True)
class MailPeer:
    """A verified peer as discovery lists it, as far as homes are concerned."""

    peer_id: str
    name: str
    seq: int
    mail: bool  # it announces the mail role


Fetch = Callable[[str], Awaitable[tuple[str, ...]]]
# Seconds before a peer that did not answer is asked again for the same record.
ASK_AGAIN = 60.0


class HomeBook:
    def __init__(self, path: Path, own: Claim) -> None:
        self.path = path
        self.own = own
        self._known: dict[str, Known] = {}
        self.unanswered: dict[str, tuple[int, float]] = {}  # peer id -> (seq, when asked)

    def load(self) -> None:
        """Read what an earlier run learned; a damaged file is logged and starts empty.
        Blocking: run in a thread."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            known = {
                str(p["peer_id"]): Known(
                    Claim(str(p["peer_id"]), str(p["name"]), frozenset(map(str, p["mailboxes"]))),
                    int(p["seq"]),
                )
                for p in data["peers"]
            }
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.error("mail: cannot read %s (%s); learning homes afresh", self.path, exc)
            return
        known.pop(self.own.peer_id, None)
        self._known = known

    def claims(self) -> list[Claim]:
        return [self.own, *(k.claim for k in self._known.values())]

    def locate(self, account: str) -> Home:
        return home_of(account, self.own, (k.claim for k in self._known.values()))

    def conflicts(self) -> dict[str, tuple[str, ...]]:
        return conflicts(self.claims())

    def seq_of(self, peer_id: str) -> int | None:
        known = self._known.get(peer_id)
        return known.seq if known is not None else None

    def forget_seq(self, peer_id: str) -> None:
        """Ask the peer again at the next refresh (it refused a hand-off as not home)."""
        known = self._known.get(peer_id)
        if known is not None:
            self._known[peer_id] = Known(known.claim, -1)

    def learn(self, peer_id: str, name: str, seq: int, mailboxes: Iterable[str]) -> bool:
        """Record a peer's claim; True when what it claims changed. Blocking (writes the book)."""
        if peer_id == self.own.peer_id:
            return False
        claim = Claim(peer_id, name, frozenset(mailboxes))
        old = self._known.get(peer_id)
        self._known[peer_id] = Known(claim, seq)
        changed = old is None or old.claim.mailboxes != claim.mailboxes
        if old is None or old != self._known[peer_id]:
            self._save()
        return changed

    def _save(self) -> None:
        peers = [
            {
                "peer_id": k.claim.peer_id,
                "name": k.claim.name,
                "seq": k.seq,
                "mailboxes": sorted(k.claim.mailboxes),
            }
            for k in sorted(self._known.values(), key=lambda k: k.claim.peer_id)
        ]
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write_text(self.path, json.dumps({"peers": peers}, indent=1), mode=0o600)

    def to_json(self) -> dict[str, Any]:
        return {
            "mailboxes": sorted(self.own.mailboxes),
            "peers": {k.claim.name: sorted(k.claim.mailboxes) for k in self._known.values()},
            "conflicts": {a: list(c) for a, c in self.conflicts().items()},
        }


async def refresh(book: HomeBook, peers: Iterable[MailPeer], fetch: Fetch, now: float) -> bool:
    """Learn the claims of peers whose record changed since last asked; True when any
    claim changed. A peer that cannot be asked keeps its last known claim, and is asked
    again for the same record only after ASK_AGAIN seconds (a queue pass never waits
    on it each time)."""
    changed = False
    for peer in peers:
        if book.seq_of(peer.peer_id) == peer.seq:
            continue
        if not peer.mail:
            mailboxes: tuple[str, ...] = ()  # it runs no post office (any more)
        else:
            seq, asked = book.unanswered.get(peer.peer_id, (None, 0.0))
            if seq == peer.seq and now - asked < ASK_AGAIN:
                continue
            try:
                mailboxes = await fetch(peer.peer_id)
            except PeerworkError as exc:
                book.unanswered[peer.peer_id] = (peer.seq, now)
                log.info("mail: cannot ask %s for its mailboxes: %s", peer.name, exc)
                continue
            book.unanswered.pop(peer.peer_id, None)
        changed |= book.learn(peer.peer_id, peer.name, peer.seq, mailboxes)
    return changed
