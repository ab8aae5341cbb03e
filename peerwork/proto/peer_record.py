"""The ``_peerwork._tcp`` TXT record: what a peer announces about itself, signed.

Sans-IO: a :class:`PeerAnnouncement` becomes a TXT dict (:func:`build_txt`) and
a TXT dict received from the network becomes a :class:`PeerRecord`
(:func:`parse_txt`). Nothing here opens a socket, reads a clock or knows a
key: signing is a callable handed in, and checking the signature is
:func:`peerwork.identity.record_problem`'s job (over ``PeerRecord.signed``).

Keys (RFC 6763 keys are case-insensitive; we always send lower case):

``id``      peer id (``peerwork.identity.peer_id_of(pk)``)
``pk``      base64 of the raw Ed25519 public key, so anyone can check ``id``
``wg``      workgroup
``v``       protocol version (``peerwork.PROTOCOL_VERSION``)
``seq``     sequence number: grows with every change, across restarts, so a
            replayed older record is recognised as stale
``a``       comma list of the addresses the peer announces; a client uses only
            these (an address record pointing elsewhere is not the peer's)
``ports``   comma list of ``name:port`` a peer acts on, e.g. ``ctl:7445,smb:445``
``roles``   comma list: files, printers, mail, gateway-capable, gateway
``sig``     base64 Ed25519 signature over :func:`signed_bytes`
any other   a service's own signed keys (``extra``), e.g. the share list

The signature covers the instance name (lower-cased, as mDNS compares names)
and *every* other key as received, so a record with an added, removed or
altered key no longer verifies. Records that do not verify are still returned,
with the reason: the UI shows them as untrusted rather than hiding a possible
impersonation. Secrets never go here.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from peerwork.errors import PeerworkError

SERVICE_TYPE = "_peerwork._tcp.local."
KNOWN_ROLES = ("files", "printers", "mail", "gateway-capable", "gateway")
MAX_TXT_STRING = 255
# RFC 6763 §6.2: keep the whole TXT within one packet.
TXT_BUDGET = 1300
RESERVED_KEYS = frozenset({"id", "pk", "wg", "v", "seq", "a", "ports", "roles", "sig"})
_DOMAIN = b"peerwork-txt-v2\x00"
_SIG_B64_LEN = 88  # an Ed25519 signature in base64
# Bounds on what we accept from the network, so a hostile record stays small.
_MAX_FIELD = 255
_MAX_ITEMS = 64
_MAX_SEQ = 2**63 - 1
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
# What zeroconf hands over (bytes) or what a caller builds (str).
TxtMapping = Mapping[bytes, bytes | None] | Mapping[str, str | None]


class PeerRecordError(PeerworkError):
    """A record we cannot build (too large, a bad key) or bytes that are no TXT record."""

    code = "bad-peer-record"


@dataclass(frozen=True, slots=True)
class PeerAnnouncement:
    """What a peer says about itself. Received ones are claims until verified."""

    instance: str
    peer_id: str
    public_key: bytes
    workgroup: str
    version: int
    seq: int = 0
    addresses: tuple[str, ...] = ()
    ports: Mapping[str, int] = field(default_factory=dict)
    roles: tuple[str, ...] = ()
    extra: Mapping[str, str | None] = field(default_factory=dict)

    @property
    def smb_port(self) -> int | None:
        return self.ports.get("smb")

    @property
    def ctl_port(self) -> int | None:
        return self.ports.get("ctl")


@dataclass(frozen=True, slots=True)
class PeerRecord:
    """A received record. ``signed`` is what ``signature`` must sign for it to verify;
    ``problem`` names what is structurally wrong (empty: only the signature is left to check).
    """

    announcement: PeerAnnouncement
    signed: bytes
    signature: bytes | None
    problem: str = ""


def signed_bytes(instance: str, fields: Mapping[str, str | None]) -> bytes:
    """The canonical encoding that ``sig`` signs: instance plus sorted keys, length-prefixed.

    Length prefixes make it injective (no value can pose as a key boundary);
    ``None`` (a boolean TXT key without ``=``) is distinct from the empty string.
    """
    out = bytearray(_DOMAIN)
    out += _lp(instance.lower().encode("utf-8", "surrogatepass"))
    for key in sorted(fields):
        value = fields[key]
        out += _lp(key.encode("utf-8", "surrogatepass"))
        if value is None:
            out += b"\x00"
        else:
            out += b"\x01" + _lp(value.encode("utf-8", "surrogatepass"))
    return bytes(out)


def build_txt(ann: PeerAnnouncement, sign: Callable[[bytes], bytes]) -> dict[str, str | None]:
    """TXT properties for ``ann``, signed with ``sign`` (e.g. ``Identity.sign``).

    Raises :class:`PeerRecordError` for an extra key that is reserved or not a
    plain lower-case name, a port name or address that could not be read
    back, a string over 255 bytes, or a record over :data:`TXT_BUDGET`.
    """
    fields: dict[str, str | None] = {
        "id": ann.peer_id,
        "pk": base64.b64encode(ann.public_key).decode("ascii"),
        "wg": ann.workgroup,
        "v": str(ann.version),
        "seq": str(ann.seq),
        "a": ",".join(_checked_address(a) for a in ann.addresses),
        "ports": ",".join(
            f"{_checked_name(n, 'port')}:{_checked_port(n, p)}"
            for n, p in sorted(ann.ports.items())
        ),
        "roles": ",".join(ann.roles),
    }
    for key, value in ann.extra.items():
        if key in RESERVED_KEYS:
            raise PeerRecordError(f"TXT key {key!r} is reserved for the record itself")
        fields[_checked_name(key, "TXT")] = value
    size = txt_size(fields) + _txt_len("sig", "x" * _SIG_B64_LEN)
    if size > TXT_BUDGET:
        raise PeerRecordError(f"the record would be {size} bytes; at most {TXT_BUDGET} fit")
    for key, value in fields.items():
        if _txt_len(key, value) - 1 > MAX_TXT_STRING:
            raise PeerRecordError(f"TXT string for {key!r} is longer than 255 bytes")
    sig = sign(signed_bytes(ann.instance, fields))
    return fields | {"sig": base64.b64encode(sig).decode("ascii")}


def txt_size(fields: Mapping[str, str | None]) -> int:
    """Bytes these properties take in a TXT record's wire form."""
    return sum(_txt_len(k, v) for k, v in fields.items())


def parse_txt(instance: str, txt: TxtMapping) -> PeerRecord:
    """Read a received TXT dict into a record; never raises, flags what is wrong."""
    fields, problem = _normalise(txt)
    sig_text = fields.pop("sig", None)
    claimed_id = _text(fields.get("id"))
    pk = _b64(fields.get("pk"))
    seq = _int(fields.get("seq"))
    ports, bad_ports = _ports(fields.get("ports"))
    addresses, bad_addresses = _addresses(fields.get("a"))
    extra = {k: v for k, v in fields.items() if k not in RESERVED_KEYS}
    ann = PeerAnnouncement(
        instance=instance[:_MAX_FIELD],
        peer_id=claimed_id,
        public_key=pk or b"",
        workgroup=_text(fields.get("wg")),
        version=_int(fields.get("v")) or 0,
        seq=seq or 0,
        addresses=addresses,
        ports=ports,
        roles=_list(fields.get("roles")),
        extra=dict(list(extra.items())[:_MAX_ITEMS]),
    )
    signature = _b64(sig_text)
    if not problem:
        if not claimed_id:
            problem = "no peer id (id)"
        elif pk is None or len(pk) != 32:
            problem = "no valid public key (pk)"
        elif seq is None:
            problem = "no sequence number (seq)"
        elif bad_addresses:
            problem = "an announced address is not an IP address"
        elif bad_ports:
            problem = "an announced port is not name:1-65535"
        elif signature is None:
            problem = "no signature (sig)"
    return PeerRecord(ann, signed_bytes(instance, fields), signature, problem)


def encode_txt_rdata(txt: Mapping[str, str | None]) -> bytes:
    """Wire form of a TXT record: length-prefixed ``key=value`` strings (RFC 6763 §6)."""
    out = bytearray()
    for key, value in txt.items():
        item = key.encode("utf-8") if value is None else f"{key}={value}".encode()
        if len(item) > MAX_TXT_STRING:
            raise PeerRecordError(f"TXT string for {key!r} is longer than 255 bytes")
        out += bytes([len(item)]) + item
    return bytes(out)


def decode_txt_rdata(data: bytes) -> dict[bytes, bytes | None]:
    """Inverse of :func:`encode_txt_rdata`; the first of repeated keys wins (RFC 6763 §6.4)."""
    out: dict[bytes, bytes | None] = {}
    i = 0
    while i < len(data):
        n = data[i]
        end = i + 1 + n
        if end > len(data):
            raise PeerRecordError(f"TXT string at byte {i} runs past the end of the record")
        item = data[i + 1 : end]
        i = end
        key, eq, value = item.partition(b"=")
        if not key:
            continue  # RFC 6763 §6.4: strings starting with '=' are ignored
        lowered = key.lower()
        if lowered not in out:
            out[lowered] = value if eq else None
    return out


def _lp(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _txt_len(key: str, value: str | None) -> int:
    body = len(key.encode("utf-8", "surrogatepass"))
    if value is not None:
        body += 1 + len(value.encode("utf-8", "surrogatepass"))
    return 1 + body


def _checked_name(name: str, what: str) -> str:
    if not _NAME_RE.match(name):
        raise PeerRecordError(f"{what} name {name!r} is not 1-32 of a-z, 0-9, '-', '_'")
    return name


def _checked_port(name: str, port: int) -> int:
    if not 0 < port <= 65535:
        raise PeerRecordError(f"port {name} = {port} is not 1-65535")
    return port


def _checked_address(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        raise PeerRecordError(f"{address!r} is not an IP address") from None


def _normalise(txt: TxtMapping) -> tuple[dict[str, str | None], str]:
    fields: dict[str, str | None] = {}
    problem = ""
    items: list[tuple[bytes | str, bytes | str | None]] = list(txt.items())
    for raw_key, raw_value in items:
        try:
            key = raw_key.decode("utf-8") if isinstance(raw_key, bytes) else str(raw_key)
            if raw_value is None:
                value: str | None = None
            elif isinstance(raw_value, bytes):
                value = raw_value.decode("utf-8")
            else:
                value = str(raw_value)
        except UnicodeDecodeError:
            problem = problem or "a TXT key or value is not UTF-8"
            continue
        key = key.lower()
        if key in fields:
            problem = problem or f"TXT key {key!r} appears twice"
            continue
        fields[key] = value
    return fields, problem


def _text(value: str | None) -> str:
    return "" if value is None else value[:_MAX_FIELD]


def _b64(value: str | None) -> bytes | None:
    if not value:
        return None
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None


def _int(value: str | None) -> int | None:
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 19:
        return None
    n = int(value)
    return n if n <= _MAX_SEQ else None


def _port(value: str | None) -> int | None:
    n = _int(value)
    return n if n is not None and 0 < n <= 65535 else None


def _list(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    items = (item.strip()[:_MAX_FIELD] for item in value.split(","))
    return tuple(item for item in items if item)[:_MAX_ITEMS]


def _ports(value: str | None) -> tuple[dict[str, int], bool]:
    ports: dict[str, int] = {}
    for item in _list(value):
        name, _, number = item.partition(":")
        port = _port(number)
        if not _NAME_RE.match(name) or port is None or name in ports:
            return {}, True
        ports[name] = port
    return ports, False


def _addresses(value: str | None) -> tuple[tuple[str, ...], bool]:
    out: list[str] = []
    for item in _list(value):
        try:
            out.append(str(ipaddress.ip_address(item)))
        except ValueError:
            return (), True
    return tuple(out), False
