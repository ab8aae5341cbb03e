"""``accounts-sync`` v1 and ``accounts-push`` v1: account replication over the channel.

``accounts-sync`` is anti-entropy: the caller sends its digest (per account
name, the ``(version, origin)`` it holds); the callee answers with the entries
the caller lacks or has older, and the names where the caller is newer (which
the caller then pushes). ``accounts-push`` carries signed change-log entries
(a local change at once, or what a sync found missing). Entries carry NT
hashes: these kinds exist only on the mutual-TLS channel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from peerwork.account_log import NAME_RE, AccountChange, ChangeError, Stamp

from .channel_body import BodyError, RequestKind, integer, text

# One frame is at most 1 MiB; an entry's JSON is ~450 bytes, a digest line ~80.
MAX_ENTRIES = 1000
MAX_DIGEST = 4096
MAX_REASONS = 50


def _entries(body: Mapping[str, Any], key: str) -> tuple[AccountChange, ...]:
    raw = body.get(key)
    if not isinstance(raw, list) or len(raw) > MAX_ENTRIES:
        raise BodyError(f"field {key!r} must be a list of at most {MAX_ENTRIES} entries")
    try:
        return tuple(AccountChange.from_json(item) for item in raw)
    except ChangeError as exc:
        raise BodyError(f"field {key!r}: {exc.message}") from None


def _names(body: Mapping[str, Any], key: str, limit: int) -> tuple[str, ...]:
    raw = body.get(key)
    if not isinstance(raw, list) or len(raw) > limit:
        raise BodyError(f"field {key!r} must be a list of at most {limit} names")
    if not all(isinstance(n, str) and NAME_RE.match(n) for n in raw):
        raise BodyError(f"field {key!r} must hold account names")
    return tuple(raw)


@dataclass(frozen=True, slots=True)
class SyncRequest:
    digest: Mapping[str, Stamp]

    def to_body(self) -> dict[str, Any]:
        return {"digest": {n: [v, o] for n, (v, o) in sorted(self.digest.items())}}

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> SyncRequest:
        raw = body.get("digest")
        if not isinstance(raw, dict) or len(raw) > MAX_DIGEST:
            raise BodyError(f"field 'digest' must be an object of at most {MAX_DIGEST} names")
        digest: dict[str, Stamp] = {}
        for name, stamp in raw.items():
            if (
                not NAME_RE.match(name)
                or not isinstance(stamp, list)
                or len(stamp) != 2
                or isinstance(stamp[0], bool)
                or not isinstance(stamp[0], int)
                or not 0 <= stamp[0] <= 2**53
                or not isinstance(stamp[1], str)
                or len(stamp[1]) > 64
            ):
                raise BodyError(f"digest entry {name[:40]!r} must be [version, origin]")
            digest[name] = (stamp[0], stamp[1])
        return cls(digest)


@dataclass(frozen=True, slots=True)
class SyncReply:
    entries: tuple[AccountChange, ...]  # what the caller lacks (up to MAX_ENTRIES)
    wanted: tuple[str, ...]  # names where the caller holds newer entries
    more: bool = False  # the callee held back entries: sync again

    def to_body(self) -> dict[str, Any]:
        return {
            "entries": [e.to_json() for e in self.entries],
            "wanted": list(self.wanted),
            "more": self.more,
        }

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> SyncReply:
        more = body.get("more", False)
        if not isinstance(more, bool):
            raise BodyError("field 'more' must be a boolean")
        return cls(_entries(body, "entries"), _names(body, "wanted", MAX_DIGEST), more)


@dataclass(frozen=True, slots=True)
class PushRequest:
    entries: tuple[AccountChange, ...]

    def to_body(self) -> dict[str, Any]:
        return {"entries": [e.to_json() for e in self.entries]}

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> PushRequest:
        return cls(_entries(body, "entries"))


@dataclass(frozen=True, slots=True)
class PushReply:
    applied: int
    refused: tuple[str, ...]  # "name: why" for each entry refused (at most MAX_REASONS)

    def to_body(self) -> dict[str, Any]:
        return {"applied": self.applied, "refused": list(self.refused[:MAX_REASONS])}

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> PushReply:
        raw = body.get("refused")
        if not isinstance(raw, list) or len(raw) > MAX_REASONS:
            raise BodyError(f"field 'refused' must be a list of at most {MAX_REASONS} reasons")
        reasons = tuple(text({"r": r}, "r", max_len=300) for r in raw)
        return cls(integer(body, "applied", low=0, high=MAX_ENTRIES), reasons)


ACCOUNTS_SYNC: RequestKind[SyncRequest, SyncReply] = RequestKind(
    "accounts-sync", 1, SyncRequest.parse, SyncReply.parse
)
ACCOUNTS_PUSH: RequestKind[PushRequest, PushReply] = RequestKind(
    "accounts-push", 1, PushRequest.parse, PushReply.parse
)
