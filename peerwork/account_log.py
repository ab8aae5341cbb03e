"""The accounts' change log: signed entries and the one rule that merges them.

Every account change (add, password change, delete) is an
:class:`AccountChange`: the name, the NT hash (None for a delete: a
tombstone), a Lamport ``version``, the ``origin`` peer id with its public key,
times, the stamp of the entry it replaced there (``prev``), and the origin's
Ed25519 signature over all of it. The state is, per name, the entry with the
highest ``(version, origin)``: a pure max, so every PC ends with the same
accounts whatever order entries arrive in, and a replayed or stale entry
changes nothing. Pure: no files, no sockets, no clocks (times are passed in).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from peerwork.errors import InvalidInput, PeerworkError
from peerwork.identity import peer_id_of, verify_signature

# What a signature covers starts with this, so it can never pass for another record's.
DOMAIN = b"peerwork account change v1\n"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
RESERVED_ACCOUNT_NAMES = frozenset({"everyone", "guest", "anonymous", "administrator"})
_PEER_ID = re.compile(r"^[a-z2-7]{32}$")
MAX_VERSION = 2**53  # JSON-safe; a Lamport counter never gets near it
MAX_TIME_MS = 2**53
NT_HASH_LEN = 16
KEY_LEN = 32
SIG_LEN = 64

Stamp = tuple[int, str]  # (version, origin): the order of entries for one name
Member = Callable[[str], bool]  # is this origin peer id a member of the workgroup?


class ChangeError(PeerworkError):
    """An account change that is malformed, unsigned, forged or from a non-member."""

    code = "account-change"


def validate_account_name(name: str) -> str:
    low = name.strip().lower()
    if not NAME_RE.match(low):
        raise InvalidInput(
            f"account name {name!r} must be 1-32 ASCII letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if low in RESERVED_ACCOUNT_NAMES:
        raise InvalidInput(f"account name {name!r} is reserved")
    return low


class Signer(Protocol):
    """What signs local changes: the peer identity (``peerwork.identity.Identity``)."""

    @property
    def public_raw(self) -> bytes: ...

    def sign(self, data: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class AccountChange:
    """One change of one account. Unsigned entries (``signature == b""``) exist only
    in a store without a peer identity and are never sent to peers."""

    name: str
    nt_hash: bytes | None = field(repr=False)  # None: the account was deleted
    version: int
    origin: str  # peer id of the PC where the change was made ("" if unsigned)
    key: bytes = field(repr=False)  # the origin's raw Ed25519 public key
    created_ms: int
    changed_ms: int
    prev: Stamp | None  # what the origin replaced; None for a fresh add
    signature: bytes = field(default=b"", repr=False)

    @property
    def stamp(self) -> Stamp:
        return (self.version, self.origin)

    @property
    def removed(self) -> bool:
        return self.nt_hash is None

    @property
    def signed(self) -> bool:
        return bool(self.signature)

    def signed_bytes(self) -> bytes:
        body = self._fields()
        return DOMAIN + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def _fields(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "nt_hash": None if self.nt_hash is None else self.nt_hash.hex(),
            "version": self.version,
            "origin": self.origin,
            "key": self.key.hex(),
            "created_ms": self.created_ms,
            "changed_ms": self.changed_ms,
            "prev": None if self.prev is None else [self.prev[0], self.prev[1]],
        }

    def to_json(self) -> dict[str, Any]:
        """The wire and file form (the NT hash included: send it only over the channel)."""
        return {**self._fields(), "sig": self.signature.hex()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AccountChange:
        """A signed change from its JSON form; ChangeError naming the field if malformed.
        The signature is not checked here: :meth:`problem` does that."""
        if not isinstance(data, Mapping):
            raise ChangeError("an account change must be an object")
        name = _text(data, "name", 32)
        if not NAME_RE.match(name) or name in RESERVED_ACCOUNT_NAMES:
            raise ChangeError(f"account change for a bad name {name!r}")
        raw_hash = data.get("nt_hash")
        nt = None if raw_hash is None else _hex(data, "nt_hash", NT_HASH_LEN)
        origin = _text(data, "origin", 32)
        if not _PEER_ID.match(origin):
            raise ChangeError("field 'origin' must be a peer id")
        prev_raw = data.get("prev")
        prev: Stamp | None = None
        if prev_raw is not None:
            if (
                not isinstance(prev_raw, list)
                or len(prev_raw) != 2
                or not _is_int(prev_raw[0], 0, MAX_VERSION)
                or not isinstance(prev_raw[1], str)
                or not (prev_raw[1] == "" or _PEER_ID.match(prev_raw[1]))
            ):
                raise ChangeError("field 'prev' must be [version, origin]")
            prev = (prev_raw[0], prev_raw[1])
        return cls(
            name=name,
            nt_hash=nt,
            version=_int(data, "version", 1, MAX_VERSION),
            origin=origin,
            key=_hex(data, "key", KEY_LEN),
            created_ms=_int(data, "created_ms", 0, MAX_TIME_MS),
            changed_ms=_int(data, "changed_ms", 0, MAX_TIME_MS),
            prev=prev,
            signature=_hex(data, "sig", SIG_LEN),
        )

    def problem(self) -> str:
        """Why this entry cannot be trusted; "" when its origin really signed it."""
        if not self.signed:
            return "unsigned"
        if peer_id_of(self.key) != self.origin:
            return "its key is not the key of its origin peer id"
        if not verify_signature(self.key, self.signature, self.signed_bytes()):
            return "its signature does not verify"
        return ""


def _is_int(value: object, low: int, high: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and low <= value <= high


def _int(data: Mapping[str, Any], key: str, low: int, high: int) -> int:
    value = data.get(key)
    if not _is_int(value, low, high):
        raise ChangeError(f"field {key!r} must be an integer in {low}..{high}")
    assert isinstance(value, int)
    return value


def _text(data: Mapping[str, Any], key: str, max_len: int) -> str:
    value = data.get(key)
    if not isinstance(value, str) or len(value) > max_len:
        raise ChangeError(f"field {key!r} must be a string of at most {max_len} characters")
    return value


def _hex(data: Mapping[str, Any], key: str, length: int) -> bytes:
    value = _text(data, key, 2 * length)
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise ChangeError(f"field {key!r} must be hex") from None
    if len(raw) != length:
        raise ChangeError(f"field {key!r} must be {length} bytes")
    return raw


def sign_change(
    signer: Signer,
    *,
    name: str,
    nt_hash: bytes | None,
    version: int,
    created_ms: int,
    changed_ms: int,
    prev: Stamp | None,
) -> AccountChange:
    unsigned = AccountChange(
        name=name,
        nt_hash=nt_hash,
        version=version,
        origin=peer_id_of(signer.public_raw),
        key=signer.public_raw,
        created_ms=created_ms,
        changed_ms=changed_ms,
        prev=prev,
    )
    return dataclasses.replace(unsigned, signature=signer.sign(unsigned.signed_bytes()))


class Outcome(Enum):
    APPLIED = "applied"  # the entry is now the state of its name
    STALE = "stale"  # already known, or older than what we have: nothing changed
    REFUSED = "refused"  # malformed, forged or from a non-member: nothing changed


@dataclass(frozen=True, slots=True)
class Conflict:
    """Two PCs changed one account without seeing each other's change: ``kept`` won."""

    name: str
    kept: Stamp
    lost: Stamp
    kind: str  # "password" (both set, different hashes) or "deleted" (one side deleted)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "kept": {"version": self.kept[0], "origin": self.kept[1]},
            "lost": {"version": self.lost[0], "origin": self.lost[1]},
        }


@dataclass(frozen=True, slots=True)
class Merge:
    outcome: Outcome
    change: AccountChange
    reason: str = ""
    conflict: Conflict | None = None
    replaced: AccountChange | None = None  # what an applied entry replaced


def _concurrent(a: AccountChange, b: AccountChange) -> bool:
    """Neither entry was made knowing the other (as far as ``prev`` tells)."""
    a_prev = a.prev or (0, "")
    b_prev = b.prev or (0, "")
    return a_prev < b.stamp and b_prev < a.stamp


def _conflict(incoming: AccountChange, current: AccountChange, kept: Stamp) -> Conflict | None:
    if incoming.stamp == current.stamp or not _concurrent(incoming, current):
        return None
    if incoming.nt_hash == current.nt_hash:
        return None  # the same outcome on both sides: nothing to report
    lost = current.stamp if kept == incoming.stamp else incoming.stamp
    kind = "deleted" if incoming.removed or current.removed else "password"
    return Conflict(incoming.name, kept, lost, kind)


class AccountLog:
    """Per name, the winning entry (tombstones included, kept for ever: they are
    what stops a deleted account coming back from a PC that was off)."""

    def __init__(self, entries: Iterable[AccountChange] = ()) -> None:
        self._entries: dict[str, AccountChange] = {}
        for entry in entries:
            self.adopt(entry)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, name: str) -> AccountChange | None:
        return self._entries.get(name)

    def entries(self) -> list[AccountChange]:
        return [self._entries[n] for n in sorted(self._entries)]

    def live(self) -> list[AccountChange]:
        return [e for e in self.entries() if not e.removed]

    @property
    def clock(self) -> int:
        """The Lamport clock: the highest version seen; a local change gets one more."""
        return max((e.version for e in self._entries.values()), default=0)

    def digest(self) -> dict[str, Stamp]:
        """What we hold, for anti-entropy: per name the winning stamp (signed entries only)."""
        return {n: e.stamp for n, e in self._entries.items() if e.signed}

    def newer_than(self, digest: Mapping[str, Stamp]) -> list[AccountChange]:
        """Our signed entries that a peer holding ``digest`` lacks or has older."""
        return [
            e
            for n, e in sorted(self._entries.items())
            if e.signed and (n not in digest or digest[n] < e.stamp)
        ]

    def wanted(self, digest: Mapping[str, Stamp]) -> list[str]:
        """Names where a peer holding ``digest`` has a newer entry than ours."""
        return sorted(
            n
            for n, stamp in digest.items()
            if (mine := self._entries.get(n)) is None or mine.stamp < stamp
        )

    def contested(self, digest: Mapping[str, Stamp]) -> list[str]:
        """Names where a peer holding ``digest`` has an older entry that is not the one
        ours replaced: it may have been made apart from ours. Asking for it lets this
        side see (and report) the clash too, not only the side whose change lost."""
        return sorted(
            n
            for n, stamp in digest.items()
            if (mine := self._entries.get(n)) is not None
            and mine.signed
            and stamp < mine.stamp
            and stamp != mine.prev
        )

    def adopt(self, entry: AccountChange) -> bool:
        """Take a trusted local entry (from our own 0600 file) by the same max rule."""
        current = self._entries.get(entry.name)
        if current is not None and current.stamp >= entry.stamp:
            return False
        self._entries[entry.name] = entry
        return True

    def replace_unsigned(self, name: str, entry: AccountChange | None) -> None:
        """A store without a peer identity: its own (unsigned) change simply wins
        (None: the account is gone; such a store keeps no tombstones)."""
        if entry is None:
            self._entries.pop(name, None)
        else:
            self._entries[name] = entry

    def apply(self, entry: AccountChange, member: Member) -> Merge:
        """Merge an entry received from a peer: refused unless its origin signed it and
        is a member; applied only if it beats what we hold."""
        if problem := entry.problem():
            return Merge(Outcome.REFUSED, entry, problem)
        if not member(entry.origin):
            return Merge(Outcome.REFUSED, entry, f"origin {entry.origin} is not a member")
        current = self._entries.get(entry.name)
        if current is not None and current.stamp >= entry.stamp:
            kept = current.stamp
            outcome = Outcome.STALE
        else:
            self._entries[entry.name] = entry
            kept = entry.stamp
            outcome = Outcome.APPLIED
        conflict = _conflict(entry, current, kept) if current is not None else None
        replaced = current if outcome is Outcome.APPLIED else None
        return Merge(outcome, entry, "", conflict, replaced)

    def local(
        self,
        signer: Signer,
        name: str,
        nt_hash: bytes | None,
        now_ms: int,
        *,
        created_ms: int | None = None,
    ) -> AccountChange:
        """Make, sign and hold a change made on this PC (it beats everything seen).
        ``created_ms``: when a new account was created, if not now (a migrated one)."""
        current = self._entries.get(name)
        if current is None or current.removed:
            created = now_ms if created_ms is None else created_ms
        else:
            created = current.created_ms
        entry = sign_change(
            signer,
            name=name,
            nt_hash=nt_hash,
            version=self.clock + 1,
            created_ms=created,
            changed_ms=now_ms,
            prev=current.stamp if current is not None else None,
        )
        self._entries[name] = entry
        return entry
