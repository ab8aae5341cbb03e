"""``peerwork.toml`` on disk: a human-edited file, loaded and saved round-trip.

Edits go through :class:`ConfigFile`, which changes only the keys it must in
the tomlkit document, so comments, ordering and keys peerwork does not know
survive every CLI edit. Every save is atomic, and a save whose result does
not parse is refused before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, InlineTable, Table

from peerwork.atomic import atomic_write_text
from peerwork.errors import AlreadyExists, ConfigError, InvalidInput, NotFound, NotInitialised
from peerwork.shares import Access, Share

from .model import Config, parse_config, section_named

# A check of an edited document before it is saved (a service's own reader, say).
EditCheck = Callable[[tomlkit.TOMLDocument, Config], None]


class ConfigFile:
    """One ``peerwork.toml`` on disk: load, typed view, targeted edits, atomic save."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.doc = self._read()
        self.config = parse_config(self.doc, str(path))

    def _read(self) -> tomlkit.TOMLDocument:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotInitialised(
                f"{self.path} does not exist; run 'peerwork init --workgroup NAME' first"
            ) from None
        try:
            return tomlkit.parse(text)
        except tomlkit.exceptions.ParseError as exc:
            raise ConfigError(f"{self.path}: {exc} — fix that line and try again") from None

    def reload(self) -> None:
        """Re-read the file: every edit starts from what is on disk now, so a change made
        by hand while an agent runs is kept (or, if it broke the file, the edit is refused)."""
        doc = self._read()
        self.config = parse_config(doc, str(self.path))
        self.doc = doc

    def save(self) -> None:
        text = tomlkit.dumps(self.doc)
        if not text.endswith("\n"):
            text += "\n"
        self.config = parse_config(tomlkit.parse(text), str(self.path))
        atomic_write_text(self.path, text, mode=0o644)

    def edit_section(
        self, name: str, changes: Mapping[str, Any], check: EditCheck | None = None
    ) -> Config:
        """Set keys of ``[name]`` (the table is added if absent), leaving every other line,
        comment and unknown key as it is. The edited file must parse (and pass ``check``,
        e.g. a service's own reader for a section peerwork's list does not know) before
        it is written: otherwise ConfigError/InvalidInput, and nothing changes."""
        self.reload()
        known = section_named(name)
        if known is None and check is None:
            raise NotFound(f"peerwork.toml has no section [{name}] that peerwork knows")
        for key in changes:
            if known is not None and key not in known.key_names():
                raise InvalidInput(
                    f"[{name}] has no key {key!r}; its keys: {', '.join(known.key_names())}"
                )
        # Edit a copy: a refused value leaves self.doc (and the file) as they were.
        doc = tomlkit.parse(tomlkit.dumps(self.doc))
        table = doc.get(name)
        if table is None:
            table = tomlkit.table()
            doc.append(name, table)
        if not isinstance(table, Table | InlineTable):
            raise ConfigError(f"{self.path}: [{name}] must be a table to set keys in it")
        for key, value in changes.items():
            table[key] = value
        config = parse_config(tomlkit.parse(tomlkit.dumps(doc)), str(self.path))
        if check is not None:
            check(doc, config)
        self.doc = doc
        self.save()
        return self.config

    def _share_array(self) -> AoT:
        arr = self.doc.get("share")
        if arr is None:
            arr = tomlkit.aot()
            self.doc.append("share", arr)
        if not isinstance(arr, AoT):
            raise ConfigError(f"{self.path}: 'share' must be written as [[share]] tables")
        return arr

    def _index(self, name: str) -> int:
        key = name.lower()
        for i, entry in enumerate(self._share_array()):
            if str(entry.get("name", "")).lower() == key:
                return i
        raise NotFound(f"no share named {name!r}")

    def add_share(self, share: Share) -> None:
        self.reload()
        if self.config.share(share.name):
            raise AlreadyExists(f"a share named {share.name!r} already exists")
        table = tomlkit.table()
        table["name"] = share.name
        table["path"] = str(share.path)
        table["comment"] = share.comment
        table["grants"] = _grants_table(share.grants)
        if share.encrypt:
            table["encrypt"] = True
        self._share_array().append(table)
        self.save()

    def update_share(self, share: Share) -> None:
        self.reload()
        entry = self._share_array()[self._index(share.name)]
        entry["comment"] = share.comment
        entry["grants"] = _grants_table(share.grants)
        if share.encrypt or "encrypt" in entry:
            entry["encrypt"] = share.encrypt
        self.save()

    def remove_share(self, name: str) -> Share:
        self.reload()
        old = self.config.share(name)
        if old is None:
            raise NotFound(f"no share named {name!r}")
        arr = self._share_array()
        del arr[self._index(name)]
        self.save()
        return old


def _grants_table(grants: Mapping[str, Access]) -> Table:
    inline = tomlkit.inline_table()
    for who, access in sorted(grants.items()):
        inline[who] = str(access)
    return inline  # type: ignore[return-value]
