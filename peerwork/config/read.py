"""Typed readers for ``peerwork.toml`` values: the one toolkit every section's reader uses.

A reader takes ``(table, key, where, default)`` and returns the checked value,
or raises :class:`ConfigError` naming ``where.key`` (``files.port``) and the
value found. :func:`read_section` reads every field of a section's dataclass
with its default, choosing the reader from the default's type unless the
field names its own (:func:`setting`), so a section with 25 keys needs no
hand-written line per key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from peerwork.errors import ConfigError

__all__ = [
    "Reader",
    "as_bool",
    "as_count",
    "as_port",
    "as_positive",
    "as_seconds",
    "as_str",
    "as_str_list",
    "plain",
    "read_section",
    "section_table",
    "setting",
]

T = TypeVar("T")
Reader = Callable[[Mapping[str, Any], str, str, Any], Any]
_READER = "peerwork.read"  # the dataclass field metadata key naming a field's reader


def plain(value: Any) -> Any:
    # tomlkit items subclass the builtins; unwrap so checks and results are plain values.
    return value.unwrap() if hasattr(value, "unwrap") else value


def section_table(doc: Mapping[str, Any], name: str, source: str) -> Mapping[str, Any]:
    """``doc[name]`` as a table ({} when absent); anything else is a ConfigError."""
    value = doc.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{source}: [{name}] must be a table, not {plain(value)!r}")
    return value


_KIND_NAMES = {str: "a string", bool: "true or false", int: "an integer", list: "a list"}


def _typed(table: Mapping[str, Any], key: str, where: str, default: Any, kind: type) -> Any:
    value = plain(table.get(key, default))
    # bool is an int in Python; TOML keeps them apart, and so do we.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where}.{key} must be {_KIND_NAMES[kind]}, not {value!r}")
    return value


def as_str(table: Mapping[str, Any], key: str, where: str, default: Any) -> str:
    return str(_typed(table, key, where, default, str))


def as_bool(table: Mapping[str, Any], key: str, where: str, default: Any) -> bool:
    return bool(_typed(table, key, where, default, bool))


def as_str_list(table: Mapping[str, Any], key: str, where: str, default: Any) -> tuple[str, ...]:
    items = _typed(table, key, where, list(default), list)
    if not all(isinstance(i, str) for i in items):
        raise ConfigError(f"{where}.{key} must be a list of strings, not {items!r}")
    return tuple(items)


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


def as_positive(table: Mapping[str, Any], key: str, where: str, default: Any) -> float:
    value = plain(table.get(key, default))
    if not _number(value) or not value > 0:
        raise ConfigError(f"{where}.{key} must be a positive number of seconds, not {value!r}")
    return float(value)


def as_seconds(table: Mapping[str, Any], key: str, where: str, default: Any) -> float:
    value = plain(table.get(key, default))
    if not _number(value) or not 0 <= value <= 86400:
        raise ConfigError(f"{where}.{key} must be a number of seconds (0-86400), not {value!r}")
    return float(value)


def as_port(table: Mapping[str, Any], key: str, where: str, default: Any) -> int:
    port = int(_typed(table, key, where, default, int))
    if not 0 <= port <= 65535:
        raise ConfigError(f"{where}.{key} must be 0-65535 (0 picks a free port), not {port}")
    return port


def as_count(least: int = 1) -> Reader:
    """A whole number of at least ``least`` (connections, entries, MiB)."""

    def read(table: Mapping[str, Any], key: str, where: str, default: Any) -> int:
        value = plain(table.get(key, default))
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(
                f"{where}.{key} must be a whole number of at least {least}, not {value!r}"
            )
        return value

    return read


def setting(default: Any, read: Reader) -> Any:
    """A section field whose reader is not the one its default's type implies."""
    return dataclasses.field(default=default, metadata={_READER: read})


def setting_factory(factory: Callable[[], Any], read: Reader) -> Any:
    """As :func:`setting`, for a default computed at read time (a port that depends on root)."""
    return dataclasses.field(default_factory=factory, metadata={_READER: read})


# By the default's type: ints are counts of at least one, floats are positive seconds.
_BY_TYPE: dict[type, Reader] = {
    bool: as_bool,
    int: as_count(),
    float: as_positive,
    str: as_str,
    tuple: as_str_list,
}


def field_default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    raise TypeError(f"section field {f.name} has no default")


def field_reader(f: dataclasses.Field[Any]) -> Reader:
    named: Reader | None = f.metadata.get(_READER)
    return named if named is not None else _BY_TYPE[type(field_default(f))]


def read_section(cls: type[T], table: Mapping[str, Any], where: str) -> T:
    """An instance of the dataclass ``cls`` from ``table``: every field read by its reader,
    absent keys taking the field's default. Keys ``cls`` does not know are left alone
    (they may be a newer peerwork's, or the user's notes)."""
    values = {
        f.name: field_reader(f)(table, f.name, where, field_default(f))
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
    }
    return cls(**values)
