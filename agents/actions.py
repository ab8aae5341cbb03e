"""What the control API can change: shares and accounts.

One place for each change, so the control API, the foreground ``peerwork
share`` mode and (later) the TUI all behave the same: validate, persist
atomically, update the live registry, tell discovery, emit an event.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path

from peerwork.accounts import Account, AccountStore
from peerwork.config import ConfigFile
from peerwork.errors import AlreadyExists, InvalidInput, NotFound
from peerwork.shares import (
    SPECIAL_GRANTEES,
    Access,
    Share,
    folder_problem,
    new_share,
    overlaps_home,
)

from .files import ShareRegistry
from .service import EventSink

log = logging.getLogger("peerwork.actions")


class Actions:
    def __init__(
        self,
        *,
        config: ConfigFile,
        accounts: AccountStore,
        registry: ShareRegistry,
        emit: EventSink,
        changed: Callable[[], Awaitable[None]],
        home: Path,
        persist: bool = True,
    ) -> None:
        self.config = config
        self.home = home
        self.accounts = accounts
        self.registry = registry
        self.emit = emit
        self._changed = changed
        # Foreground 'peerwork share' serves a share without writing it to peerwork.toml.
        self.persist = persist

    # shares -----------------------------------------------------------------
    def shares(self) -> list[Share]:
        """Served shares, plus configured ones left out (their folder_problem says why)."""
        served = self.registry.all()
        if not self.persist:
            return served
        keys = {s.key for s in served}
        unserved = [s for s in self.config.config.shares if s.key not in keys]
        return sorted([*served, *unserved], key=lambda s: s.key)

    def share(self, name: str) -> Share:
        share = self.registry.get(name)
        if share is None:
            raise NotFound(f"no share named {name!r}; 'peerwork shares' lists them")
        return share

    async def add_share(
        self,
        path: str,
        *,
        name: str | None,
        comment: str,
        grants: Mapping[str, Access],
        encrypt: bool = False,
    ) -> Share:
        if not Path(path).is_absolute():
            # The agent's working folder means nothing to the caller: clients send absolute paths.
            raise InvalidInput(f"share path {path!r} must be absolute")
        share = new_share(
            Path(path),
            name=name,
            comment=comment,
            grants=grants,
            owner=self.config.config.peer.owner,
            home=self.home,
            encrypt=encrypt,
        )
        if self.registry.get(share.name):
            raise AlreadyExists(f"a share named {share.name!r} already exists; pick another --name")
        if self.persist:
            self.config.add_share(share)
        self.registry.put(share)
        log.info("sharing %s as %s (%s)", share.path, share.name, _grants_text(share))
        self.emit("share-added", share.to_json())
        await self._changed()
        return share

    async def update_share(
        self,
        name: str,
        *,
        grants: Mapping[str, Access],
        comment: str | None,
        revoke: Iterable[str] = (),
        encrypt: bool | None = None,
    ) -> Share:
        old = self.share(name)
        new = old.with_grants(grants, revoke)
        if comment is not None:
            new = dataclasses.replace(new, comment=comment)
        if encrypt is not None:
            new = dataclasses.replace(new, encrypt=encrypt)
        if self.persist and self.config.config.share(name):
            self.config.update_share(new)
        self.registry.put(new)
        log.info("share %s now %s", new.name, _grants_text(new))
        self.emit("share-changed", new.to_json())
        await self._changed()
        return new

    async def remove_share(self, name: str) -> Share:
        share = self.share(name)
        if self.persist and self.config.config.share(name):
            self.config.remove_share(name)
        self.registry.remove(name)
        log.info("stopped sharing %s", share.name)
        self.emit("share-removed", share.to_json())
        await self._changed()
        return share

    def grant_warnings(self, share: Share) -> list[str]:
        """Notes on a share's grants (not errors: accounts may be added later)."""
        notes = [
            f"no account {who!r} yet: add it with 'peerwork user add {who}'"
            for who, access in sorted(share.grants.items())
            if who not in SPECIAL_GRANTEES
            and access is not Access.NONE
            and self.accounts.get(who) is None
        ]
        for other in self.registry.all():
            if other.key == share.key:
                continue
            if other.path == share.path or other.path in share.path.parents:
                notes.append(
                    f"this folder is also reachable through share {other.name!r}, "
                    f"with that share's grants"
                )
            elif share.path in other.path.parents:
                notes.append(f"share {other.name!r} lies inside this one and gets its grants too")
        notes.extend(share.grant_notes())
        if not any(
            access is not Access.NONE and (who in SPECIAL_GRANTEES or self.accounts.get(who))
            for who, access in share.grants.items()
        ):
            notes.append("nobody can open this share yet: grant an existing account access")
        return notes

    async def reload_shares(self) -> dict[str, list[str]]:
        """Serve what ``[[share]]`` in peerwork.toml says now (after a hand edit)."""
        self.config.reload()
        if not self.persist:
            return {"added": [], "removed": [], "changed": []}
        wanted = {s.key: s for s in servable(self.config.config.shares, self.home)}
        current = {s.key: s for s in self.registry.all()}
        report: dict[str, list[str]] = {"added": [], "removed": [], "changed": []}
        for key, share in current.items():
            if key not in wanted:
                self.registry.remove(key)
                report["removed"].append(share.name)
                self.emit("share-removed", share.to_json())
        for key, share in wanted.items():
            if current.get(key) == share:
                continue
            self.registry.put(share)
            kind = "changed" if key in current else "added"
            report[kind].append(share.name)
            self.emit(f"share-{kind}", share.to_json())
        if any(report.values()):
            log.info("reloaded shares: %s", report)
            await self._changed()
        return report

    # accounts ---------------------------------------------------------------
    def account_list(self) -> list[Account]:
        return self.accounts.list()

    def add_account(self, name: str, password: str) -> Account:
        acc = self.accounts.add(name, password)
        log.info("account %s added", acc.name)
        self.emit("account-added", acc.public())
        return acc

    def set_password(self, name: str, password: str) -> Account:
        acc = self.accounts.set_password(name, password)
        log.info("password of %s changed", acc.name)
        self.emit("account-changed", acc.public())
        return acc

    def remove_account(self, name: str) -> None:
        self.accounts.remove(name)
        log.info("account %s removed", name)
        self.emit("account-removed", {"name": name.lower()})


def servable(shares: Iterable[Share], home: Path) -> list[Share]:
    """The shares that may be served; one that would expose the peerwork home is
    left out with an error in the log (it stays in peerwork.toml for the user to fix)."""
    ok = []
    for share in shares:
        if overlaps_home(share.path, home):
            log.error("share %s not served: %s", share.name, folder_problem(share, home))
        else:
            ok.append(share)
    return ok


def _grants_text(share: Share) -> str:
    return ", ".join(f"{who}={acc}" for who, acc in sorted(share.grants.items()))
