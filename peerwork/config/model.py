"""The whole file's typed view: :class:`Config`, built from the sections of :data:`SECTIONS`.

A new section is its own module (dataclass + :class:`ConfigSection`) and one
entry here; the agent, ``reload`` and the CLI find sections through this list
or through the services that declare them, never by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from peerwork.errors import ConfigError, InvalidInput
from peerwork.shares import Share

from .account_sync import ACCOUNT_SYNC, AccountSyncSection
from .channel import CHANNEL, ChannelSection
from .discovery import DISCOVERY, DiscoverySection
from .files import FILES, FilesSection
from .gateway import GATEWAY, GatewaySection
from .mail import MAIL, MailSection
from .peer import PEER, PeerSection, validate_peer_name, validate_workgroup
from .printers import PRINTERS, PrintersSection
from .read import plain, section_table
from .section import ConfigSection
from .trust import TRUST, TrustSection
from .wsdiscovery import WSDISCOVERY, WsdSection

# In the order ``peerwork init`` writes them; each name is also a field of Config.
SECTIONS: tuple[ConfigSection[Any], ...] = (
    PEER,
    DISCOVERY,
    WSDISCOVERY,
    FILES,
    PRINTERS,
    CHANNEL,
    TRUST,
    MAIL,
    GATEWAY,
    ACCOUNT_SYNC,
)


def section_named(name: str) -> ConfigSection[Any] | None:
    return next((s for s in SECTIONS if s.name == name), None)


@dataclass(frozen=True, slots=True)
class Config:
    peer: PeerSection
    discovery: DiscoverySection
    files: FilesSection
    shares: tuple[Share, ...] = ()
    wsdiscovery: WsdSection = field(default_factory=WsdSection)
    channel: ChannelSection = field(default_factory=ChannelSection)
    mail: MailSection = field(default_factory=MailSection)
    printers: PrintersSection = field(default_factory=PrintersSection)
    gateway: GatewaySection = field(default_factory=GatewaySection)
    account_sync: AccountSyncSection = field(default_factory=AccountSyncSection)
    trust: TrustSection = field(default_factory=TrustSection)

    def share(self, name: str) -> Share | None:
        key = name.lower()
        return next((s for s in self.shares if s.key == key), None)

    def section(self, name: str) -> Any:
        """The typed value of section ``name`` (one of :data:`SECTIONS`)."""
        if section_named(name) is None:
            raise KeyError(name)
        return getattr(self, name)


def changed_sections(before: Config, after: Config) -> list[str]:
    """Names of the sections (not shares) whose typed value differs."""
    return [s.name for s in SECTIONS if before.section(s.name) != after.section(s.name)]


def _shares(doc: Mapping[str, Any], source: str) -> tuple[Share, ...]:
    entries = plain(doc.get("share", []))
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
    return tuple(shares)


def parse_config(doc: Mapping[str, Any], source: str = "peerwork.toml") -> Config:
    """Typed view of a parsed document; ConfigError names the offending key."""
    if "peer" not in doc:
        raise ConfigError(f"{source}: [peer] section is missing")
    sections = {s.name: s.read(section_table(doc, s.name, source), source) for s in SECTIONS}
    return Config(shares=_shares(doc, source), **sections)


_HEADER = """\
# peerwork configuration for this PC. Edit freely: peerwork keeps your comments
# and any keys it does not know when it changes this file.
"""

_SHARES = """\
# Shares are added with 'peerwork share PATH'; each looks like:
# [[share]]
# name = "docs"
# path = "/home/alice/docs"
# comment = "Office documents"
# grants = { alice = "full", everyone = "read" }
"""


def render_new_config(name: str, workgroup: str, owner: str) -> str:
    """The commented file ``peerwork init`` writes: each section's own template."""
    values = {
        "name": validate_peer_name(name),
        "workgroup": validate_workgroup(workgroup),
        "owner": owner,
    }
    parts = [_HEADER, *(s.template.format(**values) for s in SECTIONS), _SHARES]
    return "\n".join(parts)
