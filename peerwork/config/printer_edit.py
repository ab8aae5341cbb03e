"""Changing the shared printers in ``peerwork.toml``: ``[[printers.printer]]`` tables.

Each change starts from the file as it is on disk now (a hand edit made while
the agent runs is kept), edits only the printer's own table through tomlkit
(comments and unknown keys survive), and must parse before anything is
written. The control API and the CLI without an agent use the same calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import tomlkit
from tomlkit.items import AoT, Table

from peerwork.errors import AlreadyExists, ConfigError, NotFound
from peerwork.printer_grants import (
    DEFAULT_GRANTS,
    PrintAccess,
    changed_grants,
    grants_json,
    grants_of,
)

from .document import ConfigFile
from .printers import PrinterConfig, PrintersSection, parse_backend, validate_printer_name


def new_printer(
    name: str,
    backend: str,
    *,
    grants: Mapping[str, PrintAccess],
    owner: str,
    info: str = "",
    location: str = "",
    make_model: str = "",
) -> PrinterConfig:
    """A printer as ``peerwork printer add`` makes it: checked name and backend; anyone
    may print (the defaults) unless ``grants`` say otherwise; the owner manages it."""
    validate_printer_name(name)
    parse_backend(backend)
    entries = dict(DEFAULT_GRANTS)
    if owner:
        entries[owner.lower()] = PrintAccess.MANAGE
    entries.update(grants)
    extra = {"make_model": make_model} if make_model else {}
    return PrinterConfig(
        name=name,
        backend=backend,
        info=info,
        location=location,
        grants=grants_of(entries),
        **extra,  # type: ignore[arg-type]
    )


def _printers(file: ConfigFile) -> PrintersSection:
    section: PrintersSection = file.config.section("printers")
    return section


def _array(doc: tomlkit.TOMLDocument, path: str) -> AoT:
    table = doc.get("printers")
    if table is None:
        table = tomlkit.table()
        doc.append("printers", table)
    if not isinstance(table, Table):
        raise ConfigError(f"{path}: [printers] must be a table")
    arr = table.get("printer")
    if arr is None:
        arr = tomlkit.aot()
        table.append("printer", arr)
    if not isinstance(arr, AoT):
        raise ConfigError(f"{path}: printers must be written as [[printers.printer]] tables")
    return arr


def _index(arr: AoT, name: str) -> int:
    for i, entry in enumerate(arr):
        if str(entry.get("name", "")).lower() == name.lower():
            return i
    raise NotFound(f"no printer named {name!r}; 'peerwork printers' lists them")


def _table(printer: PrinterConfig) -> Table:
    table = tomlkit.table()
    for key, value in printer.to_json().items():
        if key == "grants":
            inline = tomlkit.inline_table()
            inline.update(value)
            table[key] = inline
        else:
            table[key] = value
    return table


def _save(file: ConfigFile, doc: tomlkit.TOMLDocument) -> None:
    # save() parses the result before writing: a bad edit raises and writes nothing.
    file.doc = doc
    try:
        file.save()
    except Exception:
        file.reload()
        raise


def add_printer(file: ConfigFile, printer: PrinterConfig) -> PrinterConfig:
    file.reload()
    if _printers(file).find(printer.name) is not None:
        raise AlreadyExists(f"a printer named {printer.name!r} is shared already")
    doc = tomlkit.parse(tomlkit.dumps(file.doc))
    _array(doc, str(file.path)).append(_table(printer))
    _save(file, doc)
    found = _printers(file).find(printer.name)
    assert found is not None
    return found


def remove_printer(file: ConfigFile, name: str) -> PrinterConfig:
    file.reload()
    old = _printers(file).find(name)
    if old is None:
        raise NotFound(f"no printer named {name!r}; 'peerwork printers' lists them")
    doc = tomlkit.parse(tomlkit.dumps(file.doc))
    arr = _array(doc, str(file.path))
    del arr[_index(arr, name)]
    _save(file, doc)
    return old


def set_printer_grants(
    file: ConfigFile, name: str, changes: Mapping[str, PrintAccess], revoke: Iterable[str] = ()
) -> PrinterConfig:
    """Grants changed by ``changes``, entries in ``revoke`` removed (an account falls
    back to ``everyone``; ``everyone`` or ``anonymous`` revoked means none)."""
    file.reload()
    old = _printers(file).find(name)
    if old is None:
        raise NotFound(f"no printer named {name!r}; 'peerwork printers' lists them")
    doc = tomlkit.parse(tomlkit.dumps(file.doc))
    arr = _array(doc, str(file.path))
    inline = tomlkit.inline_table()
    inline.update(grants_json(changed_grants(old.grants, changes, revoke)))
    arr[_index(arr, name)]["grants"] = inline
    _save(file, doc)
    found = _printers(file).find(name)
    assert found is not None
    return found
