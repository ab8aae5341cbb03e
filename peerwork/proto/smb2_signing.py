"""SMB2 message signing (MS-SMB2 3.1.4.1). Sans-IO.

HMAC-SHA256 with the session key (2.0.2, 2.1), AES-128-CMAC with the derived
signing key (3.0, 3.0.2, and 3.1.1 unless negotiated otherwise), AES-128-GMAC
when a 3.1.1 client offered it. The signature is the first 16 bytes of the MAC
over the whole message with its Signature field zeroed; every algorithm here
reads the message in pieces (a READ's data is never joined to be signed).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from peerwork.proto.smb2_header import FLAGS_SERVER_TO_REDIR, FLAGS_SIGNED
from peerwork.proto.smb2_negctx import SigningAlgorithm

_SIG_START = 48
_SIG_END = 64
_ZERO_SIG = b"\x00" * 16
_CANCEL = 0x0C

Buffer = bytes | bytearray | memoryview


@dataclass(frozen=True, slots=True)
class Signer:
    """A session's signing key and the algorithm it signs with."""

    key: bytes = field(repr=False)
    algorithm: SigningAlgorithm = SigningAlgorithm.HMAC_SHA256

    def mac(self, head: Buffer, body: Sequence[Buffer] = ()) -> bytes:
        """The 16-byte signature of ``head`` (at least the 64-byte header; the rest of it
        counts as body) followed by ``body``, with the Signature field taken as zero."""
        if self.algorithm is SigningAlgorithm.AES_GMAC:
            return self._gmac(head, body)
        parts = [head[:_SIG_START], _ZERO_SIG, head[_SIG_END:], *body]
        if self.algorithm is SigningAlgorithm.AES_CMAC:
            c = cmac.CMAC(algorithms.AES(self.key))
            for part in parts:
                # CMAC reads any buffer; its stubs only name bytes.
                c.update(cast(bytes, part))
            return c.finalize()
        m = hmac.new(self.key, digestmod=hashlib.sha256)
        for part in parts:
            m.update(part)
        return m.digest()[:16]

    def _gmac(self, head: Buffer, body: Sequence[Buffer]) -> bytes:
        # Nonce (MS-SMB2 3.1.4.1): MessageId, then bit 0 for a response and bit 1
        # for CANCEL, so a request and its response never share one.
        flags = int.from_bytes(head[16:20], "little")
        command = int.from_bytes(head[12:14], "little")
        role = (1 if flags & FLAGS_SERVER_TO_REDIR else 0) | (2 if command == _CANCEL else 0)
        nonce = bytes(head[24:32]) + struct.pack("<I", role)
        enc = Cipher(algorithms.AES(self.key), modes.GCM(nonce)).encryptor()
        enc.authenticate_additional_data(bytes(head[:_SIG_START]))
        enc.authenticate_additional_data(_ZERO_SIG)
        if len(head) > _SIG_END:
            enc.authenticate_additional_data(head[_SIG_END:])
        for part in body:
            if len(part):
                enc.authenticate_additional_data(part)
        enc.finalize()
        return enc.tag

    def sign_header(self, header: Buffer, body: Sequence[Buffer]) -> bytes:
        """The 64-byte ``header`` signed over itself and the ``body`` pieces that follow
        it on the wire (padding included), which are neither copied nor joined."""
        if len(header) != _SIG_END:
            raise ValueError(f"an SMB2 header is {_SIG_END} bytes, not {len(header)}")
        buf = bytearray(header)
        flags = int.from_bytes(buf[16:20], "little") | FLAGS_SIGNED
        buf[16:20] = flags.to_bytes(4, "little")
        buf[_SIG_START:_SIG_END] = self.mac(buf, body)
        return bytes(buf)

    def sign(self, message: bytes | bytearray) -> bytes:
        """``message`` (one command: header and body, padding included) signed."""
        return self.sign_header(message[:_SIG_END], [message[_SIG_END:]]) + bytes(
            message[_SIG_END:]
        )

    def verify(self, message: bytes | memoryview) -> bool:
        """True when the Signature of ``message`` is right (constant-time compare)."""
        if len(message) < _SIG_END:
            return False
        return hmac.compare_digest(bytes(message[_SIG_START:_SIG_END]), self.mac(message))


def sign(key: bytes, message: bytes | bytearray) -> bytes:
    """``message`` signed with HMAC-SHA256 (SMB 2.0.2/2.1) under ``key``."""
    return Signer(key).sign(message)


def sign_header(key: bytes, header: Buffer, body: Sequence[Buffer]) -> bytes:
    """:meth:`Signer.sign_header` with HMAC-SHA256 (SMB 2.0.2/2.1)."""
    return Signer(key).sign_header(header, body)


def verify(key: bytes, message: bytes | memoryview) -> bool:
    """:meth:`Signer.verify` with HMAC-SHA256 (SMB 2.0.2/2.1)."""
    return Signer(key).verify(message)
