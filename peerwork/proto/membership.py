"""Membership certificates and revocation lists: compact signed binary values.

Sans-IO: :meth:`MemberCert.parse` / :meth:`MemberCert.pack` and the same pair
on :class:`RevocationList`. Nothing here knows a key; signing is a callable
handed in and checking a signature is :mod:`peerwork.workgroup`'s job (over
``signed_bytes()``). Every integer is big-endian; every string is ASCII with a
one-byte length.

A certificate (``PWMC``, version 1), about 150 bytes so its base64 fits one
TXT string of the peer record (key ``mc``)::

    magic "PWMC" | version u8 | key id 8 | serial u64 | issued u64 (unix s)
    | peer id 20 (the raw bytes behind the base32 peer id)
    | name: len u8 + ASCII | workgroup: len u8 + ASCII | signature 64

A revocation list (``PWRL``, version 1)::

    magic "PWRL" | version u8 | key id 8 | number u64 | issued u64
    | count u16 | count x (peer id 20 | serial u64) | signature 64

``key id`` is the first 8 bytes of SHA-256 over the workgroup's raw public
key: it tells a receiver which workgroup key (the current one or an older,
rotated one) signed the value, before any signature work. The signature is
over a domain string followed by everything before the signature, so a
certificate can never be passed off as a revocation list or the reverse.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass

from peerwork.errors import PeerworkError

CERT_MAGIC = b"PWMC"
LIST_MAGIC = b"PWRL"
VERSION = 1
KEY_ID_LEN = 8
PEER_ID_RAW = 20
SIG_LEN = 64
CERT_DOMAIN = b"peerwork-member-cert-v1\x00"
LIST_DOMAIN = b"peerwork-revocations-v1\x00"
# A LAN of 1-25 PCs; a list this long means a workgroup that has been reinstalled a lot.
MAX_REVOKED = 4096
_U64 = 2**64 - 1
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,14}$")
_CERT_HEAD = struct.Struct(">4sB8sQQ20s")
_LIST_HEAD = struct.Struct(">4sB8sQQH")
_LIST_ENTRY = struct.Struct(">20sQ")

Signer = Callable[[bytes], bytes]


class MembershipError(PeerworkError):
    """Bytes that are no certificate or revocation list, or a value that cannot be built."""

    code = "bad-membership"


def key_id_of(public_raw: bytes) -> bytes:
    return hashlib.sha256(public_raw).digest()[:KEY_ID_LEN]


def peer_id_raw(peer_id: str) -> bytes:
    """The 20 bytes behind a base32 peer id; MembershipError if it is none."""
    if len(peer_id) != 32:
        raise MembershipError(f"peer id {peer_id[:40]!r} is not 32 base32 characters")
    try:
        raw = base64.b32decode(peer_id.upper())
    except (binascii.Error, ValueError):
        raise MembershipError(f"peer id {peer_id!r} is not base32") from None
    return raw


def peer_id_text(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").lower()


def _name(value: str, what: str) -> bytes:
    if not _NAME_RE.match(value):
        raise MembershipError(f"{what} {value[:40]!r} must be 1-15 letters, digits or '-'")
    return value.encode("ascii")


def _read_name(data: bytes, at: int, what: str) -> tuple[str, int]:
    if at >= len(data):
        raise MembershipError(f"certificate ends before its {what}")
    size = data[at]
    raw = data[at + 1 : at + 1 + size]
    if len(raw) != size:
        raise MembershipError(f"certificate ends inside its {what}")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise MembershipError(f"certificate {what} is not ASCII") from None
    if not _NAME_RE.match(text):
        raise MembershipError(f"certificate {what} {text!r} is not a valid name")
    return text, at + 1 + size


def _check_u64(value: int, what: str) -> None:
    if not 0 <= value <= _U64:
        raise MembershipError(f"{what} {value} does not fit 64 bits")


@dataclass(frozen=True, slots=True)
class MemberCert:
    """The workgroup key's word that ``peer_id`` (PC ``name``) belongs to ``workgroup``.

    Names are kept as issued (upper case, as ``[peer]`` stores them); compare
    them case-insensitively. A parsed certificate is a claim until its
    signature is checked.
    """

    key_id: bytes
    serial: int
    issued: int
    peer_id: str
    name: str
    workgroup: str
    signature: bytes = b""

    def body(self) -> bytes:
        """Everything the signature covers except the domain string."""
        if len(self.key_id) != KEY_ID_LEN:
            raise MembershipError("a key id is 8 bytes")
        _check_u64(self.serial, "serial")
        _check_u64(self.issued, "issued time")
        head = _CERT_HEAD.pack(
            CERT_MAGIC, VERSION, self.key_id, self.serial, self.issued, peer_id_raw(self.peer_id)
        )
        name = _name(self.name, "PC name")
        group = _name(self.workgroup, "workgroup")
        return head + bytes([len(name)]) + name + bytes([len(group)]) + group

    def signed_bytes(self) -> bytes:
        return CERT_DOMAIN + self.body()

    def signed_with(self, sign: Signer) -> MemberCert:
        signature = sign(self.signed_bytes())
        return MemberCert(
            self.key_id,
            self.serial,
            self.issued,
            self.peer_id,
            self.name,
            self.workgroup,
            signature,
        )

    def pack(self) -> bytes:
        if len(self.signature) != SIG_LEN:
            raise MembershipError("a certificate is packed only once signed")
        return self.body() + self.signature

    def to_text(self) -> str:
        """The base64 form the peer record carries."""
        return base64.b64encode(self.pack()).decode("ascii")

    @classmethod
    def from_text(cls, text: str) -> MemberCert:
        if len(text) > 400:
            raise MembershipError("certificate text is too long")
        try:
            raw = base64.b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise MembershipError("certificate text is not base64") from None
        return cls.parse(raw)

    @classmethod
    def parse(cls, data: bytes) -> MemberCert:
        if len(data) < _CERT_HEAD.size + 2 + SIG_LEN:
            raise MembershipError("certificate is too short")
        magic, version, key_id, serial, issued, raw_id = _CERT_HEAD.unpack_from(data)
        if magic != CERT_MAGIC:
            raise MembershipError("not a peerwork membership certificate")
        if version != VERSION:
            raise MembershipError(f"certificate version {version} is not supported")
        name, at = _read_name(data, _CERT_HEAD.size, "PC name")
        group, at = _read_name(data, at, "workgroup")
        signature = data[at:]
        if len(signature) != SIG_LEN:
            raise MembershipError("certificate signature is not 64 bytes")
        return cls(key_id, serial, issued, peer_id_text(raw_id), name, group, signature)


@dataclass(frozen=True, slots=True)
class Revoked:
    """One revoked certificate: the peer and the serial of its certificate
    (0: every certificate of that peer)."""

    peer_id: str
    serial: int = 0


@dataclass(frozen=True, slots=True)
class RevocationList:
    """The workgroup's signed list of revoked members; a higher ``number`` replaces a lower."""

    key_id: bytes
    number: int
    issued: int
    revoked: tuple[Revoked, ...] = ()
    signature: bytes = b""

    def body(self) -> bytes:
        if len(self.key_id) != KEY_ID_LEN:
            raise MembershipError("a key id is 8 bytes")
        _check_u64(self.number, "list number")
        _check_u64(self.issued, "issued time")
        if len(self.revoked) > MAX_REVOKED:
            raise MembershipError(f"more than {MAX_REVOKED} revoked members")
        head = _LIST_HEAD.pack(
            LIST_MAGIC, VERSION, self.key_id, self.number, self.issued, len(self.revoked)
        )
        entries = b""
        for item in self.revoked:
            _check_u64(item.serial, "serial")
            entries += _LIST_ENTRY.pack(peer_id_raw(item.peer_id), item.serial)
        return head + entries

    def signed_bytes(self) -> bytes:
        return LIST_DOMAIN + self.body()

    def signed_with(self, sign: Signer) -> RevocationList:
        signature = sign(self.signed_bytes())
        return RevocationList(self.key_id, self.number, self.issued, self.revoked, signature)

    def pack(self) -> bytes:
        if len(self.signature) != SIG_LEN:
            raise MembershipError("a revocation list is packed only once signed")
        return self.body() + self.signature

    def covers(self, peer_id: str, serial: int) -> bool:
        return any(r.peer_id == peer_id and r.serial in (0, serial) for r in self.revoked)

    @classmethod
    def parse(cls, data: bytes) -> RevocationList:
        if len(data) < _LIST_HEAD.size + SIG_LEN:
            raise MembershipError("revocation list is too short")
        magic, version, key_id, number, issued, count = _LIST_HEAD.unpack_from(data)
        if magic != LIST_MAGIC:
            raise MembershipError("not a peerwork revocation list")
        if version != VERSION:
            raise MembershipError(f"revocation list version {version} is not supported")
        if count > MAX_REVOKED:
            raise MembershipError(f"more than {MAX_REVOKED} revoked members")
        expected = _LIST_HEAD.size + count * _LIST_ENTRY.size + SIG_LEN
        if len(data) != expected:
            raise MembershipError(f"revocation list is {len(data)} bytes, not {expected}")
        revoked = []
        for i in range(count):
            raw_id, serial = _LIST_ENTRY.unpack_from(data, _LIST_HEAD.size + i * _LIST_ENTRY.size)
            revoked.append(Revoked(peer_id_text(raw_id), serial))
        return cls(key_id, number, issued, tuple(revoked), data[-SIG_LEN:])
