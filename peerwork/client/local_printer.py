"""Where to send a job for a printer of this PC: its ipp:// address from the printers
service's status (what ``peerwork print`` and the TUI's Printers screen both use)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peerwork.errors import NotFound

# A service bound to every address is reached on loopback from this PC.
_ANY = ("0.0.0.0", "", "::")


def local_printer_uri(status: Mapping[str, Any], name: str = "") -> str:
    """The ipp:// URI of this PC's printer ``name`` (its first printer when ""), from
    ``GET /v1/printers``; NotFound when no such printer is shared here."""
    details = status.get("details", {})
    printers = details.get("printers", []) if isinstance(details, Mapping) else []
    if not isinstance(printers, list):
        printers = []
    chosen = next(
        (
            p
            for p in printers
            if isinstance(p, Mapping)
            and isinstance(p.get("name"), str)
            and p["name"]
            and (not name or p["name"].lower() == name.lower())
        ),
        None,
    )
    ports = status.get("ports")
    port = ports.get("ipp") if isinstance(ports, Mapping) else None
    if chosen is None or not isinstance(port, int) or isinstance(port, bool) or port <= 0:
        which = f"printer {name}" if name else "printer"
        raise NotFound(f"no {which} shared here (see peerwork printers)")
    bind = details.get("bind", "0.0.0.0") if isinstance(details, Mapping) else "0.0.0.0"
    host = "127.0.0.1" if not isinstance(bind, str) or bind in _ANY else bind
    return f"ipp://{host}:{port}/ipp/print/{chosen['name']}"
