"""``[printers]``: which printers this PC shares, on which port, within which limits.

[printers]
port = 8631                      # 631 as root
ipps_port = 8632                 # IPP over TLS with this PC's peer certificate
[[printers.printer]]
name = "office"
backend = "file:/srv/pdf"        # file:DIR, cups:QUEUE, socket://HOST:PORT, ipp://HOST[:PORT]/PATH
info = "Front desk laser"
location = "Reception"
grants = { everyone = "print", anonymous = "print", alice = "manage" }
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from peerwork.errors import ConfigError, InvalidInput
from peerwork.printer_grants import DEFAULT_GRANTS, Grants, PrintAccess, grants_of
from peerwork.proto.pdl import FORMATS

from .files import privileged
from .read import as_bool, as_port, as_str, as_str_list, plain, setting, setting_factory
from .section import ConfigSection

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
MIB = 1024 * 1024
DEFAULT_MAKE_MODEL = "peerwork IPP Everywhere printer"


_QUEUE = re.compile(r"^[A-Za-z0-9_.@-]{1,127}$")


class BackendKind(enum.Enum):
    FILE = "file"
    CUPS = "cups"
    SOCKET = "socket"
    IPP = "ipp"


@dataclass(frozen=True, slots=True)
class BackendUri:
    """A checked backend address: ``target`` is the folder (file), the queue (cups),
    or the host (socket, ipp); ``port`` and ``path`` for the network ones."""

    kind: BackendKind
    target: str
    port: int = 0
    path: str = ""


def parse_backend(uri: str) -> BackendUri:
    """Check a backend URI; InvalidInput says what a valid one looks like."""
    if uri.startswith("file:"):
        if len(uri) == len("file:") or not uri[len("file:") :].startswith("/"):
            raise InvalidInput(f"backend {uri!r}: write file:/an/absolute/folder")
        return BackendUri(BackendKind.FILE, uri[len("file:") :])
    if uri.startswith("cups:"):
        queue = uri[len("cups:") :]
        if not _QUEUE.match(queue):
            raise InvalidInput(f"backend {uri!r}: write cups:QUEUE with the name of a CUPS queue")
        return BackendUri(BackendKind.CUPS, queue)
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        raise InvalidInput(f"backend {uri!r} has a bad port") from None
    if parts.scheme == "socket" and parts.hostname and parts.path in ("", "/"):
        return BackendUri(BackendKind.SOCKET, parts.hostname, port or 9100)
    if parts.scheme == "ipp" and parts.hostname and parts.path.startswith("/"):
        return BackendUri(BackendKind.IPP, parts.hostname, port or 631, parts.path)
    raise InvalidInput(
        f"backend {uri!r} is not one of file:/folder, cups:QUEUE, socket://HOST:PORT, "
        "ipp://HOST[:PORT]/PATH"
    )


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
    grants: Grants = DEFAULT_GRANTS

    def to_json(self) -> dict[str, Any]:
        """As peerwork.toml writes it (``[[printers.printer]]``)."""
        return {
            "name": self.name,
            "backend": self.backend,
            "info": self.info,
            "location": self.location,
            "make_model": self.make_model,
            "grants": {who: str(level) for who, level in self.grants},
        }


def validate_printer_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidInput(f"printer name {name!r} must be 1-63 letters, digits, '-', '_' or '.'")
    return name


def _grants(entry: Mapping[str, Any], where: str) -> Grants:
    raw = plain(entry.get("grants"))
    if raw is None:
        return DEFAULT_GRANTS
    if not isinstance(raw, Mapping):
        raise ConfigError(f'{where}.grants must be a table {{ who = "print" }}, not {raw!r}')
    try:
        return grants_of({str(k): PrintAccess.parse(str(v)) for k, v in raw.items()})
    except InvalidInput as exc:
        raise ConfigError(f"{where}.grants: {exc.message}") from None


def _printer(entry: Mapping[str, Any], where: str) -> PrinterConfig:
    name = as_str(entry, "name", where, "")
    backend = as_str(entry, "backend", where, "")
    try:
        validate_printer_name(name)
        parse_backend(backend)
    except InvalidInput as exc:
        raise ConfigError(f"{where}: {exc.message}") from None
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
        grants=_grants(entry, where),
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


def _ipps_port() -> int:
    # IPPS has no port of its own (RFC 7472 reuses 631); clients find this one in the
    # _ipps._tcp record's SRV.
    return 8632


@dataclass(frozen=True, slots=True)
class PrintersSection:
    """``printer``: the shared printers (``[[printers.printer]]``); ``max_*`` bound what
    one hostile client can make the agent hold."""

    enabled: bool = True
    bind: str = "0.0.0.0"
    port: int = setting_factory(_ipp_port, as_port)
    ipps: bool = True  # IPP over TLS (the peer certificate) beside plain IPP
    ipps_port: int = setting_factory(_ipps_port, as_port)
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
# ipps_port = 8632        # IPP over TLS; passwords (HTTP Basic) are accepted only here
# [[printers.printer]]    # one table per printer ('peerwork printer add' writes them)
# name = "office"
# backend = "file:/srv/printed"   # or cups:QUEUE, socket://HOST:9100, ipp://HOST/PATH
# info = "Front desk laser"
# grants = {{ everyone = "print", anonymous = "print", alice = "manage" }}
""",
)
