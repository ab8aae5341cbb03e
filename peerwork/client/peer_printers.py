"""The printers other PCs of the workgroup share, from ``/v1/peers`` (their signed
records: printer names and the ipp/ipps ports they announce). Impostors are left out.
Shared by ``peerwork printers``/``print`` and the terminal UI."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def peer_printers(peers: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``{"peer", "name", "uri", "ipps_uri", "peer_id"}`` for each printer of each usable
    peer (``peer_id``: the key an ipps:// client pins)."""
    found = []
    for peer in peers:
        ports = peer.get("ports", {})
        if peer.get("state") == "impostor" or not ports.get("ipp") or not peer.get("addresses"):
            continue
        host = peer["addresses"][0]
        host = f"[{host}]" if ":" in host else host
        for name in peer.get("printers", []):
            ipps = ports.get("ipps")
            found.append(
                {
                    "peer": peer["name"],
                    "name": name,
                    "uri": f"ipp://{host}:{ports['ipp']}/ipp/print/{name}",
                    "ipps_uri": f"ipps://{host}:{ipps}/ipp/print/{name}" if ipps else None,
                    "peer_id": peer.get("peer_id", ""),
                }
            )
    return found
