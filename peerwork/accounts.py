"""Workgroup accounts: names and NT hashes, in one 0600 file.

NTLM needs the NT hash (MD4 of the UTF-16LE password), which is as good as the
password itself: it lives only in ``accounts.toml`` with mode 0600, is never
logged, and never appears in ``repr``. Everything that reads or writes accounts
goes through :class:`AccountStore` so replication between peers can be added
in one place later.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import tomlkit

from peerwork.atomic import atomic_write_text
from peerwork.errors import AlreadyExists, ConfigError, InvalidInput, NotFound

log = logging.getLogger("peerwork.accounts")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
RESERVED_ACCOUNT_NAMES = frozenset({"everyone", "guest", "anonymous", "administrator"})
MIN_PASSWORD = 1


def nt_hash(password: str) -> bytes:
    """MD4 over UTF-16LE, as NTLM defines it."""
    from Cryptodome.Hash import MD4  # imported on use: it costs every CLI start ~50 ms

    return bytes(MD4.new(password.encode("utf-16-le")).digest())  # noqa: S303 (NTLM is MD4)


def validate_account_name(name: str) -> str:
    low = name.strip().lower()
    if not _NAME.match(low):
        raise InvalidInput(
            f"account name {name!r} must be 1-32 ASCII letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if low in RESERVED_ACCOUNT_NAMES:
        raise InvalidInput(f"account name {name!r} is reserved")
    return low


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

    def public(self) -> dict[str, object]:
        """What may be shown or sent over the control API: never the hash."""
        return {"name": self.name, "created": self.created, "changed": self.changed}


class AccountStore:
    """Load/modify/save ``accounts.toml``. Each mutation re-reads the file first.

    Readers that poll (the SMB server) call :meth:`reload_if_changed`, which
    costs one ``stat`` when nothing changed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._accounts: dict[str, Account] = {}
        self._stamp: tuple[int, int] | None = None
        # Why the file on disk could not be read; "" when it could.
        self.problem = ""
        self.reload()

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def reload(self) -> None:
        stamp = self._file_stamp()
        if stamp is None:
            self._accounts = {}
            self._stamp = None
            return
        try:
            doc = tomlkit.parse(self.path.read_text(encoding="utf-8"))
        except tomlkit.exceptions.ParseError as exc:
            raise ConfigError(f"{self.path}: {exc}") from None
        accounts: dict[str, Account] = {}
        for name, entry in doc.get("account", {}).items():
            try:
                accounts[name] = Account(
                    name=name,
                    nt_hash=bytes.fromhex(str(entry["nt_hash"])),
                    created=float(entry.get("created", 0.0)),
                    changed=float(entry.get("changed", 0.0)),
                )
            except (KeyError, ValueError, TypeError) as exc:
                raise ConfigError(f"{self.path}: account {name!r} is malformed ({exc})") from None
        self._accounts = accounts
        self._stamp = stamp

    def reload_if_changed(self) -> None:
        """For readers that poll: a file broken by a hand edit keeps the last good accounts
        (logons go on working) and is reported once in ``problem`` and the log."""
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return
        try:
            self.reload()
        except ConfigError as exc:
            if self.problem != exc.message:
                log.error("%s; keeping the accounts loaded before", exc.message)
            self.problem = exc.message
            self._stamp = stamp
        else:
            self.problem = ""

    def _save(self) -> None:
        doc = tomlkit.document()
        doc.add(tomlkit.comment("peerwork accounts: NT hashes are password-equivalent; keep 0600"))
        table = tomlkit.table()
        for name in sorted(self._accounts):
            acc = self._accounts[name]
            entry = tomlkit.table()
            entry["nt_hash"] = acc.nt_hash.hex()
            entry["created"] = acc.created
            entry["changed"] = acc.changed
            table[name] = entry
        doc["account"] = table
        atomic_write_text(self.path, tomlkit.dumps(doc), mode=0o600)
        self._stamp = self._file_stamp()

    def names(self) -> list[str]:
        self.reload_if_changed()
        return sorted(self._accounts)

    def get(self, name: str) -> Account | None:
        self.reload_if_changed()
        return self._accounts.get(name.lower())

    def nt_hash_of(self, name: str) -> bytes | None:
        acc = self.get(name)
        return acc.nt_hash if acc else None

    def list(self) -> list[Account]:
        self.reload_if_changed()
        return [self._accounts[n] for n in sorted(self._accounts)]

    def add(self, name: str, password: str, now: float | None = None) -> Account:
        name = validate_account_name(name)
        validate_password(password)
        self.reload()
        if name in self._accounts:
            raise AlreadyExists(
                f"account {name!r} already exists; use 'peerwork user passwd {name}'"
            )
        stamp = time.time() if now is None else now
        acc = Account(name, nt_hash(password), stamp, stamp)
        self._accounts[name] = acc
        self._save()
        return acc

    def set_password(self, name: str, password: str, now: float | None = None) -> Account:
        name = name.strip().lower()
        validate_password(password)
        self.reload()
        old = self._accounts.get(name)
        if old is None:
            raise NotFound(f"no account {name!r}; add it with 'peerwork user add {name}'")
        acc = Account(name, nt_hash(password), old.created, time.time() if now is None else now)
        self._accounts[name] = acc
        self._save()
        return acc

    def remove(self, name: str) -> None:
        name = name.strip().lower()
        self.reload()
        if name not in self._accounts:
            raise NotFound(f"no account {name!r}")
        del self._accounts[name]
        self._save()
