"""SMB 2.0.2/2.1 message signing (MS-SMB2 3.1.4.1): HMAC-SHA256 with the session key,
the first 16 bytes in the header's Signature field. Sans-IO."""

from __future__ import annotations

import hashlib
import hmac

from peerwork.proto.smb2_header import FLAGS_SIGNED

_SIG_START = 48
_SIG_END = 64


def _mac(key: bytes, message: bytes | bytearray | memoryview) -> bytes:
    m = hmac.new(key, digestmod=hashlib.sha256)
    m.update(message[:_SIG_START])
    m.update(b"\x00" * 16)
    m.update(message[_SIG_END:])
    return m.digest()[:16]


def sign(key: bytes, message: bytes | bytearray) -> bytes:
    """Return ``message`` (one command: header and body, padding included) signed:
    the SIGNED flag set and the Signature filled."""
    buf = bytearray(message)
    flags = int.from_bytes(buf[16:20], "little") | FLAGS_SIGNED
    buf[16:20] = flags.to_bytes(4, "little")
    buf[_SIG_START:_SIG_END] = _mac(key, buf)
    return bytes(buf)


def verify(key: bytes, message: bytes | memoryview) -> bool:
    """True when the Signature of ``message`` is right for ``key`` (constant-time compare)."""
    if len(message) < _SIG_END:
        return False
    return hmac.compare_digest(bytes(message[_SIG_START:_SIG_END]), _mac(key, message))
