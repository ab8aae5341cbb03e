"""A ``peerwork.toml`` section: its name, its typed dataclass, its reader and its template.

Each section module (``peer``, ``files``, …) defines one :class:`ConfigSection`
beside its dataclass; a service declares it as its ``section``. The reader is
:func:`~peerwork.config.read.read_section` plus the section's own cross-key
rules (``finish``), so a wrong-typed value always ends as a ConfigError that
names ``section.key``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from peerwork.errors import ConfigError, InvalidInput

from .read import read_section

T = TypeVar("T")


def _as_read(value: T) -> T:
    return value


@dataclass(frozen=True, slots=True)
class ConfigSection(Generic[T]):
    """``template``: the commented lines ``peerwork init`` writes for this section
    (``{name}``, ``{workgroup}`` and ``{owner}`` are filled in; double other braces).
    ``finish``: checks across keys and normalising; it may raise ConfigError or
    InvalidInput (reported as ``[name] message``)."""

    name: str
    kind: type[T]
    template: str
    finish: Callable[[T], T] = _as_read

    def read(self, table: Mapping[str, Any], source: str = "peerwork.toml") -> T:
        value = read_section(self.kind, table, self.name)
        try:
            return self.finish(value)
        except InvalidInput as exc:
            raise ConfigError(f"{source}: [{self.name}] {exc.message}") from None

    def key_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self.kind))  # type: ignore[arg-type]
