"""Where each account's mailbox lives: a pure decision over what the PCs claim.

A PC claims the mailboxes listed in its ``[mail] mailboxes``; every PC learns
the others' claims (:mod:`.home_book`). The rules, the same on every PC so all
of them agree once they know the same claims:

- nobody claims the account: its home is this PC (mail is delivered locally,
  as on a single post office);
- one PC claims it: that PC;
- several claim it: the one with the lowest peer id, and the others are named
  as ``contenders`` so status and events can warn about the conflict.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass


class HomeKind(enum.Enum):
    LOCAL = "local"
    REMOTE = "remote"


@dataclass(frozen=True, slots=True)
class Home:
    """``account``'s home: this PC, or the peer ``peer_id`` (called ``name``).
    ``contenders``: names of the other PCs that claim it too (a conflict)."""

    kind: HomeKind
    peer_id: str = ""
    name: str = ""
    contenders: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Claim:
    """The mailboxes one PC says it is home for."""

    peer_id: str
    name: str
    mailboxes: frozenset[str]


def home_of(account: str, own: Claim, others: Iterable[Claim]) -> Home:
    """Where ``account``'s mail goes, seen from the PC that claims ``own``."""
    claimants = sorted(
        (c for c in (own, *others) if account in c.mailboxes), key=lambda c: c.peer_id
    )
    if not claimants:
        return Home(HomeKind.LOCAL, own.peer_id, own.name)
    chosen, rest = claimants[0], claimants[1:]
    contenders = tuple(c.name for c in rest)
    kind = HomeKind.LOCAL if chosen.peer_id == own.peer_id else HomeKind.REMOTE
    return Home(kind, chosen.peer_id, chosen.name, contenders)


def conflicts(claims: Iterable[Claim]) -> dict[str, tuple[str, ...]]:
    """Every mailbox claimed by more than one PC: the claimants' names, chosen one first."""
    by_account: dict[str, list[Claim]] = {}
    for claim in claims:
        for account in claim.mailboxes:
            by_account.setdefault(account, []).append(claim)
    return {
        account: tuple(c.name for c in sorted(found, key=lambda c: c.peer_id))
        for account, found in sorted(by_account.items())
        if len(found) > 1
    }


def digest(mailboxes: Iterable[str]) -> str:
    """A short fingerprint of a mailbox list, for the signed peer record: a change of
    the list changes the record (and its sequence number), so peers fetch it again."""
    text = "\n".join(sorted(set(mailboxes)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
