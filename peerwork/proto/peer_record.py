"""The ``_peerwork._tcp`` TXT record: what a peer announces about itself, signed.

Sans-IO: a :class:`PeerAnnouncement` becomes a TXT dict (:func:`build_txt`) and
a TXT dict received from the network becomes a :class:`PeerRecord`
(:func:`parse_txt`). Nothing here opens a socket or reads a clock.

Keys (RFC 6763 keys are case-insensitive; we always send lower case):

``id``      peer id, ``peer_id_of(pk)``
``pk``      base64 of the raw Ed25519 public key, so anyone can check ``id``
``wg``      workgroup
``v``       protocol version (``peerwork.PROTOCOL_VERSION``)
``roles``   comma list: files, printers, mail, gateway-capable, gateway
``smb``     SMB port (absent: no file service)
``ctl``     peer API port (absent: none)
``sh``, ``sh1``, ``sh2`` … share names, comma-separated, split so that every
            ``key=value`` string stays within 255 bytes (the TXT string limit)
``sht=1``   the share list was cut short: the peer has more shares than the
            record can carry (the whole TXT is kept under :data:`TXT_BUDGET`
            bytes, RFC 6763 §6.2's advice to fit one packet) or a share name
            is too long in UTF-8 for one string; ask the peer itself for all
``sig``     base64 Ed25519 signature over :func:`signed_bytes`

The signature covers the instance name (lower-cased, as mDNS compares names)
and *every* other key as received, so a record with an added, removed or
altered key no longer verifies. A record is *verified* when ``id ==
peer_id_of(pk)`` and ``sig`` verifies with ``pk``. Records that do not verify
are still returned, marked unverified with the reason: the UI shows them as
untrusted rather than hiding a possible impersonation. Secrets never go here.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from peerwork.errors import PeerworkError
from peerwork.identity import peer_id_of, verify_signature

SERVICE_TYPE = "_peerwork._tcp.local."
KNOWN_ROLES = ("files", "printers", "mail", "gateway-capable", "gateway")
MAX_TXT_STRING = 255
TXT_BUDGET = 1300
_DOMAIN = b"peerwork-txt-v1\x00"
_SHARE_KEY_LIMIT = 64  # sh, sh1 … sh63: more than any budget allows
# Bounds on what we accept from the network, so a hostile record stays small.
_MAX_FIELD = 255
_MAX_SHARES = 512
# What zeroconf hands over (bytes) or what a caller builds (str).
TxtMapping = Mapping[bytes, bytes | None] | Mapping[str, str | None]


class PeerRecordError(PeerworkError):
    """Bytes that are not a TXT record at all (a malformed packet, logged and dropped)."""

    code = "bad-peer-record"


@dataclass(frozen=True, slots=True)
class PeerAnnouncement:
    """What a peer says about itself. Received ones are claims until verified."""

    instance: str
    peer_id: str
    public_key: bytes
    workgroup: str
    version: int
    roles: tuple[str, ...] = ()
    smb_port: int | None = None
    ctl_port: int | None = None
    shares: tuple[str, ...] = ()
    shares_truncated: bool = False


@dataclass(frozen=True, slots=True)
class PeerRecord:
    announcement: PeerAnnouncement
    verified: bool
    problem: str = ""  # why it is unverified; empty when verified


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


def build_txt(ann: PeerAnnouncement, sign: Callable[[bytes], bytes]) -> dict[str, str]:
    """TXT properties for ``ann``, signed with ``sign`` (e.g. ``Identity.sign``).

    Shares that do not fit are dropped from the end and ``sht=1`` is set.
    """
    fields: dict[str, str | None] = {
        "id": ann.peer_id,
        "pk": base64.b64encode(ann.public_key).decode("ascii"),
        "wg": ann.workgroup,
        "v": str(ann.version),
        "roles": ",".join(ann.roles),
    }
    if ann.smb_port is not None:
        fields["smb"] = str(ann.smb_port)
    if ann.ctl_port is not None:
        fields["ctl"] = str(ann.ctl_port)
    # sig is 88 base64 chars; reserve room for it and for sht=1.
    used = sum(_txt_len(k, v) for k, v in fields.items()) + _txt_len("sig", "x" * 88)
    used += _txt_len("sht", "1")
    chunks, truncated = _pack_shares(ann.shares, TXT_BUDGET - used)
    for i, chunk in enumerate(chunks):
        fields["sh" if i == 0 else f"sh{i}"] = chunk
    if truncated or ann.shares_truncated:
        fields["sht"] = "1"
    sig = sign(signed_bytes(ann.instance, fields))
    txt = {k: v for k, v in fields.items() if v is not None}
    txt["sig"] = base64.b64encode(sig).decode("ascii")
    return txt


def parse_txt(instance: str, txt: TxtMapping) -> PeerRecord:
    """Read a received TXT dict into a record; never raises, flags what is wrong."""
    fields, problem = _normalise(txt)
    sig_text = fields.pop("sig", None)
    claimed_id = _text(fields.get("id"))
    pk = _b64(fields.get("pk"))
    ann = PeerAnnouncement(
        instance=instance[:_MAX_FIELD],
        peer_id=claimed_id,
        public_key=pk or b"",
        workgroup=_text(fields.get("wg")),
        version=_int(fields.get("v")) or 0,
        roles=_list(fields.get("roles")),
        smb_port=_port(fields.get("smb")),
        ctl_port=_port(fields.get("ctl")),
        shares=_shares(fields),
        shares_truncated=fields.get("sht") == "1",
    )
    if not problem:
        problem = _check(instance, fields, claimed_id, pk, sig_text)
    return PeerRecord(ann, verified=not problem, problem=problem)


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
    body = len(key.encode()) + (0 if value is None else 1 + len(value.encode()))
    return 1 + body


def _pack_shares(shares: tuple[str, ...], budget: int) -> tuple[list[str], bool]:
    chunks: list[str] = []
    current: list[str] = []
    spent = 0

    def key() -> str:
        n = len(chunks)
        return "sh" if n == 0 else f"sh{n}"

    def room(names: list[str]) -> int:
        return _txt_len(key(), ",".join(names))

    for name in shares:
        if "," in name or not name.strip():
            continue  # validate_share_name refuses these; never corrupt the list
        trial = [*current, name]
        if room(trial) <= MAX_TXT_STRING + 1 and spent + room(trial) <= budget:
            current = trial
            continue
        if current:
            spent += room(current)
            chunks.append(",".join(current))
            current = []
        if len(chunks) >= _SHARE_KEY_LIMIT:
            return chunks, True
        if room([name]) > MAX_TXT_STRING + 1 or spent + room([name]) > budget:
            return chunks, True
        current = [name]
    if current:
        chunks.append(",".join(current))
    return chunks, False


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


def _check(
    instance: str,
    fields: Mapping[str, str | None],
    claimed_id: str,
    pk: bytes | None,
    sig_text: str | None,
) -> str:
    if not claimed_id:
        return "no peer id (id)"
    if pk is None or len(pk) != 32:
        return "no valid public key (pk)"
    if peer_id_of(pk) != claimed_id:
        return "peer id does not match its public key"
    sig = _b64(sig_text)
    if sig is None:
        return "no signature (sig)"
    if not verify_signature(pk, sig, signed_bytes(instance, fields)):
        return "signature does not verify"
    return ""


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
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 9:
        return None
    return int(value)


def _port(value: str | None) -> int | None:
    n = _int(value)
    return n if n is not None and 0 < n <= 65535 else None


def _list(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(item.strip()[:_MAX_FIELD] for item in value.split(",") if item.strip())[
        :_MAX_SHARES
    ]


def _shares(fields: Mapping[str, str | None]) -> tuple[str, ...]:
    names: list[str] = []
    for i in range(_SHARE_KEY_LIMIT):
        key = "sh" if i == 0 else f"sh{i}"
        if key not in fields:
            break
        names.extend(_list(fields[key]))
    return tuple(names[:_MAX_SHARES])
