"""What the machine looks like now, for the plan: interfaces, ip_forward, our nftables
table, the resolvers in resolv.conf, and a default route on the LAN side."""

from __future__ import annotations

import shutil
import subprocess
from ipaddress import IPv4Address
from pathlib import Path

from peerwork.gateway.plan import NFT_TABLE, Observed
from peerwork.netif import list_interfaces

IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
RESOLV_CONF = Path("/etc/resolv.conf")
PROC_ROUTE = Path("/proc/net/route")


def observe() -> Observed:
    """Blocking (it may run ``nft``): call it from a thread."""
    interfaces = list_interfaces()
    return Observed(
        interfaces={i.name: i.usable_ipv4 for i in interfaces if not i.loopback},
        up={i.name: i.up for i in interfaces},
        ip_forward=_read(IP_FORWARD).strip() == "1",
        nft_table=nft_table_exists(),
        resolvers=parse_resolv_conf(_read(RESOLV_CONF)),
    )


def nft_table_exists() -> bool:
    if shutil.which("nft") is None:
        return False
    result = subprocess.run(
        ["nft", "list", "table", *NFT_TABLE], capture_output=True, text=True, check=False
    )
    return result.returncode == 0


def parse_resolv_conf(text: str) -> tuple[str, ...]:
    """The IPv4 ``nameserver`` lines of a resolv.conf, in order."""
    found: list[str] = []
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                found.append(str(IPv4Address(parts[1])))
            except ValueError:
                continue
    return tuple(found)


def parse_default_routes(text: str) -> dict[str, IPv4Address]:
    """Interface → gateway of each IPv4 default route in ``/proc/net/route``."""
    routes: dict[str, IPv4Address] = {}
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 8 or parts[1] != "00000000" or parts[7] != "00000000":
            continue
        try:
            gateway = IPv4Address(int(parts[2], 16).to_bytes(4, "little"))
        except ValueError:
            continue
        routes[parts[0]] = gateway
    return routes


def default_routes() -> dict[str, IPv4Address]:
    return parse_default_routes(_read(PROC_ROUTE))


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
