"""Workgroup accounts: names and NT hashes, in one 0600 file, replicated by a signed log.

NTLM needs the NT hash (MD4 of the UTF-16LE password), which is as good as the
password itself: it lives only in ``accounts.toml`` with mode 0600, is never
logged, and never appears in ``repr``. Everything that reads or writes accounts
goes through :class:`AccountStore`; each change is an entry of the account
change log (:mod:`peerwork.account_log`), signed by this PC's peer key, which
the account sync service sends to the other members.
"""

from __future__ import annotations

import builtins
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from peerwork.account_file import parse_accounts, render_accounts
from peerwork.account_log import (
    RESERVED_ACCOUNT_NAMES,
    AccountChange,
    AccountLog,
    Member,
    Merge,
    Outcome,
    Signer,
    Stamp,
    validate_account_name,
)
from peerwork.atomic import atomic_write_text
from peerwork.errors import AlreadyExists, ConfigError, InvalidInput, NotFound

__all__ = [
    "RESERVED_ACCOUNT_NAMES",
    "Account",
    "AccountStore",
    "nt_hash",
    "validate_account_name",
    "validate_password",
]

log = logging.getLogger("peerwork.accounts")
MIN_PASSWORD = 1
ChangeListener = Callable[[AccountChange], None]


def nt_hash(password: str) -> bytes:
    """MD4 over UTF-16LE, as NTLM defines it."""
    from Cryptodome.Hash import MD4  # imported on use: it costs every CLI start ~50 ms

    return bytes(MD4.new(password.encode("utf-16-le")).digest())  # noqa: S303 (NTLM is MD4)


def validate_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput("the password cannot be empty")
    if "\n" in password or "\r" in password:
        raise InvalidInput("the password cannot contain a line break")
    return password


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    nt_hash: bytes = field(repr=False)
    created: float = 0.0
    changed: float = 0.0
    version: int = 0  # the change log's Lamport version (0: not signed, a local-only store)
    origin: str = ""  # peer id of the PC that made the last change

    @classmethod
    def of(cls, entry: AccountChange) -> Account:
        assert entry.nt_hash is not None
        return cls(
            entry.name,
            entry.nt_hash,
            entry.created_ms / 1000,
            entry.changed_ms / 1000,
            entry.version,
            entry.origin,
        )

    def public(self) -> dict[str, object]:
        """What may be shown or sent over the control API: never the hash."""
        return {
            "name": self.name,
            "created": self.created,
            "changed": self.changed,
            "version": self.version,
            "origin": self.origin,
        }


class AccountStore:
    """Load/modify/save ``accounts.toml``. Each mutation re-reads the file first.

    With ``identity`` (the peer key: the agent, and the CLI when no agent runs)
    every change is a signed change-log entry and the file is merged into what
    is held, never replacing it: a file broken or lost is rewritten from memory
    (the broken one kept beside it), and peers send back the rest. Without an
    identity (tools, tests) changes are unsigned and stay on this PC.

    Readers that poll (the SMB server) call :meth:`reload_if_changed`, which
    costs one ``stat`` when nothing changed.
    """

    def __init__(
        self,
        path: Path,
        identity: Signer | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.identity = identity
        self.clock = clock
        self._log = AccountLog()
        self._stamp: tuple[int, int] | None = None
        self._unreadable = ""  # why the file on disk is not TOML; "" when it is
        self._listeners: list[ChangeListener] = []
        # Why (part of) the file on disk could not be read; "" when it could.
        self.problem = ""
        self.reload()

    # -- reading -------------------------------------------------------------------------
    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _report(self, problem: str) -> None:
        if problem and problem != self.problem:
            log.error("%s", problem)
        self.problem = problem

    def reload(self) -> None:
        """Read the file: malformed entries are skipped and reported in ``problem``; a
        file that is not TOML keeps what is held. Legacy entries (no version) are
        adopted as changes made here, and the file is rewritten when it holds less
        than memory (lost, broken, or from before replication)."""
        stamp = self._file_stamp()
        if stamp is None:
            self._stamp = None
            self._unreadable = ""
            if len(self._log) and self.identity is not None:
                self._save()  # deleted under us: what we hold is the accounts
            return
        try:
            parsed = parse_accounts(self.path.read_text(encoding="utf-8"), str(self.path))
        except (ConfigError, UnicodeDecodeError) as exc:
            why = exc.message if isinstance(exc, ConfigError) else f"{self.path}: not UTF-8"
            self._unreadable = why
            self._stamp = stamp
            self._report(f"{why}; keeping the accounts loaded before")
            return
        self._unreadable = ""
        made: list[AccountChange] = []
        if self.identity is None:
            # A local-only store: the file is the truth, as before replication.
            self._log = AccountLog(parsed.entries)
        else:
            for entry in parsed.entries:
                self._log.adopt(entry)
        now_ms = self._now_ms()
        for old in parsed.legacy:
            current = self._log.get(old.name)
            if current is not None and current.nt_hash == old.nt_hash:
                continue
            if self.identity is None:
                self._log.replace_unsigned(
                    old.name,
                    AccountChange(
                        old.name, old.nt_hash, 0, "", b"", old.created_ms, old.changed_ms, None
                    ),
                )
            else:
                made.append(
                    self._log.local(
                        self.identity, old.name, old.nt_hash, now_ms, created_ms=old.created_ms
                    )
                )
        self._stamp = stamp
        self._report("; ".join(parsed.problems))
        if self.identity is not None and (made or set(parsed.entries) != set(self._log.entries())):
            if parsed.problems:
                self._set_aside("had malformed entries")
            self._save()
        for entry in made:
            log.info("account %s adopted from accounts.toml as a change made here", entry.name)
            self._notify(entry)

    def reload_if_changed(self) -> None:
        """For readers that poll: a file broken by a hand edit keeps the accounts held
        (logons go on working) and is reported once in ``problem`` and the log."""
        if self._file_stamp() != self._stamp:
            self.reload()

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- writing -------------------------------------------------------------------------
    def _set_aside(self, why: str) -> None:
        aside = self.path.with_name(f"{self.path.name}.broken-{self._now_ms()}")
        try:
            self.path.replace(aside)
        except FileNotFoundError:
            return
        self.problem = (
            f"{self.path.name} {why}; kept as {aside.name} and rewritten from the "
            "accounts held here (peers send back anything else)"
        )
        log.error("%s", self.problem)

    def _save(self) -> None:
        if self._unreadable:
            self._set_aside(f"was unreadable ({self._unreadable})")
            self._unreadable = ""
        atomic_write_text(self.path, render_accounts(self._log.entries()), mode=0o600)
        self._stamp = self._file_stamp()

    def subscribe(self, listener: ChangeListener) -> None:
        """Call ``listener`` with every change made on this PC (not merged ones)."""
        self._listeners.append(listener)

    def _notify(self, entry: AccountChange) -> None:
        for listener in self._listeners:
            listener(entry)

    def _change(self, name: str, nt: bytes | None, now: float | None) -> AccountChange:
        now_ms = self._now_ms() if now is None else int(now * 1000)
        if self.identity is not None:
            entry = self._log.local(self.identity, name, nt, now_ms)
        else:
            current = self._log.get(name)
            created = current.created_ms if current is not None else now_ms
            entry = AccountChange(name, nt, 0, "", b"", created, now_ms, None)
            self._log.replace_unsigned(name, None if nt is None else entry)
        self._save()
        self._notify(entry)
        return entry

    # -- accounts ------------------------------------------------------------------------
    def names(self) -> list[str]:
        self.reload_if_changed()
        return [e.name for e in self._log.live()]

    def get(self, name: str) -> Account | None:
        self.reload_if_changed()
        entry = self._log.get(name.lower())
        return None if entry is None or entry.removed else Account.of(entry)

    def nt_hash_of(self, name: str) -> bytes | None:
        acc = self.get(name)
        return acc.nt_hash if acc else None

    def list(self) -> list[Account]:
        self.reload_if_changed()
        return [Account.of(e) for e in self._log.live()]

    def add(self, name: str, password: str, now: float | None = None) -> Account:
        name = validate_account_name(name)
        validate_password(password)
        self.reload()
        if self.get(name) is not None:
            raise AlreadyExists(
                f"account {name!r} already exists; use 'peerwork user passwd {name}'"
            )
        return Account.of(self._change(name, nt_hash(password), now))

    def set_password(self, name: str, password: str, now: float | None = None) -> Account:
        name = name.strip().lower()
        validate_password(password)
        self.reload()
        if self.get(name) is None:
            raise NotFound(f"no account {name!r}; add it with 'peerwork user add {name}'")
        return Account.of(self._change(name, nt_hash(password), now))

    def remove(self, name: str, now: float | None = None) -> None:
        name = name.strip().lower()
        self.reload()
        if self.get(name) is None:
            raise NotFound(f"no account {name!r}")
        self._change(name, None, now)

    # -- replication ---------------------------------------------------------------------
    def digest(self) -> dict[str, Stamp]:
        self.reload_if_changed()
        return self._log.digest()

    def newer_than(self, digest: Mapping[str, Stamp]) -> builtins.list[AccountChange]:
        self.reload_if_changed()
        return self._log.newer_than(digest)

    def wanted(self, digest: Mapping[str, Stamp]) -> builtins.list[str]:
        self.reload_if_changed()
        return self._log.wanted(digest)

    def contested(self, digest: Mapping[str, Stamp]) -> builtins.list[str]:
        self.reload_if_changed()
        return self._log.contested(digest)

    def entries(self, names: Iterable[str]) -> builtins.list[AccountChange]:
        """Our signed entries for ``names`` (those we hold)."""
        found = (self._log.get(n) for n in names)
        return [e for e in found if e is not None and e.signed]

    def origins(self) -> set[str]:
        """Peer ids whose signed entries we hold."""
        return {e.origin for e in self._log.entries() if e.signed}

    def merge(self, entries: Iterable[AccountChange], member: Member) -> builtins.list[Merge]:
        """Entries received from a peer, merged by the change log's rule; saved once if
        any was applied. Logons see the result at once (same object, no re-read)."""
        self.reload_if_changed()
        merges = [self._log.apply(entry, member) for entry in entries]
        if any(m.outcome is Outcome.APPLIED for m in merges):
            self._save()
        return merges
