"""SMB 2.0.2/2.1 message signing (MS-SMB2 3.1.4.1): HMAC-SHA256 with the session key,
the first 16 bytes in the header's Signature field. Sans-IO."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from peerwork.proto.smb2_header import FLAGS_SIGNED

_SIG_START = 48
_SIG_END = 64


Buffer = bytes | bytearray | memoryview


def _mac(key: bytes, head: Buffer, body: Sequence[Buffer] = ()) -> bytes:
    m = hmac.new(key, digestmod=hashlib.sha256)
    m.update(head[:_SIG_START])
    m.update(b"\x00" * 16)
    m.update(head[_SIG_END:])
    for part in body:
        m.update(part)
    return m.digest()[:16]


def sign(key: bytes, message: bytes | bytearray) -> bytes:
    """Return ``message`` (one command: header and body, padding included) signed:
    the SIGNED flag set and the Signature filled."""
    return sign_header(key, message[:_SIG_END], [message[_SIG_END:]]) + bytes(message[_SIG_END:])


def sign_header(key: bytes, header: Buffer, body: Sequence[Buffer]) -> bytes:
    """The 64-byte ``header`` signed over itself and the ``body`` pieces that follow it
    on the wire (padding included), which are neither copied nor joined."""
    if len(header) != _SIG_END:
        raise ValueError(f"an SMB2 header is {_SIG_END} bytes, not {len(header)}")
    buf = bytearray(header)
    flags = int.from_bytes(buf[16:20], "little") | FLAGS_SIGNED
    buf[16:20] = flags.to_bytes(4, "little")
    buf[_SIG_START:_SIG_END] = _mac(key, buf, body)
    return bytes(buf)


def verify(key: bytes, message: bytes | memoryview) -> bool:
    """True when the Signature of ``message`` is right for ``key`` (constant-time compare)."""
    if len(message) < _SIG_END:
        return False
    return hmac.compare_digest(bytes(message[_SIG_START:_SIG_END]), _mac(key, message))
