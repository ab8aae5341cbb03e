"""``[gateway]``: make this PC the office's Internet gateway (DHCP, DNS, NAT) — or not.

Nothing happens on any interface until ``uplink`` and ``lan`` are set (here
or by ``peerwork gateway enable --uplink IF --lan IF``); then the agent first
looks for a gateway the LAN already has, and stands down if it finds one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv4Interface
from typing import Any

from peerwork.errors import ConfigError, InvalidInput

from .read import as_port, plain, setting, setting_factory
from .section import ConfigSection

_MAC = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
_IFNAME = re.compile(r"^[A-Za-z0-9_.:@-]{1,15}$")


def as_reservations(
    table: Mapping[str, Any], key: str, where: str, default: Any
) -> dict[str, IPv4Address]:
    """``{ "02:00:00:aa:bb:cc" = "192.168.0.10" }``: MAC (any case) → address."""
    value = plain(table.get(key, default))
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}.{key} must be a table of MAC = address, not {value!r}")
    out: dict[str, IPv4Address] = {}
    for mac, address in value.items():
        mac_key = str(mac).lower().replace("-", ":")
        if not _MAC.match(mac_key):
            raise ConfigError(
                f"{where}.{key} entry {mac!r} is not a MAC address (aa:bb:cc:dd:ee:ff)"
            )
        try:
            out[mac_key] = IPv4Address(str(address))
        except ValueError:
            raise ConfigError(f"{where}.{key} entry {address!r} is not an IPv4 address") from None
    return out


def parse_pool(text: str) -> tuple[IPv4Address, IPv4Address]:
    """``"192.168.0.100-192.168.0.199"`` (or ``"…100-199"``, the last octet only)."""
    first, sep, last = text.partition("-")
    if not sep:
        raise InvalidInput(f"pool {text!r} must be FIRST-LAST (192.168.0.100-192.168.0.199)")
    try:
        start = IPv4Address(first.strip())
        if last.strip().isdigit():
            end = IPv4Address(".".join([*str(start).split(".")[:3], last.strip()]))
        else:
            end = IPv4Address(last.strip())
    except ValueError:
        raise InvalidInput(f"pool {text!r} is not two IPv4 addresses") from None
    if int(end) < int(start):
        raise InvalidInput(f"pool {text!r} ends before it starts")
    return start, end


def check_interface_name(name: str, what: str) -> str:
    if name and not _IFNAME.match(name):
        raise InvalidInput(f"{what} {name!r} is not an interface name")
    return name


@dataclass(frozen=True, slots=True)
class GatewaySection:
    """``uplink``/``lan``: interface names ("" = not configured: the service stays idle).
    ``lan_address``: CIDR for the LAN side ("" = the one set by hand, else 192.168.0.1/24
    or the next /24 that does not collide with the uplink). ``pool``: "A-B" ("" = every
    other host address of the LAN). ``upstreams``: DNS resolvers ("" = the uplink's,
    from resolv.conf)."""

    enabled: bool = True
    uplink: str = ""
    lan: str = ""
    lan_address: str = ""
    pool: str = ""
    domain: str = ""
    lease_time: int = 86400
    upstreams: tuple[str, ...] = ()
    reservations: Mapping[str, IPv4Address] = setting_factory(dict, as_reservations)
    dhcp_port: int = setting(67, as_port)
    dns_port: int = setting(53, as_port)
    conflict_check: bool = True
    # How long to listen for another DHCP server's OFFER: dnsmasq pings an address ~3 s first.
    probe_seconds: float = 5.0
    watch_seconds: float = 30.0  # while active: between probes for a rogue DHCP server
    priority: int = setting(0, as_port)  # for the election among gateway-capable PCs

    @property
    def configured(self) -> bool:
        return bool(self.uplink and self.lan)


def finish_gateway(section: GatewaySection) -> GatewaySection:
    check_interface_name(section.uplink, "gateway.uplink")
    check_interface_name(section.lan, "gateway.lan")
    if section.configured and section.uplink == section.lan:
        raise InvalidInput(
            f"gateway.uplink and gateway.lan are both {section.lan!r}: they must differ"
        )
    if section.lan_address:
        try:
            IPv4Interface(section.lan_address)
        except ValueError:
            raise InvalidInput(
                f"gateway.lan_address {section.lan_address!r} is not an address/prefix"
            ) from None
    if section.pool:
        try:
            parse_pool(section.pool)
        except InvalidInput as exc:
            raise InvalidInput(f"gateway.{exc.message}") from None
    for upstream in section.upstreams:
        try:
            IPv4Address(upstream.rsplit(":", 1)[0] if upstream.count(":") == 1 else upstream)
        except ValueError:
            raise InvalidInput(
                f"gateway.upstreams entry {upstream!r} is not an IPv4 address[:port]"
            ) from None
    domain = section.domain.lower().strip(".")
    if domain and not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)*", domain):
        raise InvalidInput(f"gateway.domain {section.domain!r} is not a DNS domain")
    return replace(section, domain=domain)


GATEWAY = ConfigSection(
    "gateway",
    GatewaySection,
    """\
[gateway]                 # Internet gateway for the LAN: DHCP, DNS, NAT (root only)
enabled = true            # idle until uplink and lan are set
# uplink = "eth0"         # the interface with the Internet connection
# lan = "eth1"            # the office side; a hand-set address there is used, never replaced
# lan_address = "192.168.0.1/24"
# pool = "192.168.0.2-192.168.0.254"
# reservations = {{ "02:00:00:aa:bb:cc" = "192.168.0.10" }}
""",
    finish_gateway,
)
