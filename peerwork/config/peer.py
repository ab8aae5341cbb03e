"""``[peer]``: this PC's name, its workgroup and the account that owns it."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from peerwork.errors import InvalidInput

from .read import as_str, setting
from .section import ConfigSection

_PEER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,14}$")
_WORKGROUP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,14}$")


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
    # The "" defaults only stand for "absent": the reader refuses them as names.
    name: str = setting("", as_str)
    workgroup: str = setting("", as_str)
    owner: str = ""


def _checked(peer: PeerSection) -> PeerSection:
    return replace(
        peer, name=validate_peer_name(peer.name), workgroup=validate_workgroup(peer.workgroup)
    )


PEER = ConfigSection(
    "peer",
    PeerSection,
    """\
[peer]
name = "{name}"            # this PC's name on the LAN (NetBIOS style)
workgroup = "{workgroup}"       # every PC of the office uses the same workgroup
owner = "{owner}"             # account that 'peerwork share' grants full access by default
""",
    _checked,
)
