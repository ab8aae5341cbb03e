"""SMB 3.1.1 negotiate contexts (MS-SMB2 2.2.3.1, 2.2.4.1): preauth integrity,
encryption and signing capabilities. Sans-IO.

A context list starts 8-byte aligned (offsets count from the SMB2 header) and
every context after the first is 8-byte aligned too. Contexts this server does
not act on (compression, netname, transport, RDMA) are parsed, kept and ignored:
a response without them tells the client the feature is off.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from peerwork.proto.smb2_header import MalformedPacket

PREAUTH_INTEGRITY_CAPABILITIES = 0x0001
ENCRYPTION_CAPABILITIES = 0x0002
SIGNING_CAPABILITIES = 0x0008

HASH_SHA512 = 0x0001

# A hostile client could list thousands; no real one sends more than a handful.
MAX_CONTEXTS = 32
MAX_IDS = 64

_CTX = struct.Struct("<HHI")  # ContextType, DataLength, Reserved


class Cipher(enum.IntEnum):
    AES_128_CCM = 0x0001
    AES_128_GCM = 0x0002
    AES_256_CCM = 0x0003
    AES_256_GCM = 0x0004

    @property
    def key_size(self) -> int:
        return 32 if self in (Cipher.AES_256_CCM, Cipher.AES_256_GCM) else 16

    @property
    def nonce_size(self) -> int:
        return 12 if self in (Cipher.AES_128_GCM, Cipher.AES_256_GCM) else 11


class SigningAlgorithm(enum.IntEnum):
    HMAC_SHA256 = 0x0000
    AES_CMAC = 0x0001
    AES_GMAC = 0x0002


# Server preference, as Samba's default "server smb encrypt ciphers" orders them.
CIPHER_PREFERENCE = (Cipher.AES_128_GCM, Cipher.AES_128_CCM, Cipher.AES_256_GCM, Cipher.AES_256_CCM)
SIGNING_PREFERENCE = (
    SigningAlgorithm.AES_GMAC,
    SigningAlgorithm.AES_CMAC,
    SigningAlgorithm.HMAC_SHA256,
)


@dataclass(frozen=True, slots=True)
class NegotiateContext:
    type: int
    data: bytes


def align8(n: int) -> int:
    return (n + 7) & ~7


def parse_contexts(
    body: bytes | memoryview, offset: int, count: int, header_size: int
) -> tuple[NegotiateContext, ...]:
    """The ``count`` contexts of a NEGOTIATE body starting at ``offset`` (counted from
    the header start, as on the wire); ``body`` starts after the header."""
    if count > MAX_CONTEXTS:
        raise MalformedPacket(f"{count} negotiate contexts")
    if count == 0:
        return ()
    if offset % 8 or offset < header_size:
        raise MalformedPacket(f"negotiate contexts at unaligned or bad offset {offset}")
    pos = offset - header_size
    out: list[NegotiateContext] = []
    for i in range(count):
        if i:
            pos = align8(pos + header_size) - header_size
        if pos + _CTX.size > len(body):
            raise MalformedPacket("negotiate context runs past the message")
        kind, length, _res = _CTX.unpack_from(body, pos)
        start = pos + _CTX.size
        if start + length > len(body):
            raise MalformedPacket("negotiate context data runs past the message")
        out.append(NegotiateContext(kind, bytes(body[start : start + length])))
        pos = start + length
    return tuple(out)


def pack_contexts(contexts: Iterable[NegotiateContext]) -> bytes:
    """Contexts packed as they follow an 8-aligned offset (padding between them)."""
    out = bytearray()
    for ctx in contexts:
        if out:
            out += b"\x00" * (align8(len(out)) - len(out))
        out += _CTX.pack(ctx.type, len(ctx.data), 0) + ctx.data
    return bytes(out)


def _ids(data: bytes, what: str) -> tuple[int, ...]:
    if len(data) < 2:
        raise MalformedPacket(f"{what} context truncated")
    (count,) = struct.unpack_from("<H", data, 0)
    if count == 0 or count > MAX_IDS:
        raise MalformedPacket(f"{what} context lists {count} algorithms")
    if 2 + 2 * count > len(data):
        raise MalformedPacket(f"{what} context list runs past its data")
    return struct.unpack_from(f"<{count}H", data, 2)


@dataclass(frozen=True, slots=True)
class ClientOffer:
    """What a 3.1.1 client's NEGOTIATE contexts offer (ids as sent, known or not)."""

    hash_algorithms: tuple[int, ...]
    ciphers: tuple[int, ...]
    signing: tuple[int, ...]

    @classmethod
    def from_contexts(cls, contexts: Iterable[NegotiateContext]) -> ClientOffer:
        """Raises MalformedPacket (INVALID_PARAMETER, as MS-SMB2 3.3.5.4 says) when the
        preauth context is missing, a context appears twice, or one is malformed."""
        seen: dict[int, bytes] = {}
        for ctx in contexts:
            if ctx.type in seen and ctx.type in _UNIQUE:
                raise MalformedPacket(f"negotiate context 0x{ctx.type:04x} appears twice")
            seen[ctx.type] = ctx.data
        preauth = seen.get(PREAUTH_INTEGRITY_CAPABILITIES)
        if preauth is None:
            raise MalformedPacket("SMB 3.1.1 NEGOTIATE without a preauth integrity context")
        if len(preauth) < 4:
            raise MalformedPacket("preauth integrity context truncated")
        hcount, salt_len = struct.unpack_from("<HH", preauth, 0)
        if hcount == 0 or hcount > MAX_IDS or 4 + 2 * hcount + salt_len > len(preauth):
            raise MalformedPacket("preauth integrity context lists run past its data")
        hashes = struct.unpack_from(f"<{hcount}H", preauth, 4)
        enc = seen.get(ENCRYPTION_CAPABILITIES)
        sig = seen.get(SIGNING_CAPABILITIES)
        return cls(
            tuple(hashes),
            _ids(enc, "encryption") if enc is not None else (),
            _ids(sig, "signing") if sig is not None else (),
        )

    def cipher(self) -> Cipher | None:
        """The server's choice among the offered ciphers (None: nothing in common)."""
        return next((c for c in CIPHER_PREFERENCE if c in self.ciphers), None)

    def signing_algorithm(self) -> SigningAlgorithm | None:
        """The server's choice among the offered signing algorithms (None: no signing
        context, or nothing in common: AES-CMAC then, and no context in the answer)."""
        return next((a for a in SIGNING_PREFERENCE if a in self.signing), None)


_UNIQUE = frozenset({PREAUTH_INTEGRITY_CAPABILITIES, ENCRYPTION_CAPABILITIES, SIGNING_CAPABILITIES})


def preauth_context(salt: bytes) -> NegotiateContext:
    return NegotiateContext(
        PREAUTH_INTEGRITY_CAPABILITIES, struct.pack("<HHH", 1, len(salt), HASH_SHA512) + salt
    )


def encryption_context(cipher: int) -> NegotiateContext:
    return NegotiateContext(ENCRYPTION_CAPABILITIES, struct.pack("<HH", 1, cipher))


def signing_context(algorithm: int) -> NegotiateContext:
    return NegotiateContext(SIGNING_CAPABILITIES, struct.pack("<HH", 1, algorithm))


def client_contexts(
    salt: bytes, ciphers: Iterable[int] = (), signing: Iterable[int] = ()
) -> tuple[NegotiateContext, ...]:
    """A client's context list (for tests and golden round trips)."""
    out = [preauth_context(salt)]
    c, s = list(ciphers), list(signing)
    if c:
        out.append(
            NegotiateContext(ENCRYPTION_CAPABILITIES, struct.pack(f"<H{len(c)}H", len(c), *c))
        )
    if s:
        out.append(NegotiateContext(SIGNING_CAPABILITIES, struct.pack(f"<H{len(s)}H", len(s), *s)))
    return tuple(out)
