"""SMB 3.x encryption: the TRANSFORM_HEADER (MS-SMB2 2.2.41) and sealing/opening a
message with AES-CCM or AES-GCM (3.1.4.3, 3.3.5.2.1.1). Sans-IO.

The AEAD's associated data is the transform header from its Nonce on (32 bytes);
its tag is the header's Signature. GCM runs over the message's pieces as they
are (a READ's data is never joined first), writing the ciphertext into one
buffer: one allocation per message. CCM has no incremental interface here, so
its pieces are joined once.

Nonces: a per-key random prefix and a per-message counter (as Samba does), so
no two messages sealed under one key share a nonce.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher as AesCipher
from cryptography.hazmat.primitives.ciphers import algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from peerwork.proto.smb2_header import MalformedPacket
from peerwork.proto.smb2_negctx import Cipher

TRANSFORM_PROTOCOL_ID = b"\xfdSMB"
TRANSFORM_SIZE = 52
FLAG_ENCRYPTED = 0x0001
TAG_SIZE = 16
_AAD_START = 20  # the Nonce field: everything from here to the end is authenticated

_TF = struct.Struct("<4s16s16sIHHQ")

Buffer = bytes | bytearray | memoryview


class DecryptError(MalformedPacket):
    """An encrypted message that does not open: wrong key or session, altered, truncated."""

    code = "decrypt-failed"


@dataclass(frozen=True, slots=True)
class TransformHeader:
    signature: bytes
    nonce: bytes
    original_size: int
    flags: int
    session_id: int

    @classmethod
    def parse(cls, data: Buffer) -> TransformHeader:
        if len(data) < TRANSFORM_SIZE:
            raise MalformedPacket(f"transform header needs {TRANSFORM_SIZE} bytes, got {len(data)}")
        proto, sig, nonce, size, _res, flags, sid = _TF.unpack_from(data, 0)
        if proto != TRANSFORM_PROTOCOL_ID:
            raise MalformedPacket("not an SMB2 transform header (protocol id)")
        if flags != FLAG_ENCRYPTED:
            raise MalformedPacket(f"transform header flags 0x{flags:04x}, expected 0x0001")
        return cls(bytes(sig), bytes(nonce), size, flags, sid)

    def pack(self) -> bytes:
        return _TF.pack(
            TRANSFORM_PROTOCOL_ID,
            self.signature,
            self.nonce,
            self.original_size,
            0,
            self.flags,
            self.session_id,
        )


def _is_gcm(cipher: Cipher) -> bool:
    return cipher in (Cipher.AES_128_GCM, Cipher.AES_256_GCM)


@dataclass(slots=True)
class Sealer:
    """Encrypts what one session sends under one key."""

    cipher: Cipher
    key: bytes = field(repr=False)
    session_id: int
    # Random per key, so a restarted counter under a new key never repeats a nonce.
    nonce_prefix: bytes = field(repr=False)
    _counter: int = 0

    def __post_init__(self) -> None:
        if len(self.key) != self.cipher.key_size:
            raise ValueError(f"{self.cipher.name} needs a {self.cipher.key_size}-byte key")
        if len(self.nonce_prefix) != self.cipher.nonce_size - 8:
            raise ValueError(f"nonce prefix of {self.cipher.nonce_size - 8} bytes expected")

    def _next_nonce(self) -> bytes:
        if self._counter >= 2**64 - 1:
            raise OverflowError("nonce counter exhausted: the session must end")
        self._counter += 1
        return struct.pack("<Q", self._counter) + self.nonce_prefix

    def seal(self, pieces: Sequence[Buffer]) -> tuple[bytes, memoryview]:
        """``pieces`` (one SMB2 message or compound, unframed) encrypted: the transform
        header and the ciphertext, to be sent in that order."""
        size = sum(len(p) for p in pieces)
        nonce = self._next_nonce()
        head = bytearray(
            TransformHeader(
                b"\x00" * 16, nonce.ljust(16, b"\x00"), size, FLAG_ENCRYPTED, self.session_id
            ).pack()
        )
        aad = bytes(head[_AAD_START:])
        if _is_gcm(self.cipher):
            # update_into wants room for a block beyond the data it is given.
            out = bytearray(size + 15)
            view = memoryview(out)
            enc = AesCipher(algorithms.AES(self.key), modes.GCM(nonce)).encryptor()
            enc.authenticate_additional_data(aad)
            pos = 0
            for piece in pieces:
                if len(piece):
                    pos += enc.update_into(piece, view[pos:])
            enc.finalize()
            tag = enc.tag
            cipher_text = view[:size]
        else:
            plain = b"".join(pieces)
            out = bytearray(size + TAG_SIZE)
            AESCCM(self.key).encrypt_into(nonce, plain, aad, out)
            view = memoryview(out)
            tag, cipher_text = bytes(view[size:]), view[:size]
        head[4:20] = tag
        return bytes(head), cipher_text


@dataclass(frozen=True, slots=True)
class Opener:
    """Decrypts what the client sends on one session."""

    cipher: Cipher
    key: bytes = field(repr=False)
    session_id: int

    def open(self, frame: Buffer) -> bytearray:
        """The plaintext of ``frame`` (a transform header and its ciphertext). Raises
        DecryptError when it is not this session's, not whole, or altered."""
        tf = TransformHeader.parse(frame)
        if tf.session_id != self.session_id:
            raise DecryptError("transform header names another session")
        body = memoryview(frame)[TRANSFORM_SIZE:]
        if tf.original_size != len(body) or tf.original_size == 0:
            raise DecryptError(
                f"transform header says {tf.original_size} bytes, {len(body)} follow"
            )
        n = self.cipher.nonce_size
        if any(tf.nonce[n:]):
            raise DecryptError("transform nonce padding is not zero")
        nonce = tf.nonce[:n]
        aad = bytes(memoryview(frame)[_AAD_START:TRANSFORM_SIZE])
        try:
            if _is_gcm(self.cipher):
                out = bytearray(len(body) + 15)
                dec = AesCipher(
                    algorithms.AES(self.key), modes.GCM(nonce, tf.signature)
                ).decryptor()
                dec.authenticate_additional_data(aad)
                got = dec.update_into(body, out)
                dec.finalize()
                del out[got:]
                return out
            return bytearray(AESCCM(self.key).decrypt(nonce, bytes(body) + tf.signature, aad))
        except InvalidTag:
            raise DecryptError("encrypted message fails its authentication tag") from None
