"""``[discovery]``: mDNS announce and browse."""

from __future__ import annotations

from dataclasses import dataclass

from .section import ConfigSection


@dataclass(frozen=True, slots=True)
class DiscoverySection:
    enabled: bool = True
    # Interface names to announce and browse on; empty means every interface with a
    # usable IPv4 address, skipping loopback and container/VPN bridges.
    interfaces: tuple[str, ...] = ()
    # Seconds between checks for changed interface addresses (a DHCP renewal, a cable
    # moved to another network): discovery re-announces with the new addresses.
    address_check: float = 10.0


DISCOVERY = ConfigSection(
    "discovery",
    DiscoverySection,
    """\
[discovery]
enabled = true
interfaces = []           # e.g. ["eth0"]; empty: every LAN interface (not loopback, docker, VPN)
address_check = 10        # seconds between checks for a changed address (then re-announce)
""",
)
