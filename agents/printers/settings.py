"""The ``[printers]`` section: which printers this PC shares, on which port, within which limits.

[printers]
port = 8631                      # 631 as root
[[printers.printer]]
name = "office"
backend = "file:/srv/pdf"        # file:DIR (cups:QUEUE, socket://, ipp:// not yet)
info = "Front desk laser"
location = "Reception"
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from peerwork.errors import ConfigError
from peerwork.proto.pdl import FORMATS

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


@dataclass(frozen=True, slots=True)
class PrintersSection:
    """``max_*`` bound what one hostile client can make the agent hold."""

    enabled: bool = True
    bind: str = "0.0.0.0"
    port: int = 8631
    printers: tuple[PrinterConfig, ...] = ()
    max_document_mib: int = 256
    max_jobs_per_client: int = 500
    max_jobs: int = 5000
    max_uploads: int = 16
    history: int = 200  # finished jobs kept per agent, oldest pruned first
    incoming_timeout: float = 60.0  # seconds between Create-Job and its Send-Document

    @property
    def max_document_bytes(self) -> int:
        return self.max_document_mib * MIB

    def printer(self, name: str) -> PrinterConfig | None:
        return next((p for p in self.printers if p.name.lower() == name.lower()), None)


def read_printers(raw: Mapping[str, Any]) -> PrintersSection:
    """The typed section; ConfigError names the offending key."""
    default_port = 631 if os.geteuid() == 0 else 8631
    printers = []
    entries = _get(raw, "printer", list, [])
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise ConfigError(f"[[printers.printer]] #{i + 1} must be a table")
        printers.append(_printer(entry, f"printers.printer #{i + 1}"))
    names = [p.name.lower() for p in printers]
    if len(set(names)) != len(names):
        raise ConfigError("printers: two printers share a name")
    port = _get(raw, "port", int, default_port)
    if not 0 <= port <= 65535:
        raise ConfigError(f"printers.port must be 0-65535 (0 picks a free port), not {port}")
    return PrintersSection(
        enabled=_get(raw, "enabled", bool, True),
        bind=_get(raw, "bind", str, "0.0.0.0"),
        port=port,
        printers=tuple(printers),
        max_document_mib=_positive(raw, "max_document_mib", 256),
        max_jobs_per_client=_positive(raw, "max_jobs_per_client", 500),
        max_jobs=_positive(raw, "max_jobs", 5000),
        max_uploads=_positive(raw, "max_uploads", 16),
        history=_positive(raw, "history", 200),
        incoming_timeout=float(_positive(raw, "incoming_timeout", 60)),
    )


def _printer(entry: Mapping[str, Any], where: str) -> PrinterConfig:
    name = _get(entry, "name", str, "", where)
    if not _NAME.match(name):
        raise ConfigError(f"{where}: name {name!r} must be 1-63 letters, digits, '-', '_' or '.'")
    backend = _get(entry, "backend", str, "", where)
    if not backend.startswith("file:") or len(backend) <= len("file:"):
        raise ConfigError(f"{where}: backend {backend!r} is not supported yet; use file:/a/folder")
    formats = tuple(_get(entry, "formats", list, list(FORMATS), where))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ConfigError(f"{where}: formats must be some of {', '.join(FORMATS)}")
    return PrinterConfig(
        name=name,
        backend=backend,
        info=_get(entry, "info", str, "", where),
        location=_get(entry, "location", str, "", where),
        make_model=_get(entry, "make_model", str, DEFAULT_MAKE_MODEL, where),
        formats=formats,
        color=_get(entry, "color", bool, True, where),
        duplex=_get(entry, "duplex", bool, False, where),
    )


def _get(
    table: Mapping[str, Any], key: str, kind: type, default: Any, where: str = "printers"
) -> Any:
    value = table.get(key, default)
    value = value.unwrap() if hasattr(value, "unwrap") else value
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where}.{key} must be of type {kind.__name__}, not {value!r}")
    return value


def _positive(table: Mapping[str, Any], key: str, default: int) -> int:
    value = _get(table, key, int, default)
    if value < 1:
        raise ConfigError(f"printers.{key} must be at least 1, not {value}")
    return int(value)
