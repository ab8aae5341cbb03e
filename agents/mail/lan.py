"""Is an SMTP client on the LAN? The LAN is the subnets of this PC's own interfaces.

Relaying to other domains is for authenticated accounts on the LAN only: an
account whose password leaked still cannot make the PC relay for a host out on
the Internet (say, through a port forward on the router).
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Iterable, Sequence

from peerwork.netif import Interface, list_interfaces

log = logging.getLogger("peerwork.mail")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Seconds the interface list is reused: addresses change rarely, RCPTs come often.
REFRESH = 30.0


def lan_networks(interfaces: Iterable[Interface]) -> tuple[Network, ...]:
    """The subnets of every interface that is up (loopback included: this PC itself)."""
    found: list[Network] = []
    for iface in interfaces:
        if iface.up:
            found += [a.network for a in iface.ipv4]
            found += [a.network for a in iface.ipv6]
    return tuple(found)


def on_lan(address: str, networks: Sequence[Network]) -> bool:
    """Whether ``address`` (as a socket names its peer) is inside one of ``networks``."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == n.version and ip in n for n in networks)


class LanCheck:
    def __init__(
        self,
        interfaces: Callable[[], Sequence[Interface]] = list_interfaces,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interfaces = interfaces
        self._clock = clock
        self._networks: tuple[Network, ...] = ()
        self._read_at: float | None = None

    def __call__(self, address: str) -> bool:
        now = self._clock()
        if self._read_at is None or now - self._read_at > REFRESH:
            try:
                self._networks = lan_networks(self._interfaces())
            except OSError as exc:
                log.warning("mail: cannot list this PC's interfaces: %s", exc)
            self._read_at = now
        return on_lan(address, self._networks)
