"""DHCPv4 messages (RFC 2131) and their options (RFC 2132, 3396, 3397, 4702), sans-IO.

:meth:`DhcpPacket.parse` takes one UDP payload and returns the BOOTP header
plus the options, with repeated options concatenated (RFC 3396) and options
carried in the ``file``/``sname`` fields (option 52, overload) merged in;
:meth:`DhcpPacket.pack` writes them back, splitting long options, padded to
BOOTP's 300-byte minimum. Anything malformed raises :class:`DhcpError` and
nothing else. Typed accessors (:attr:`DhcpPacket.message_type`, ...) read the
options a server acts on; the ``encode_*`` helpers build option values.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from peerwork.errors import InvalidInput

MAGIC = b"\x63\x82\x53\x63"
HEADER = struct.Struct("!BBBBIHH4s4s4s4s16s64s128s")
FIXED_LEN = HEADER.size + len(MAGIC)  # 240
MIN_PACKET = 300  # BOOTP's minimum; some relays and old clients drop shorter replies
MAX_PACKET = 4096  # far above any MTU a LAN client uses; more is an attack, not a client
BROADCAST_FLAG = 0x8000
ZERO = IPv4Address(0)


class DhcpError(InvalidInput):
    """A DHCP packet that is truncated, oversized or otherwise malformed."""

    code = "dhcp-malformed"


class Op(enum.IntEnum):
    REQUEST = 1
    REPLY = 2


class MessageType(enum.IntEnum):
    DISCOVER = 1
    OFFER = 2
    REQUEST = 3
    DECLINE = 4
    ACK = 5
    NAK = 6
    RELEASE = 7
    INFORM = 8


class Opt(enum.IntEnum):
    PAD = 0
    SUBNET_MASK = 1
    ROUTER = 3
    DNS_SERVERS = 6
    HOSTNAME = 12
    DOMAIN_NAME = 15
    BROADCAST = 28
    REQUESTED_IP = 50
    LEASE_TIME = 51
    OVERLOAD = 52
    MESSAGE_TYPE = 53
    SERVER_ID = 54
    PARAMETER_LIST = 55
    MESSAGE = 56
    MAX_MESSAGE_SIZE = 57
    RENEWAL_TIME = 58
    REBINDING_TIME = 59
    CLIENT_ID = 61
    CLIENT_FQDN = 81
    DOMAIN_SEARCH = 119
    END = 255


@dataclass(frozen=True, slots=True)
class DhcpPacket:
    """One DHCP message. ``options`` maps option code to its (concatenated) value, in
    the order first seen; PAD, END and OVERLOAD are framing and never appear in it."""

    op: Op
    xid: int
    chaddr: bytes  # client hardware address, ``hlen`` bytes (a MAC for Ethernet)
    options: Mapping[int, bytes] = field(default_factory=dict)
    htype: int = 1
    hops: int = 0
    secs: int = 0
    flags: int = 0
    ciaddr: IPv4Address = ZERO
    yiaddr: IPv4Address = ZERO
    siaddr: IPv4Address = ZERO
    giaddr: IPv4Address = ZERO
    sname: bytes = b""  # without trailing NULs; empty when it carried options
    file: bytes = b""

    # -- wire ----------------------------------------------------------------------------
    @classmethod
    def parse(cls, data: bytes) -> DhcpPacket:
        if len(data) < FIXED_LEN:
            raise DhcpError(f"DHCP packet of {len(data)} bytes is shorter than {FIXED_LEN}")
        if len(data) > MAX_PACKET:
            raise DhcpError(f"DHCP packet of {len(data)} bytes is longer than {MAX_PACKET}")
        (op, htype, hlen, hops, xid, secs, flags, ci, yi, si, gi, chaddr, sname, file) = (
            HEADER.unpack_from(data)
        )
        if op not in (1, 2):
            raise DhcpError(f"DHCP op {op} is neither request (1) nor reply (2)")
        if hlen > 16:
            raise DhcpError(f"hardware address length {hlen} is more than 16")
        if data[HEADER.size : FIXED_LEN] != MAGIC:
            raise DhcpError("no DHCP magic cookie (a plain BOOTP packet)")
        chunks: dict[int, list[bytes]] = {}
        overload = _read_options(data[FIXED_LEN:], chunks, "options", allow_overload=True)
        if overload & 1:
            _read_options(file, chunks, "file", allow_overload=False)
        if overload & 2:
            _read_options(sname, chunks, "sname", allow_overload=False)
        return cls(
            op=Op(op),
            xid=xid,
            chaddr=chaddr[:hlen],
            options={code: b"".join(parts) for code, parts in chunks.items()},
            htype=htype,
            hops=hops,
            secs=secs,
            flags=flags,
            ciaddr=IPv4Address(ci),
            yiaddr=IPv4Address(yi),
            siaddr=IPv4Address(si),
            giaddr=IPv4Address(gi),
            sname=b"" if overload & 2 else sname.rstrip(b"\0"),
            file=b"" if overload & 1 else file.rstrip(b"\0"),
        )

    def pack(self) -> bytes:
        if len(self.chaddr) > 16:
            raise DhcpError("hardware address longer than 16 bytes")
        if len(self.sname) > 64 or len(self.file) > 128:
            raise DhcpError("sname is limited to 64 bytes and file to 128")
        head = HEADER.pack(
            int(self.op),
            self.htype,
            len(self.chaddr),
            self.hops,
            self.xid,
            self.secs,
            self.flags,
            self.ciaddr.packed,
            self.yiaddr.packed,
            self.siaddr.packed,
            self.giaddr.packed,
            self.chaddr,
            self.sname,
            self.file,
        )
        body = bytearray(head + MAGIC)
        for code, value in self.options.items():
            if code in (Opt.PAD, Opt.END, Opt.OVERLOAD):
                raise DhcpError(f"option {code} is framing, not a value")
            # RFC 3396: a value longer than 255 bytes goes out as consecutive instances.
            for start in range(0, max(len(value), 1), 255):
                piece = value[start : start + 255]
                body += bytes((code, len(piece))) + piece
        body.append(Opt.END)
        if len(body) < MIN_PACKET:
            body += bytes(MIN_PACKET - len(body))
        if len(body) > MAX_PACKET:
            raise DhcpError(f"DHCP packet of {len(body)} bytes is longer than {MAX_PACKET}")
        return bytes(body)

    # -- what a server reads -------------------------------------------------------------
    @property
    def mac(self) -> str:
        return ":".join(f"{b:02x}" for b in self.chaddr)

    @property
    def message_type(self) -> MessageType | None:
        value = self.options.get(Opt.MESSAGE_TYPE)
        if value is None or len(value) != 1 or not 1 <= value[0] <= 8:
            return None
        return MessageType(value[0])

    @property
    def requested_ip(self) -> IPv4Address | None:
        return _address(self.options.get(Opt.REQUESTED_IP))

    @property
    def server_id(self) -> IPv4Address | None:
        return _address(self.options.get(Opt.SERVER_ID))

    @property
    def client_id(self) -> bytes:
        """Option 61 if given (RFC 2131 §4.2: the lease key), else htype + chaddr."""
        given = self.options.get(Opt.CLIENT_ID)
        return given if given else bytes((self.htype,)) + self.chaddr

    @property
    def hostname(self) -> str:
        """Option 12, or the first label of option 81's name; "" if neither is usable."""
        raw = self.options.get(Opt.HOSTNAME)
        if raw:
            return raw.rstrip(b"\0").decode("ascii", "replace")
        fqdn = self.options.get(Opt.CLIENT_FQDN)
        if fqdn and len(fqdn) > 3:
            try:
                name = decode_fqdn(fqdn)
            except DhcpError:
                return ""
            return name.split(".", 1)[0]
        return ""

    @property
    def parameter_list(self) -> tuple[int, ...]:
        return tuple(self.options.get(Opt.PARAMETER_LIST, b""))

    @property
    def broadcast(self) -> bool:
        return bool(self.flags & BROADCAST_FLAG)


def _read_options(
    area: bytes, into: dict[int, list[bytes]], where: str, *, allow_overload: bool
) -> int:
    """Append each option of ``area`` to ``into``; return option 52's value (0 if absent)."""
    overload = 0
    i = 0
    while i < len(area):
        code = area[i]
        if code == Opt.PAD:
            i += 1
            continue
        if code == Opt.END:
            return overload
        if i + 1 >= len(area):
            raise DhcpError(f"option {code} in {where} is cut off before its length")
        length = area[i + 1]
        value = area[i + 2 : i + 2 + length]
        if len(value) != length:
            raise DhcpError(f"option {code} in {where} claims {length} bytes, has {len(value)}")
        i += 2 + length
        if code == Opt.OVERLOAD:
            if not allow_overload:
                raise DhcpError(f"option 52 (overload) inside {where}")
            if length != 1 or value[0] not in (1, 2, 3):
                raise DhcpError("option 52 (overload) must be one byte of 1, 2 or 3")
            overload = value[0]
            continue
        into.setdefault(code, []).append(value)
    if where == "options":
        raise DhcpError("DHCP options end without an END option")
    return overload  # file/sname need no END when they are full to the brim


def _address(value: bytes | None) -> IPv4Address | None:
    return IPv4Address(value) if value is not None and len(value) == 4 else None


# -- option values -----------------------------------------------------------------------
def encode_addresses(addresses: Iterable[IPv4Address]) -> bytes:
    return b"".join(a.packed for a in addresses)


def decode_addresses(value: bytes) -> tuple[IPv4Address, ...]:
    if len(value) % 4:
        raise DhcpError(f"an address list of {len(value)} bytes is not a multiple of 4")
    return tuple(IPv4Address(value[i : i + 4]) for i in range(0, len(value), 4))


def encode_u32(value: int) -> bytes:
    return struct.pack("!I", value)


def decode_u32(value: bytes) -> int:
    if len(value) != 4:
        raise DhcpError(f"a 32-bit option value has {len(value)} bytes")
    return int(struct.unpack("!I", value)[0])


MAX_NAME = 253
MAX_POINTER_HOPS = 64


def _labels(name: str) -> list[bytes]:
    try:
        labels = [label.encode("ascii") for label in name.rstrip(".").split(".") if label]
    except UnicodeEncodeError:
        raise DhcpError(f"{name!r} is not an ASCII domain name") from None
    if any(len(label) > 63 for label in labels) or sum(len(x) + 1 for x in labels) > MAX_NAME + 1:
        raise DhcpError(f"{name!r} is not a valid domain name (labels ≤ 63, name ≤ 253)")
    return labels


def encode_domain_search(names: Sequence[str]) -> bytes:
    """RFC 3397: the names in DNS wire form, later names pointing at suffixes of earlier
    ones (offsets count from the start of the concatenated option value)."""
    out = bytearray()
    seen: dict[tuple[bytes, ...], int] = {}
    for name in names:
        labels = _labels(name)
        while labels:
            key = tuple(label.lower() for label in labels)
            if key in seen:
                out += struct.pack("!H", 0xC000 | seen[key])
                break
            if len(out) < 0x3FFF:
                seen[key] = len(out)
            out.append(len(labels[0]))
            out += labels[0]
            labels = labels[1:]
        else:
            out.append(0)
    return bytes(out)


def decode_domain_search(value: bytes) -> tuple[str, ...]:
    names: list[str] = []
    i = 0
    while i < len(value):
        name, i = _decode_name(value, i)
        names.append(name)
    return tuple(names)


def _decode_name(data: bytes, start: int) -> tuple[str, int]:
    """(name, offset after it) of the DNS name at ``start``. Pointers must point backwards
    and are bounded in number, so a loop can't spin."""
    labels: list[str] = []
    i, end, hops, total = start, -1, 0, 0
    while True:
        if i >= len(data):
            raise DhcpError("a domain name runs past the end of its option")
        length = data[i]
        if length & 0xC0 == 0xC0:
            if i + 1 >= len(data):
                raise DhcpError("a compression pointer is cut off")
            target = ((length & 0x3F) << 8) | data[i + 1]
            if end < 0:
                end = i + 2
            if target >= i or hops >= MAX_POINTER_HOPS:
                raise DhcpError("a compression pointer points forward or loops")
            hops += 1
            i = target
            continue
        if length & 0xC0:
            raise DhcpError(f"label type {length >> 6} is not a plain label")
        if length == 0:
            return ".".join(labels), (end if end >= 0 else i + 1)
        label = data[i + 1 : i + 1 + length]
        if len(label) != length:
            raise DhcpError("a label runs past the end of its option")
        total += length + 1
        if total > MAX_NAME + 1:
            raise DhcpError("a domain name is longer than 253 characters")
        labels.append(label.decode("ascii", "replace"))
        i += 1 + length


def encode_fqdn(name: str, *, server_updates: bool = True) -> bytes:
    """RFC 4702 option 81 as a server sends it: flags S (we own the A record) and E
    (canonical wire form), RCODEs 255."""
    flags = 0x01 if server_updates else 0x00
    wire = b"".join(bytes((len(label),)) + label for label in _labels(name)) + b"\0"
    return bytes((flags | 0x04, 255, 255)) + wire


def decode_fqdn(value: bytes) -> str:
    if len(value) < 3:
        raise DhcpError("option 81 is shorter than its 3-byte header")
    flags, name = value[0], value[3:]
    if flags & 0x04:  # E: canonical wire encoding, no compression
        if not name:
            return ""
        decoded, end = _decode_name(name, 0)
        if end != len(name):
            raise DhcpError("option 81 has bytes after its name")
        return decoded
    return name.rstrip(b"\0").decode("ascii", "replace").rstrip(".")


def message_type_option(kind: MessageType) -> bytes:
    return bytes((int(kind),))
