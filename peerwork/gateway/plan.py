"""What enabling the gateway would change, worked out before anything changes: pure.

:func:`make_plan` takes the wanted settings and what the machine looks like
now (:class:`Observed`) and returns a :class:`Plan`: the LAN address and pool
it will use, each change as a :class:`Step` (what it does in words, the
commands that make it, the commands that undo it), and the problems that
make ``enable`` refuse. ``enable`` runs exactly these steps and records them;
``disable`` runs the recorded undo commands in reverse, nothing else.

Rules: a hand-set LAN address is used, never replaced (an explicit, different
``lan_address`` is refused with the reason); the default LAN is
192.168.0.1/24, or the next /24 that collides with no other interface;
ip_forward is switched on only if it is off (and back off only then); all
rules live in nftables table ``inet peerwork``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Any

from peerwork.config.gateway import GatewaySection, parse_pool
from peerwork.errors import InvalidInput

NFT_TABLE = ("inet", "peerwork")
DEFAULT_LANS = (*(f"192.168.{i}.1/24" for i in range(10)), "10.42.0.1/24")


class StepKind(enum.Enum):
    LINK = "link"
    ADDRESS = "address"
    SYSCTL = "sysctl"
    NFTABLES = "nftables"
    SERVICE = "service"


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    text: str
    apply: tuple[tuple[str, ...], ...] = ()
    undo: tuple[tuple[str, ...], ...] = ()
    stdin: str = ""  # fed to the first apply command (the nft script)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "text": self.text,
            "apply": [list(a) for a in self.apply],
            "undo": [list(u) for u in self.undo],
            "stdin": self.stdin,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Step:
        try:
            return cls(
                StepKind(data["kind"]),
                str(data["text"]),
                tuple(tuple(str(x) for x in a) for a in data["apply"]),
                tuple(tuple(str(x) for x in u) for u in data["undo"]),
                str(data.get("stdin", "")),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidInput(f"not a gateway step: {exc}") from None


@dataclass(frozen=True, slots=True)
class Observed:
    """The machine as it is: IPv4 addresses and up/down of each interface that exists,
    net.ipv4.ip_forward, whether our nftables table exists, the resolvers it uses."""

    interfaces: Mapping[str, tuple[IPv4Interface, ...]]
    up: Mapping[str, bool] = field(default_factory=dict)
    ip_forward: bool = False
    nft_table: bool = False
    resolvers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Plan:
    uplink: str
    lan: str
    lan_address: IPv4Interface | None
    pool: tuple[IPv4Address, IPv4Address] | None
    upstreams: tuple[str, ...]
    steps: tuple[Step, ...]
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems and self.lan_address is not None and self.pool is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "uplink": self.uplink,
            "lan": self.lan,
            "lan_address": str(self.lan_address) if self.lan_address else None,
            "pool": [str(a) for a in self.pool] if self.pool else None,
            "upstreams": list(self.upstreams),
            "steps": [s.to_json() for s in self.steps],
            "problems": list(self.problems),
            "notes": list(self.notes),
            "ok": self.ok,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        try:
            pool = data["pool"]
            return cls(
                uplink=str(data["uplink"]),
                lan=str(data["lan"]),
                lan_address=IPv4Interface(data["lan_address"]) if data["lan_address"] else None,
                pool=(IPv4Address(pool[0]), IPv4Address(pool[1])) if pool else None,
                upstreams=tuple(str(u) for u in data["upstreams"]),
                steps=tuple(Step.from_json(s) for s in data["steps"]),
                problems=tuple(str(p) for p in data["problems"]),
                notes=tuple(str(n) for n in data["notes"]),
            )
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise InvalidInput(f"not a gateway plan: {exc}") from None


def make_plan(
    settings: GatewaySection, observed: Observed, existing_gateway: Sequence[str] = ()
) -> Plan:
    """``existing_gateway``: what recognition found on the LAN (each a sentence); any
    makes the plan refuse, since a second DHCP server on a LAN is an outage."""
    problems: list[str] = list(existing_gateway)
    notes: list[str] = []
    steps: list[Step] = []
    uplink, lan = settings.uplink, settings.lan
    if not uplink or not lan:
        problems.append("no uplink and lan interfaces given (--uplink IF --lan IF, or [gateway])")
        return Plan(uplink, lan, None, None, (), (), tuple(problems))
    if uplink == lan:
        problems.append(f"uplink and lan are both {lan}: the LAN needs its own interface")
    for role, name in (("uplink", uplink), ("lan", lan)):
        if name not in observed.interfaces:
            problems.append(f"{role} interface {name} does not exist on this PC")
    if uplink in observed.interfaces and not observed.interfaces[uplink]:
        notes.append(f"uplink {uplink} has no IPv4 address yet: NAT starts working once it has")
    address = _lan_address(settings, observed, problems, notes, steps)
    pool = _pool(settings, address, problems)
    upstreams = _upstreams(settings, observed, address)
    if not upstreams:
        problems.append("no upstream DNS resolver: set [gateway] upstreams or the uplink's DNS")
    if lan in observed.interfaces and not observed.up.get(lan, True):
        steps.insert(
            0,
            Step(
                StepKind.LINK,
                f"bring {lan} up",
                (("ip", "link", "set", lan, "up"),),
                (("ip", "link", "set", lan, "down"),),
            ),
        )
    if observed.ip_forward:
        notes.append("net.ipv4.ip_forward is already 1: left as it is (and by disable too)")
    else:
        steps.append(
            Step(
                StepKind.SYSCTL,
                "set net.ipv4.ip_forward = 1 (this PC forwards between its interfaces)",
                (("sysctl", "-q", "-w", "net.ipv4.ip_forward=1"),),
                (("sysctl", "-q", "-w", "net.ipv4.ip_forward=0"),),
            )
        )
    if observed.nft_table:
        problems.append(
            "nftables table inet peerwork exists already (another agent's, or left over): "
            "run 'peerwork gateway disable' or 'nft delete table inet peerwork' first"
        )
    if address is not None:
        steps.append(nat_step(uplink, lan, address.network))
    if address is not None and pool is not None:
        steps.append(
            Step(
                StepKind.SERVICE,
                f"serve DHCP on {lan} port {settings.dhcp_port}: pool {pool[0]}-{pool[1]}, "
                f"lease {settings.lease_time}s, router and DNS {address.ip}",
            )
        )
        steps.append(
            Step(
                StepKind.SERVICE,
                f"serve DNS on {address.ip} port {settings.dns_port} (UDP, TCP) for the LAN; "
                f"forward to {', '.join(upstreams) or 'nobody'}",
            )
        )
    return Plan(uplink, lan, address, pool, upstreams, tuple(steps), tuple(problems), tuple(notes))


def nft_script(uplink: str, lan: str, network: IPv4Network) -> str:
    """peerwork's own table: masquerade LAN → uplink, let replies back, nothing else in.
    The forward chain's policy stays accept so forwarding between other interfaces
    (containers, VPNs) is not peerwork's business."""
    return f"""\
table inet peerwork {{
  chain forward {{
    type filter hook forward priority filter; policy accept;
    iifname "{lan}" oifname "{uplink}" accept
    iifname "{uplink}" oifname "{lan}" ct state established,related accept
    iifname "{uplink}" oifname "{lan}" drop
  }}
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr {network} oifname "{uplink}" masquerade
  }}
}}
"""


def nat_step(uplink: str, lan: str, network: IPv4Network) -> Step:
    return Step(
        StepKind.NFTABLES,
        f"add nftables table inet peerwork: masquerade {network} out of {uplink}, "
        f"replies back to {lan}, nothing from {uplink} into {lan}",
        (("nft", "-f", "-"),),
        (("nft", "delete", "table", *NFT_TABLE),),
        nft_script(uplink, lan, network),
    )


def _lan_address(
    settings: GatewaySection,
    observed: Observed,
    problems: list[str],
    notes: list[str],
    steps: list[Step],
) -> IPv4Interface | None:
    lan = settings.lan
    present = observed.interfaces.get(lan, ())
    wanted = IPv4Interface(settings.lan_address) if settings.lan_address else None
    if present:
        found = present[0]
        if wanted is not None and wanted != found and wanted not in present:
            problems.append(
                f"{lan} has {found} set by hand and peerwork never replaces it: "
                f"leave out lan_address to use it, or change it yourself"
            )
            return None
        used = wanted or found
        notes.append(f"{lan} already has {used}: used as it is")
        return used
    if lan not in observed.interfaces:
        return wanted
    others = [
        a.network for name, addrs in observed.interfaces.items() if name != lan for a in addrs
    ]
    if wanted is not None:
        clash = next((n for n in others if n.overlaps(wanted.network)), None)
        if clash is not None:
            problems.append(f"lan_address {wanted} overlaps {clash} of another interface")
            return None
        chosen = wanted
    else:
        candidates = (IPv4Interface(c) for c in DEFAULT_LANS)
        found_free = next(
            (c for c in candidates if not any(n.overlaps(c.network) for n in others)), None
        )
        if found_free is None:
            problems.append("every default LAN network collides: set lan_address")
            return None
        if str(found_free) != DEFAULT_LANS[0]:
            notes.append(f"{DEFAULT_LANS[0]} collides with another interface: using {found_free}")
        chosen = found_free
    steps.append(
        Step(
            StepKind.ADDRESS,
            f"add address {chosen} to {lan}",
            (("ip", "addr", "add", str(chosen), "dev", lan),),
            (("ip", "addr", "del", str(chosen), "dev", lan),),
        )
    )
    return chosen


def _pool(
    settings: GatewaySection, address: IPv4Interface | None, problems: list[str]
) -> tuple[IPv4Address, IPv4Address] | None:
    if address is None:
        return None
    network = address.network
    if settings.pool:
        first, last = parse_pool(settings.pool)
        if first not in network or last not in network:
            problems.append(f"pool {first}-{last} is not inside the LAN {network}")
            return None
        return first, last
    if network.num_addresses < 4:
        problems.append(f"the LAN {network} is too small for a DHCP pool")
        return None
    first = network.network_address + 1
    if first == address.ip:
        first += 1
    return first, network.broadcast_address - 1


def _upstreams(
    settings: GatewaySection, observed: Observed, address: IPv4Interface | None
) -> tuple[str, ...]:
    chosen = settings.upstreams or observed.resolvers
    own = str(address.ip) if address is not None else ""
    return tuple(u for u in chosen if u.split(":")[0] != own)
