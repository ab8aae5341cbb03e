"""SMB 3.x session keys (MS-SMB2 3.3.5.5.3, 3.1.4.2) and the 3.1.1 preauth integrity
hash (3.3.5.4, 3.3.5.5). Sans-IO.

Every key comes from the logon's session key through SP800-108's KDF in counter
mode with HMAC-SHA256 (one 32-byte block: SMB's keys are 16 or 32 bytes). 3.0
and 3.0.2 use fixed labels and contexts; 3.1.1 uses the preauth integrity hash
of the connection's NEGOTIATE and the session's SESSION_SETUP exchange as the
context, which binds the keys to what was negotiated: a man in the middle who
altered either gets keys that fail the first signature.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, field

from peerwork.proto.smb2_negctx import Cipher, SigningAlgorithm
from peerwork.proto.smb2_negotiate import DIALECT_300, DIALECT_311

PREAUTH_ZERO = b"\x00" * 64


def kdf(key: bytes, label: bytes, context: bytes, length: int = 16) -> bytes:
    """SP800-108 counter-mode KDF with HMAC-SHA256, r = 32, as SMB 3 uses it:
    HMAC(key, [i=1]_4 || label || 0x00 || context || [L]_4)[:length]. ``label``
    carries its own terminating NUL, as MS-SMB2 writes the labels."""
    if not 1 <= length <= 32:
        raise ValueError("one HMAC-SHA256 block yields 1 to 32 bytes")
    data = struct.pack(">I", 1) + label + b"\x00" + context + struct.pack(">I", length * 8)
    return hmac.new(key, data, hashlib.sha256).digest()[:length]


def preauth_update(previous: bytes, message: bytes | bytearray | memoryview) -> bytes:
    """The next preauth integrity hash value: SHA-512(previous || message)."""
    h = hashlib.sha512(previous)
    h.update(message)
    return h.digest()


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """A 3.x session's keys, as the server uses them: ``encryption`` seals what the
    server sends (ServerOut / S2C), ``decryption`` opens what the client sends."""

    signing: bytes = field(repr=False)
    encryption: bytes = field(repr=False)
    decryption: bytes = field(repr=False)
    application: bytes = field(repr=False)


def derive(
    dialect: int,
    session_key: bytes,
    preauth_hash: bytes = PREAUTH_ZERO,
    cipher: Cipher | None = None,
) -> SessionKeys:
    """The server's keys for a session of ``dialect`` (3.0 or later). ``session_key``
    is the logon's whole key: MS-SMB2 derives from its first 16 bytes (zero-padded),
    except the AES-256 cipher keys, which come from all of it (NTLM's is 16 bytes
    anyway; Kerberos' may be longer)."""
    if dialect < DIALECT_300:
        raise ValueError("SMB 2.x signs with the session key itself; nothing to derive")
    short = session_key[:16].ljust(16, b"\x00")
    if dialect >= DIALECT_311:
        ctx = preauth_hash
        size = cipher.key_size if cipher is not None else 16
        cipher_key = session_key if size == 32 else short
        return SessionKeys(
            signing=kdf(short, b"SMBSigningKey\x00", ctx),
            encryption=kdf(cipher_key, b"SMBS2CCipherKey\x00", ctx, size),
            decryption=kdf(cipher_key, b"SMBC2SCipherKey\x00", ctx, size),
            application=kdf(short, b"SMBAppKey\x00", ctx),
        )
    return SessionKeys(
        signing=kdf(short, b"SMB2AESCMAC\x00", b"SmbSign\x00"),
        encryption=kdf(short, b"SMB2AESCCM\x00", b"ServerOut\x00"),
        decryption=kdf(short, b"SMB2AESCCM\x00", b"ServerIn \x00"),
        application=kdf(short, b"SMB2APP\x00", b"SmbRpc\x00"),
    )


def signing_algorithm(dialect: int, negotiated: SigningAlgorithm | None) -> SigningAlgorithm:
    """What a session of ``dialect`` signs with (``negotiated``: from the 3.1.1 context)."""
    if dialect < DIALECT_300:
        return SigningAlgorithm.HMAC_SHA256
    if dialect >= DIALECT_311 and negotiated is not None:
        return negotiated
    return SigningAlgorithm.AES_CMAC
