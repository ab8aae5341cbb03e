"""``[wsdiscovery]``: WS-Discovery, so Windows Explorer lists this PC."""

from __future__ import annotations

from dataclasses import dataclass

from .read import as_port, setting
from .section import ConfigSection


@dataclass(frozen=True, slots=True)
class WsdSection:
    """WS-Discovery, so Windows Explorer lists this PC; it runs on discovery's interfaces
    and only while discovery is enabled."""

    enabled: bool = True
    port: int = setting(3702, as_port)  # SOAP-over-UDP; Windows probes only 3702
    # Metadata exchange; 0 picks a free port (announced in XAddrs).
    http_port: int = setting(5357, as_port)
    # Also on each interface's IPv6 link-local address (ff02::c); off like discovery's IPv6.
    ipv6: bool = False


WSDISCOVERY = ConfigSection(
    "wsdiscovery",
    WsdSection,
    """\
[wsdiscovery]             # WS-Discovery: how Windows Explorer's Network folder finds this PC
enabled = true            # runs on the [discovery] interfaces, only while discovery is enabled
port = 3702               # UDP, multicast 239.255.255.250 (Windows probes only 3702)
http_port = 5357          # TCP, the metadata Windows fetches (name and workgroup)
ipv6 = false              # true: also on each interface's IPv6 link-local address (ff02::c)
""",
)
