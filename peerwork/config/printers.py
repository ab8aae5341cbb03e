"""``[printers]``: which printers this PC shares, on which port, within which limits.

[printers]
port = 8631                      # 631 as root
[[printers.printer]]
name = "office"
backend = "file:/srv/pdf"        # file:DIR (cups:QUEUE, socket://, ipp:// not yet)
info = "Front desk laser"
location = "Reception"
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from peerwork.errors import ConfigError
from peerwork.proto.pdl import FORMATS

from .files import privileged
from .read import as_bool, as_port, as_str, as_str_list, plain, setting, setting_factory
from .section import ConfigSection

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
MIB = 1024 * 1024
DEFAULT_MAKE_MODEL = "peerwork IPP Everywhere printer"


@dataclass(frozen=True, slots=True)
class PrinterConfig:
    name: str
    backend: str
    info: str = ""
    location: str = ""
    make_model: str = DEFAULT_MAKE_MODEL
    formats: tuple[str, ...] = FORMATS
    color: bool = True
    duplex: bool = False


def _printer(entry: Mapping[str, Any], where: str) -> PrinterConfig:
    name = as_str(entry, "name", where, "")
    if not _NAME.match(name):
        raise ConfigError(f"{where}.name {name!r} must be 1-63 letters, digits, '-', '_' or '.'")
    backend = as_str(entry, "backend", where, "")
    if not backend.startswith("file:") or len(backend) <= len("file:"):
        raise ConfigError(f"{where}.backend {backend!r} is not supported yet; use file:/a/folder")
    formats = as_str_list(entry, "formats", where, FORMATS)
    if not formats or any(f not in FORMATS for f in formats):
        raise ConfigError(f"{where}.formats must be some of {', '.join(FORMATS)}")
    return PrinterConfig(
        name=name,
        backend=backend,
        info=as_str(entry, "info", where, ""),
        location=as_str(entry, "location", where, ""),
        make_model=as_str(entry, "make_model", where, DEFAULT_MAKE_MODEL),
        formats=formats,
        color=as_bool(entry, "color", where, True),
        duplex=as_bool(entry, "duplex", where, False),
    )


def as_printers(
    table: Mapping[str, Any], key: str, where: str, default: Any
) -> tuple[PrinterConfig, ...]:
    """``[[printers.printer]]`` tables, each checked; names unique (case-insensitive)."""
    entries = plain(table.get(key, list(default)))
    if not isinstance(entries, list):
        raise ConfigError(f"{where}.{key} must be [[{where}.{key}]] tables, not {entries!r}")
    printers: list[PrinterConfig] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where}.{key} #{i + 1} must be a table, not {entry!r}")
        printers.append(_printer(entry, f"{where}.{key} #{i + 1}"))
    names = [p.name.lower() for p in printers]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}.{key} names must differ: two printers share one")
    return tuple(printers)


def _ipp_port() -> int:
    return 631 if privileged() else 8631


@dataclass(frozen=True, slots=True)
class PrintersSection:
    """``printer``: the shared printers (``[[printers.printer]]``); ``max_*`` bound what
    one hostile client can make the agent hold."""

    enabled: bool = True
    bind: str = "0.0.0.0"
    port: int = setting_factory(_ipp_port, as_port)
    printer: tuple[PrinterConfig, ...] = setting((), as_printers)
    max_document_mib: int = 256
    max_jobs_per_client: int = 500
    max_jobs: int = 5000
    max_uploads: int = 16
    history: int = 200  # finished jobs kept per agent, oldest pruned first
    incoming_timeout: float = 60.0  # seconds between Create-Job and its Send-Document

    @property
    def printers(self) -> tuple[PrinterConfig, ...]:
        return self.printer

    @property
    def max_document_bytes(self) -> int:
        return self.max_document_mib * MIB

    def find(self, name: str) -> PrinterConfig | None:
        return next((p for p in self.printer if p.name.lower() == name.lower()), None)


PRINTERS = ConfigSection(
    "printers",
    PrintersSection,
    """\
[printers]                # IPP Everywhere printers shared by this PC (none until one is added)
enabled = true
bind = "0.0.0.0"
# port = 631              # default: 631 as root, 8631 otherwise
# [[printers.printer]]    # one table per printer; each job of a file: printer is a file
# name = "office"
# backend = "file:/srv/printed"
# info = "Front desk laser"
""",
)
