"""Where a client command goes: parse ``//PEER/SHARE/path`` and resolve PEER.

PEER is either a peer name the local agent has discovered (``FRONTDESK``,
matched case-insensitively) or a host name / IP with an optional port
(``10.0.0.5``, ``pc.lan:4445``, ``[fe80::1]:445``).

Resolution order for PEER:

1. If it carries an explicit port (``host:port``) it is used as given.
2. Otherwise the local agent is asked (``GET /v1/peers``); a *verified*
   peer whose ``name`` matches gives ``addresses[0]`` (an address its signed
   record names) and its signed ``smb`` port. A name the agent knows only
   from an impostor's or an unverified record is refused
   (:class:`~peerwork.errors.UntrustedPeer`): connecting there would hand
   the stranger our files and our logon.
3. Otherwise PEER is a host name or address, on port ``$PEERWORK_SMB_PORT``
   if set, else 445 (what every SMB server and peerwork-as-root listen on).

Remote paths follow the server's own rules (peerwork.pathsafety): no ``..``,
no stream syntax (``:``), no wildcards, no reserved device names, no control
characters; empty and ``.`` components are dropped. A path that breaks them
is refused here, before any packet is sent, with
:class:`~peerwork.errors.PathEscape` or :class:`~peerwork.errors.InvalidInput`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peerwork import pathsafety
from peerwork.errors import (
    AgentNotRunning,
    InvalidInput,
    PathEscape,
    PeerworkError,
    UntrustedPeer,
)
from peerwork.proto.ntstatus import NtStatusError

DEFAULT_SMB_PORT = 445
PORT_ENV = "PEERWORK_SMB_PORT"

MAX_SHARE_NAME = 80
_BAD_CHARS = frozenset('<>"|?*')
_HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,252})?$")


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed ``//PEER[/SHARE[/path]]``.

    ``parts`` are the path's components below the share, already checked;
    an empty tuple is the share's root.
    """

    peer: str
    share: str | None = None
    parts: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        """The path inside the share, ``/``-separated, ``""`` for the root."""
        return "/".join(self.parts)

    @property
    def name(self) -> str:
        """The last path component, ``""`` for the share's root."""
        return self.parts[-1] if self.parts else ""

    def child(self, name: str) -> Target:
        return Target(self.peer, self.share, (*self.parts, *split_remote_path(name)))

    def __str__(self) -> str:
        text = f"//{self.peer}"
        if self.share is not None:
            text += f"/{self.share}"
        if self.parts:
            text += "/" + self.path
        return text


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where to connect for a peer: address, port and the name to show/use."""

    host: str
    port: int
    name: str  # as the user wrote it, or the discovered peer's name
    discovered: bool = False

    @property
    def display(self) -> str:
        if self.port == DEFAULT_SMB_PORT:
            return self.name
        return f"{self.name}:{self.port}"


def split_remote_path(path: str) -> tuple[str, ...]:
    """Split a path inside a share into checked components.

    Accepts ``/`` and ``\\`` as separators; empty and ``.`` components are
    dropped. Raises PathEscape for ``..``, streams and device names, and
    InvalidInput for characters no SMB server accepts.
    """
    parts: list[str] = []
    for raw in re.split(r"[\\/]", path):
        if raw in ("", "."):
            continue
        parts.append(check_component(raw))
    return tuple(parts)


def check_component(name: str) -> str:
    """Refuse one path component the server would refuse; return it NFC-normalised.

    The rules are the server's own (:func:`peerwork.pathsafety.check_component`);
    only the error is translated: ``..``, streams and device names are attempts
    to leave the share (PathEscape), the rest is a bad name (InvalidInput).
    """
    try:
        return pathsafety.check_component(name)
    except NtStatusError as exc:
        detail = exc.detail or exc.status.name
        if name == "..":
            raise PathEscape(f"'{name}': a path may not go up out of the share ('..')") from None
        if ":" in name:
            raise PathEscape(
                f"'{name}': ':' (alternate data streams) is not allowed in a path"
            ) from None
        if pathsafety.is_device_name(name):
            raise PathEscape(f"'{name}': a reserved device name is not allowed in a path") from None
        raise InvalidInput(f"'{name}' is not allowed in a path: {detail}") from None


def check_share_name(share: str) -> None:
    if not share or len(share) > MAX_SHARE_NAME:
        raise InvalidInput(f"'{share}': a share name has 1 to {MAX_SHARE_NAME} characters")
    if any(ord(c) < 0x20 for c in share) or set(share) & (_BAD_CHARS | set(":/\\[]=;,+")):
        raise InvalidInput(f"'{share}' is not a valid share name")
    if share in (".", ".."):
        raise PathEscape(f"'{share}' is not a share name")


def parse_target(text: str, *, need_share: bool = False, need_path: bool = False) -> Target:
    """Parse ``//PEER``, ``//PEER/SHARE`` or ``//PEER/SHARE/path`` (``\\\\`` works too).

    A bare ``PEER`` (no leading slashes) is accepted as ``//PEER``.
    """
    norm = text.replace("\\", "/")
    if norm.startswith("//"):
        norm = norm[2:]
    elif norm.startswith("/"):
        raise InvalidInput(f"'{text}': write a remote path as //PEER/SHARE/path")
    peer, _, rest = norm.partition("/")
    if not peer:
        raise InvalidInput(f"'{text}': no peer given; write //PEER/SHARE/path")
    parse_peer(peer)
    share_text, _, path = rest.partition("/")
    share = share_text or None
    if share is not None:
        check_share_name(share)
    parts = split_remote_path(path)
    if need_share and share is None:
        raise InvalidInput(f"'{text}': no share given; write //{peer}/SHARE/path")
    if need_path and not parts:
        raise InvalidInput(f"'{text}': no file given; write //{peer}/{share or 'SHARE'}/path")
    return Target(peer=peer, share=share, parts=parts)


def parse_peer(peer: str) -> tuple[str, int | None]:
    """Split ``host``, ``host:port`` or ``[v6]:port`` into host and port."""
    host, port_text = peer, ""
    if peer.startswith("["):
        end = peer.find("]")
        if end < 0:
            raise InvalidInput(f"'{peer}': missing ']' after an IPv6 address")
        host, tail = peer[1:end], peer[end + 1 :]
        if tail and not tail.startswith(":"):
            raise InvalidInput(f"'{peer}': expected ':PORT' after ']'")
        port_text = tail[1:]
        if not host or not all(c in "0123456789abcdefABCDEF:.%" or c.isalnum() for c in host):
            raise InvalidInput(f"'{peer}' is not a valid IPv6 address")
    elif peer.count(":") == 1:
        host, port_text = peer.split(":")
    if not peer.startswith("[") and not _HOST_RE.match(host):
        raise InvalidInput(f"'{peer}' is not a peer name, host name or address")
    if peer.startswith("[") or ":" in peer:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            if port_text or not peer.startswith("["):
                raise InvalidInput(f"'{peer}': the port must be a number from 1 to 65535")
            return host, None
        return host, int(port_text)
    return host, None


def default_port(env: dict[str, str] | None = None) -> int:
    value = (os.environ if env is None else env).get(PORT_ENV, "")
    if not value:
        return DEFAULT_SMB_PORT
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise InvalidInput(f"{PORT_ENV}={value!r}: must be a port number from 1 to 65535")
    return int(value)


PeerLookup = Callable[[], list[dict[str, Any]]]


def agent_peers(socket_path: Path) -> PeerLookup:
    """A lookup that asks the agent at ``socket_path`` for its peer table."""

    def lookup() -> list[dict[str, Any]]:
        from peerwork.control import ControlClient

        peers = ControlClient(socket_path).get("/peers")
        if isinstance(peers, dict):
            peers = peers.get("peers", [])
        return [p for p in peers if isinstance(p, dict)] if isinstance(peers, list) else []

    return lookup


def resolve_peer(
    peer: str, lookup: PeerLookup | None = None, env: dict[str, str] | None = None
) -> Endpoint:
    """Turn PEER into an address and port (see the module docstring for the order)."""
    host, port = parse_peer(peer)
    if port is not None:
        return Endpoint(host=host, port=port, name=peer)
    if lookup is not None:
        try:
            peers = lookup()
        except AgentNotRunning:
            peers = []
        except PeerworkError:
            # A broken agent should not stop a copy to a plain host name.
            peers = []
        matches = [
            e
            for e in peers
            if isinstance(e.get("name"), str) and e["name"].casefold() == host.casefold()
        ]
        for entry in matches:
            addresses = entry.get("addresses") or []
            if _trust(entry) in _CONNECTABLE and addresses:
                smb_port = _ports(entry).get("smb") or DEFAULT_SMB_PORT
                return Endpoint(
                    host=str(addresses[0]), port=int(smb_port), name=entry["name"], discovered=True
                )
        if matches:
            raise UntrustedPeer(_refusal(host, matches))
    return Endpoint(host=host, port=default_port(env), name=host)


# A verified record (no workgroup key here) or a member's; never a non-member's or a
# revoked PC's, though their records are signed too.
_CONNECTABLE = frozenset({"verified", "member"})


def _trust(entry: dict[str, Any]) -> str:
    state = entry.get("state")
    if isinstance(state, str):
        return state
    return "verified" if entry.get("verified") is True else "unverified"


def _ports(entry: dict[str, Any]) -> dict[str, int]:
    ports = entry.get("ports")
    if isinstance(ports, dict):
        return {str(k): int(v) for k, v in ports.items() if isinstance(v, int)}
    port = entry.get("smb_port")
    return {"smb": port} if isinstance(port, int) else {}


def _refusal(name: str, matches: list[dict[str, Any]]) -> str:
    # Everything here came off the network: only our own words and the typed name.
    if any(_trust(e) == "impostor" for e in matches):
        return (
            f"{name} is announced by an impostor (another key than the one {name} was first "
            "seen with); refusing to connect. 'peerwork peers' shows the warning."
        )
    if any(_trust(e) in _CONNECTABLE for e in matches):
        return f"{name}'s signed record names no address here; refusing to connect"
    if any(_trust(e) in ("not-a-member", "revoked") for e in matches):
        return (
            f"{name} is not a member of this workgroup (see 'peerwork peers'); refusing to "
            "connect. If you trust that PC, connect to its address instead (//ADDRESS/SHARE)."
        )
    return (
        f"{name}'s announcement does not verify; refusing to connect. If you trust that PC, "
        "connect to its address instead (//ADDRESS/SHARE)."
    )
