"""``peerwork.toml``: a human-edited file, loaded into typed sections and saved round-trip.

Edits go through :class:`ConfigFile`, which changes only the keys it must in
the tomlkit document, so comments, ordering and keys peerwork does not know
survive every CLI edit. Every save is atomic.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Table

from peerwork.atomic import atomic_write_text
from peerwork.errors import AlreadyExists, ConfigError, InvalidInput, NotFound, NotInitialised
from peerwork.range_locks import DEFAULT_LOCKS_PER_OPEN
from peerwork.sharefs_match import DEFAULT_LISTING_WORK
from peerwork.shares import Access, Share

_PEER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,14}$")
_WORKGROUP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,14}$")


def privileged() -> bool:
    return os.geteuid() == 0


def default_smb_port() -> int:
    return 445 if privileged() else 4445


def validate_peer_name(name: str) -> str:
    """NetBIOS-compatible: 1-15 letters, digits or '-', shown upper-case like Windows does."""
    if not _PEER_NAME.match(name):
        raise InvalidInput(f"PC name {name!r} must be 1-15 letters, digits or '-'")
    return name.upper()


def validate_workgroup(name: str) -> str:
    if not _WORKGROUP.match(name):
        raise InvalidInput(f"workgroup {name!r} must be 1-15 letters, digits or '-'")
    return name.upper()


@dataclass(frozen=True, slots=True)
class PeerSection:
    name: str
    workgroup: str
    owner: str = ""


@dataclass(frozen=True, slots=True)
class DiscoverySection:
    enabled: bool = True
    # Interface names to announce and browse on; empty means every interface with a
    # usable IPv4 address, skipping loopback and container/VPN bridges.
    interfaces: tuple[str, ...] = ()
    # Seconds between checks for changed interface addresses (a DHCP renewal, a cable
    # moved to another network): discovery re-announces with the new addresses.
    address_check: float = 10.0


@dataclass(frozen=True, slots=True)
class WsdSection:
    """WS-Discovery, so Windows Explorer lists this PC; it runs on discovery's interfaces
    and only while discovery is enabled."""

    enabled: bool = True
    port: int = 3702  # SOAP-over-UDP; Windows probes only 3702
    http_port: int = 5357  # metadata exchange; 0 picks a free port (announced in XAddrs)
    # Also on each interface's IPv6 link-local address (ff02::c); off like discovery's IPv6.
    ipv6: bool = False


@dataclass(frozen=True, slots=True)
class FilesSection:
    enabled: bool = True
    bind: str = "0.0.0.0"
    port: int = field(default_factory=default_smb_port)
    # Windows 11 24H2 requires signing as a client; requiring it here also refuses
    # clients that would not sign.
    require_signing: bool = False
    # Logons (README "Limits"): unfinished logons and sessions per connection, and the
    # failed-logon throttle (per account and per client address).
    max_pending_logons: int = 8
    max_sessions_per_connection: int = 64
    pending_logon_timeout: float = 30.0
    logon_free_failures: int = 5
    logon_first_delay: float = 0.5
    logon_max_delay: float = 30.0
    logon_forget_after: float = 900.0
    logon_burst_failures: int = 20
    logon_burst_window: float = 60.0
    logon_throttle_entries: int = 4096
    # Byte-range locks one open may hold; past it LOCK answers INSUFFICIENT_RESOURCES.
    max_locks_per_open: int = DEFAULT_LOCKS_PER_OPEN
    # Name characters the wildcard matcher may examine in one folder listing.
    max_listing_work: int = DEFAULT_LISTING_WORK

    # What one client, and all together, may hold of the file service (README,
    # "Limits of the file service"). Connection and open-file caps are lowered at
    # start if RLIMIT_NOFILE is too small for them.
    max_connections: int = 256
    max_connections_per_client: int = 16
    max_open_files: int = 1024  # per session
    logon_timeout: float = 30.0  # seconds from connect to a completed logon
    idle_timeout: float = 900.0  # seconds; only without open files (as Windows, Samba)
    queue_mib: int = 24  # requests and unsent replies held per connection
    queue_total_mib: int = 192  # the same, all connections together
    stall_timeout: float = 60.0  # seconds a client may leave a reply unread


# Unprivileged, so the same default serves root and user agents alike.
DEFAULT_CHANNEL_PORT = 7445


@dataclass(frozen=True, slots=True)
class ChannelSection:
    """The agent-to-agent channel (mutual TLS with the peer keys), announced as ``ctl``."""

    enabled: bool = True
    bind: str = "0.0.0.0"
    port: int = DEFAULT_CHANNEL_PORT
    # Seconds a caller has from TCP connect to a verified TLS 1.3 handshake.
    handshake_timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class Config:
    peer: PeerSection
    discovery: DiscoverySection
    files: FilesSection
    shares: tuple[Share, ...] = ()
    wsdiscovery: WsdSection = WsdSection()
    channel: ChannelSection = ChannelSection()

    def share(self, name: str) -> Share | None:
        key = name.lower()
        return next((s for s in self.shares if s.key == key), None)


def _plain(value: Any) -> Any:
    # tomlkit items subclass the builtins; unwrap so checks and results are plain values.
    return value.unwrap() if hasattr(value, "unwrap") else value


def _section(doc: Mapping[str, Any], name: str, source: str) -> Mapping[str, Any]:
    value = doc.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{source}: [{name}] must be a table, not {_plain(value)!r}")
    return value


def _value(table: Mapping[str, Any], key: str, where: str, default: Any, kind: type) -> Any:
    value = _plain(table.get(key, default))
    # bool is an int in Python; TOML keeps them apart, and so do we.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where}.{key} must be {_KIND_NAMES[kind]}, not {value!r}")
    return value


_KIND_NAMES = {str: "a string", bool: "true or false", int: "an integer", list: "a list"}


def _str(table: Mapping[str, Any], key: str, where: str, default: str) -> str:
    return str(_value(table, key, where, default, str))


def _bool(table: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    return bool(_value(table, key, where, default, bool))


def _str_list(table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    items = _value(table, key, where, [], list)
    if not all(isinstance(i, str) for i in items):
        raise ConfigError(f"{where}.{key} must be a list of strings, not {items!r}")
    return tuple(items)


def _positive(table: Mapping[str, Any], key: str, where: str, default: float) -> float:
    value = _plain(table.get(key, default))
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{where}.{key} must be a positive number of seconds, not {value!r}")
    return float(value)


def _port(table: Mapping[str, Any], where: str, default: int, key: str = "port") -> int:
    port = int(_value(table, key, where, default, int))
    if not 0 <= port <= 65535:
        raise ConfigError(f"{where}.{key} must be 0-65535 (0 picks a free port), not {port}")
    return port


def _count(table: Mapping[str, Any], key: str, where: str, default: int, least: int = 1) -> int:
    value = _plain(table.get(key, default))
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(
            f"{where}.{key} must be a whole number of at least {least}, not {value!r}"
        )
    return value


def _seconds(table: Mapping[str, Any], key: str, where: str, default: float) -> float:
    value = _plain(table.get(key, default))
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 86400:
        raise ConfigError(f"{where}.{key} must be a number of seconds (0-86400), not {value!r}")
    return float(value)


def _logon_limits(files: Mapping[str, Any]) -> dict[str, Any]:
    """The ``[files]`` keys of the logon limits, checked (defaults: FilesSection's)."""
    base = FilesSection(port=0)
    out: dict[str, Any] = {
        k: _count(files, k, "files", getattr(base, k))
        for k in (
            "max_pending_logons",
            "max_sessions_per_connection",
            "logon_burst_failures",
            "logon_throttle_entries",
        )
    }
    out["logon_free_failures"] = _count(
        files, "logon_free_failures", "files", base.logon_free_failures, least=0
    )
    for k in ("logon_first_delay", "logon_max_delay"):
        out[k] = _seconds(files, k, "files", getattr(base, k))
    for k in ("pending_logon_timeout", "logon_forget_after", "logon_burst_window"):
        out[k] = _positive(files, k, "files", getattr(base, k))
    if out["logon_first_delay"] > out["logon_max_delay"]:
        raise ConfigError("files.logon_first_delay must not exceed files.logon_max_delay")
    return out


def parse_config(doc: Mapping[str, Any], source: str = "peerwork.toml") -> Config:
    """Typed view of a parsed document; ConfigError names the offending key."""
    if "peer" not in doc:
        raise ConfigError(f"{source}: [peer] section is missing")
    peer = _section(doc, "peer", source)
    try:
        peer_sec = PeerSection(
            name=validate_peer_name(_str(peer, "name", "peer", "")),
            workgroup=validate_workgroup(_str(peer, "workgroup", "peer", "")),
            owner=_str(peer, "owner", "peer", ""),
        )
    except InvalidInput as exc:
        raise ConfigError(f"{source}: [peer] {exc.message}") from None
    disc = _section(doc, "discovery", source)
    disc_sec = DiscoverySection(
        enabled=_bool(disc, "enabled", "discovery", True),
        interfaces=_str_list(disc, "interfaces", "discovery"),
        address_check=_positive(disc, "address_check", "discovery", 10.0),
    )
    files = _section(doc, "files", source)
    files_sec = FilesSection(
        enabled=_bool(files, "enabled", "files", True),
        bind=_str(files, "bind", "files", "0.0.0.0"),
        port=_port(files, "files", default_smb_port()),
        require_signing=_bool(files, "require_signing", "files", False),
        max_locks_per_open=_count(files, "max_locks_per_open", "files", DEFAULT_LOCKS_PER_OPEN),
        max_listing_work=_count(files, "max_listing_work", "files", DEFAULT_LISTING_WORK),
        **_logon_limits(files),
        **_files_limits(files),
    )
    wsd = _section(doc, "wsdiscovery", source)
    wsd_sec = WsdSection(
        enabled=_bool(wsd, "enabled", "wsdiscovery", True),
        port=_port(wsd, "wsdiscovery", 3702),
        http_port=_port(wsd, "wsdiscovery", 5357, "http_port"),
        ipv6=_bool(wsd, "ipv6", "wsdiscovery", False),
    )
    channel = _section(doc, "channel", source)
    channel_sec = ChannelSection(
        enabled=_bool(channel, "enabled", "channel", True),
        bind=_str(channel, "bind", "channel", "0.0.0.0"),
        port=_port(channel, "channel", DEFAULT_CHANNEL_PORT),
        handshake_timeout=_positive(channel, "handshake_timeout", "channel", 10.0),
    )
    entries = _plain(doc.get("share", []))
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: shares must be written as [[share]] tables")
    shares: list[Share] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{source}: [[share]] #{i + 1} must be a table, not {entry!r}")
        try:
            share = Share.from_json(entry)
        except InvalidInput as exc:
            raise ConfigError(f"{source}: [[share]] #{i + 1}: {exc.message}") from None
        if share.key in seen:
            raise ConfigError(f"{source}: share name {share.name!r} appears twice")
        seen.add(share.key)
        shares.append(share)
    return Config(peer_sec, disc_sec, files_sec, tuple(shares), wsd_sec, channel_sec)


def _files_limits(files: Mapping[str, Any]) -> dict[str, Any]:
    defaults = FilesSection()
    counts = (
        "max_connections",
        "max_connections_per_client",
        "max_open_files",
        "queue_mib",
        "queue_total_mib",
    )
    seconds = ("logon_timeout", "idle_timeout", "stall_timeout")
    out: dict[str, Any] = {k: _count(files, k, "files", getattr(defaults, k)) for k in counts}
    out.update({k: _positive(files, k, "files", getattr(defaults, k)) for k in seconds})
    return out


def render_new_config(name: str, workgroup: str, owner: str) -> str:
    """The commented file ``peerwork init`` writes."""
    return f"""\
# peerwork configuration for this PC. Edit freely: peerwork keeps your comments
# and any keys it does not know when it changes this file.

[peer]
name = "{validate_peer_name(name)}"            # this PC's name on the LAN (NetBIOS style)
workgroup = "{validate_workgroup(workgroup)}"       # every PC of the office uses the same workgroup
owner = "{owner}"             # account that 'peerwork share' grants full access by default

[discovery]
enabled = true
interfaces = []           # e.g. ["eth0"]; empty: every LAN interface (not loopback, docker, VPN)
address_check = 10        # seconds between checks for a changed address (then re-announce)

[wsdiscovery]             # WS-Discovery: how Windows Explorer's Network folder finds this PC
enabled = true            # runs on the [discovery] interfaces, only while discovery is enabled
port = 3702               # UDP, multicast 239.255.255.250 (Windows probes only 3702)
http_port = 5357          # TCP, the metadata Windows fetches (name and workgroup)
ipv6 = false              # true: also on each interface's IPv6 link-local address (ff02::c)

[files]
enabled = true
bind = "0.0.0.0"
# port = 445              # default: 445 as root, 4445 otherwise
require_signing = false   # true: every client must sign (SMB signing)
# Limits (defaults shown in README): max_connections, max_connections_per_client,
# max_open_files, logon_timeout, idle_timeout, queue_mib, queue_total_mib, stall_timeout

[channel]                 # agent-to-agent channel: mutual TLS with the peer keys
enabled = true
bind = "0.0.0.0"
port = 7445               # announced to peers as "ctl"; same default as root or not
handshake_timeout = 10    # seconds a caller gets to prove its peer key

[mail]                    # the workgroup post office: SMTP in, Maildir, POP3 pickup
enabled = false           # true: accept mail for name@domain of every account
bind = "0.0.0.0"
# port = 25               # SMTP; default: 25 as root, 2525 otherwise
# pop3_port = 110         # default: 110 as root, 1110 otherwise
# domain = "office.lan"   # default: <workgroup>.lan
# max_size = 100000000    # bytes; announced (SIZE) and enforced while receiving
# aliases = {{ info = "alice" }}

# Shares are added with 'peerwork share PATH'; each looks like:
# [[share]]
# name = "docs"
# path = "/home/alice/docs"
# comment = "Office documents"
# grants = {{ alice = "full", everyone = "read" }}
"""


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
        self._share_array().append(table)
        self.save()

    def update_share(self, share: Share) -> None:
        self.reload()
        entry = self._share_array()[self._index(share.name)]
        entry["comment"] = share.comment
        entry["grants"] = _grants_table(share.grants)
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
