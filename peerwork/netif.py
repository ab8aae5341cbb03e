"""Network interfaces: list them with their addresses, and choose which discovery uses.

Listing uses the kernel directly, no subprocess: ``socket.if_nameindex()`` for
names, the ``SIOCGIFFLAGS`` ioctl for flags, ``SIOCGIFCONF`` (which returns
every IPv4 address, secondaries included) plus ``SIOCGIFNETMASK`` for IPv4, and
``/proc/net/if_inet6`` for IPv6. It sees the network namespace the process
runs in, which is what the namespace tests rely on. Linux only.

Selection (:func:`select_interfaces`) is a pure function: names configured in
``discovery.interfaces`` are honoured as given (``lo`` and veth names too,
which tests use); by default every interface that is UP and MULTICAST with a
non-link-local IPv4 address is used, except loopback and container/VPN
devices (docker*, br-*, veth*, virbr*, tun*, tap*, wg*, tailscale*, zt*),
where announcing would leak the PC's name into places nobody browses.
"""

from __future__ import annotations

import array
import enum
import fcntl
import ipaddress
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from peerwork.errors import ConfigError

SIOCGIFCONF = 0x8912
SIOCGIFFLAGS = 0x8913
SIOCGIFNETMASK = 0x891B
_IFNAMSIZ = 16
# struct ifreq: 16-byte name plus a union whose largest member (struct ifmap)
# is 24 bytes on 64-bit and 16 on 32-bit platforms.
_IFREQ_SIZE = _IFNAMSIZ + (24 if struct.calcsize("P") == 8 else 16)
EXCLUDED_PREFIXES = ("docker", "br-", "veth", "virbr", "tun", "tap", "wg", "tailscale", "zt")


class IfFlag(enum.IntFlag):
    UP = 0x1
    BROADCAST = 0x2
    LOOPBACK = 0x8
    POINTOPOINT = 0x10
    RUNNING = 0x40
    MULTICAST = 0x1000


@dataclass(frozen=True, slots=True)
class Interface:
    name: str
    index: int
    flags: IfFlag
    ipv4: tuple[ipaddress.IPv4Interface, ...] = ()
    ipv6: tuple[ipaddress.IPv6Interface, ...] = ()

    @property
    def up(self) -> bool:
        return IfFlag.UP in self.flags

    @property
    def multicast(self) -> bool:
        return IfFlag.MULTICAST in self.flags

    @property
    def loopback(self) -> bool:
        return IfFlag.LOOPBACK in self.flags

    @property
    def usable_ipv4(self) -> tuple[ipaddress.IPv4Interface, ...]:
        return tuple(a for a in self.ipv4 if not a.ip.is_link_local)

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "index": self.index,
            "flags": [f.name for f in IfFlag if f in self.flags and f.name],
            "ipv4": [str(a) for a in self.ipv4],
            "ipv6": [str(a) for a in self.ipv6],
        }


@dataclass(frozen=True, slots=True)
class Selection:
    """The interfaces discovery uses, and why each other one was left out."""

    chosen: tuple[Interface, ...]
    skipped: tuple[tuple[str, str], ...]  # (interface name, reason)

    @property
    def ipv4_addresses(self) -> tuple[str, ...]:
        return tuple(str(a.ip) for i in self.chosen for a in i.usable_ipv4)


def select_interfaces(interfaces: Sequence[Interface], configured: Sequence[str]) -> Selection:
    """Pick interfaces per ``discovery.interfaces``; ConfigError if none is usable."""
    by_name = {i.name: i for i in interfaces}
    chosen: list[Interface] = []
    skipped: list[tuple[str, str]] = []
    if configured:
        for name in configured:
            iface = by_name.get(name)
            if iface is None:
                skipped.append((name, "no such interface"))
            elif not iface.usable_ipv4:
                skipped.append((name, "has no IPv4 address"))
            elif not iface.up:
                skipped.append((name, "is down"))
            else:
                chosen.append(iface)
        if not chosen:
            found = ", ".join(sorted(by_name)) or "none"
            why = "; ".join(f"{n} {r}" for n, r in skipped)
            raise ConfigError(
                f"discovery.interfaces {list(configured)} gives no usable interface ({why}); "
                f"interfaces here: {found}"
            )
        return Selection(tuple(chosen), tuple(skipped))
    for iface in interfaces:
        reason = _default_exclusion(iface)
        if reason:
            skipped.append((iface.name, reason))
        else:
            chosen.append(iface)
    if not chosen:
        why = "; ".join(f"{n}: {r}" for n, r in skipped) or "no interfaces at all"
        raise ConfigError(
            f"no network interface suitable for discovery ({why}); set discovery.interfaces "
            'in peerwork.toml, e.g. [discovery] interfaces = ["eth0"]'
        )
    return Selection(tuple(chosen), tuple(skipped))


def _default_exclusion(iface: Interface) -> str:
    if iface.loopback:
        return "loopback"
    if iface.name.startswith(EXCLUDED_PREFIXES):
        return "container or VPN device"
    if not iface.up:
        return "down"
    if not iface.multicast:
        return "no multicast"
    if not iface.usable_ipv4:
        return "no IPv4 address"
    return ""


def list_interfaces() -> list[Interface]:
    """Every interface of this network namespace with its flags and addresses."""
    v6 = _read_if_inet6()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        fd = sock.fileno()
        v4: dict[str, list[ipaddress.IPv4Interface]] = {}
        for label, addr in parse_ifconf(_ifconf(fd)):
            prefix = _prefix_len(_netmask(fd, label))
            base = label.split(":", 1)[0]  # "eth0:1" aliases belong to eth0
            v4.setdefault(base, []).append(ipaddress.IPv4Interface(f"{addr}/{prefix}"))
        result = []
        for index, name in socket.if_nameindex():
            try:
                flags = _flags(fd, name)
            except OSError:
                continue  # vanished between listing and asking
            result.append(
                Interface(
                    name,
                    index,
                    flags,
                    tuple(v4.get(name, ())),
                    tuple(a for n, a in v6 if n == name),
                )
            )
        return result


def parse_ifconf(buf: bytes) -> list[tuple[str, ipaddress.IPv4Address]]:
    """Decode the ``struct ifreq`` array that SIOCGIFCONF fills in."""
    out = []
    for off in range(0, len(buf) - _IFREQ_SIZE + 1, _IFREQ_SIZE):
        name = buf[off : off + _IFNAMSIZ].split(b"\0", 1)[0].decode("utf-8", "replace")
        family = struct.unpack_from("=H", buf, off + _IFNAMSIZ)[0]
        if family != socket.AF_INET or not name:
            continue
        out.append((name, ipaddress.IPv4Address(buf[off + 20 : off + 24])))
    return out


def parse_if_inet6(text: str) -> list[tuple[str, ipaddress.IPv6Interface]]:
    """Decode ``/proc/net/if_inet6``: ``addr32hex ifindex prefix scope flags name`` lines."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 6 or len(parts[0]) != 32:
            continue
        try:
            raw = bytes.fromhex(parts[0])
            prefix = int(parts[2], 16)
        except ValueError:
            continue
        if not 0 <= prefix <= 128:
            continue
        out.append((parts[5], ipaddress.IPv6Interface((ipaddress.IPv6Address(raw), prefix))))
    return out


def _read_if_inet6() -> list[tuple[str, ipaddress.IPv6Interface]]:
    try:
        return parse_if_inet6(Path("/proc/net/if_inet6").read_text())
    except OSError:
        return []  # IPv6 disabled


def _ifconf(fd: int) -> bytes:
    size = _IFREQ_SIZE * 32
    for _ in range(8):  # grow until the kernel leaves room to spare
        buf = array.array("B", bytes(size))
        addr, _n = buf.buffer_info()
        req = struct.pack("iP", size, addr)
        got = struct.unpack("iP", fcntl.ioctl(fd, SIOCGIFCONF, req))[0]
        if got < size:
            return buf.tobytes()[:got]
        size *= 4
    return buf.tobytes()[:got]


def _ifreq(fd: int, request: int, name: str) -> bytes:
    req = struct.pack(f"{_IFNAMSIZ}s{_IFREQ_SIZE - _IFNAMSIZ}x", name.encode()[: _IFNAMSIZ - 1])
    return fcntl.ioctl(fd, request, req)


def _flags(fd: int, name: str) -> IfFlag:
    return IfFlag(struct.unpack_from("=H", _ifreq(fd, SIOCGIFFLAGS, name), _IFNAMSIZ)[0])


def _netmask(fd: int, label: str) -> ipaddress.IPv4Address:
    try:
        raw = _ifreq(fd, SIOCGIFNETMASK, label)
    except OSError:
        return ipaddress.IPv4Address("255.255.255.255")
    return ipaddress.IPv4Address(raw[20:24])


def _prefix_len(mask: ipaddress.IPv4Address) -> int:
    return bin(int(mask)).count("1")
