"""``peerwork.toml``: one typed reader per section, the whole file's view, round-trip edits.

- :mod:`.read`: the typed-reader toolkit every section uses.
- :mod:`.section`: :class:`ConfigSection` (name, dataclass, reader, template).
- ``peer``, ``discovery``, ``wsdiscovery``, ``files``, ``channel``: one module per
  section, its dataclass beside its :class:`ConfigSection`.
- :mod:`.model`: :class:`Config`, :data:`SECTIONS`, ``parse_config``, ``render_new_config``.
- :mod:`.document`: :class:`ConfigFile`, the file on disk (tomlkit, atomic saves).
"""

from __future__ import annotations

from .channel import CHANNEL, DEFAULT_CHANNEL_PORT, ChannelSection
from .discovery import DISCOVERY, DiscoverySection
from .document import ConfigFile, EditCheck
from .files import FILES, FilesSection, default_smb_port, privileged
from .model import (
    SECTIONS,
    Config,
    changed_sections,
    parse_config,
    render_new_config,
    section_named,
)
from .peer import PEER, PeerSection, validate_peer_name, validate_workgroup
from .read import section_table
from .section import ConfigSection
from .value import parse_value
from .wsdiscovery import WSDISCOVERY, WsdSection

__all__ = [
    "CHANNEL",
    "DEFAULT_CHANNEL_PORT",
    "DISCOVERY",
    "FILES",
    "PEER",
    "SECTIONS",
    "WSDISCOVERY",
    "ChannelSection",
    "Config",
    "ConfigFile",
    "ConfigSection",
    "DiscoverySection",
    "EditCheck",
    "FilesSection",
    "PeerSection",
    "WsdSection",
    "changed_sections",
    "default_smb_port",
    "parse_config",
    "parse_value",
    "privileged",
    "render_new_config",
    "section_named",
    "section_table",
    "validate_peer_name",
    "validate_workgroup",
]
