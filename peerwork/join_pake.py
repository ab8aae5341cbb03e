"""The join PAKE: SPAKE2 (the ``spake2`` package, Ed25519 group) bound to the channel.

Sans-IO: the two sides are objects fed bytes; the agent carries them over the
channel in ``join-start`` and ``join-finish`` (:mod:`peerwork.proto.join_body`).

::

    joiner                                    member (issuer of the code)
    JoinerSide(code, me, member).start() --msg_a-->  MemberSide(code, joiner, me)
                                   <--msg_b--   .answer(msg_a)
    .confirm(msg_b)  --confirm_a-->             .check(confirm_a)  (wrong code: False)
                     <--confirm_b, sealed--     .seal(bundle)
    .open(confirm_b, sealed) -> bundle          (wrong member: PakeFailed)

Channel binding: the SPAKE2 identities are the two peer ids the mutual-TLS
handshake proved (joiner as A, member as B) and the code id, so a relay
sitting between two TLS sessions derives different keys on its two sides.
Key confirmation comes first from the joiner, then from the member: a fake
member learns one guess's worth from ``confirm_a`` and nothing it can test
offline beyond that guess. What follows (the workgroup key) is sealed with
AES-GCM under a key derived from the PAKE key, inside the TLS channel.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from spake2 import SPAKE2_A, SPAKE2_B
from spake2.spake2 import SPAKEError

from peerwork.errors import PeerworkError
from peerwork.proto.join_code import JoinCode

_DOMAIN = b"peerwork-join-v1"
MSG_LEN = 33  # the spake2 package's message: a side byte and a 32-byte point
MAC_LEN = 32
_NONCE = 12


class PakeFailed(PeerworkError):
    """The other side does not know the code (or the exchange was tampered with)."""

    code = "join-pake"
    http_status = 403


def _ident(peer_id: str, code_id: str) -> bytes:
    return b"|".join((_DOMAIN, peer_id.encode("ascii"), code_id.encode("ascii")))


def _derive(key: bytes, label: bytes, msg_a: bytes, msg_b: bytes) -> bytes:
    return hmac.new(key, label + b"\x00" + msg_a + msg_b, hashlib.sha256).digest()


class _Keys:
    def __init__(self, key: bytes, msg_a: bytes, msg_b: bytes) -> None:
        self.confirm_a = _derive(key, b"joiner confirms", msg_a, msg_b)
        self.confirm_b = _derive(key, b"member confirms", msg_a, msg_b)
        self.seal = _derive(key, b"seal", msg_a, msg_b)


def _finish(side: SPAKE2_A | SPAKE2_B, msg: bytes) -> bytes:
    if len(msg) != MSG_LEN:
        raise PakeFailed(f"a PAKE message is {MSG_LEN} bytes, not {len(msg)}")
    try:
        key: bytes = side.finish(msg)
    except (SPAKEError, ValueError, AssertionError) as exc:
        raise PakeFailed(f"the PAKE message is malformed ({exc.__class__.__name__})") from None
    return key


class JoinerSide:
    def __init__(self, code: JoinCode, *, joiner_id: str, member_id: str) -> None:
        self._spake = SPAKE2_A(
            code.password(),
            idA=_ident(joiner_id, code.code_id),
            idB=_ident(member_id, code.code_id),
        )
        self._msg_a = b""
        self._keys: _Keys | None = None

    def start(self) -> bytes:
        self._msg_a = bytes(self._spake.start())
        return self._msg_a

    def confirm(self, msg_b: bytes) -> bytes:
        key = _finish(self._spake, msg_b)
        self._keys = _Keys(key, self._msg_a, msg_b)
        return self._keys.confirm_a

    def open(self, confirm_b: bytes, sealed: bytes) -> bytes:
        """The member's bundle, once its confirmation proves it knew the code."""
        keys = self._keys
        if keys is None:
            raise PakeFailed("the PAKE exchange is not finished")
        if not hmac.compare_digest(confirm_b, keys.confirm_b):
            raise PakeFailed("the member could not prove it knows the code")
        try:
            return AESGCM(keys.seal).decrypt(sealed[:_NONCE], sealed[_NONCE:], _DOMAIN)
        except (InvalidTag, ValueError):
            raise PakeFailed("the sealed answer does not open") from None


class MemberSide:
    def __init__(self, code: JoinCode, *, joiner_id: str, member_id: str) -> None:
        self._spake = SPAKE2_B(
            code.password(),
            idA=_ident(joiner_id, code.code_id),
            idB=_ident(member_id, code.code_id),
        )
        self._keys: _Keys | None = None
        self.confirmed = False

    def answer(self, msg_a: bytes) -> bytes:
        msg_b = bytes(self._spake.start())
        key = _finish(self._spake, msg_a)
        self._keys = _Keys(key, msg_a, msg_b)
        return msg_b

    def check(self, confirm_a: bytes) -> bool:
        """Whether the joiner proved it knows the code."""
        keys = self._keys
        self.confirmed = keys is not None and hmac.compare_digest(confirm_a, keys.confirm_a)
        return self.confirmed

    def seal(self, bundle: bytes) -> tuple[bytes, bytes]:
        """``(confirm_b, sealed bundle)``; only after :meth:`check` said True."""
        keys = self._keys
        if keys is None or not self.confirmed:
            raise PakeFailed("the joiner has not proved it knows the code")
        nonce = os.urandom(_NONCE)
        return keys.confirm_b, nonce + AESGCM(keys.seal).encrypt(nonce, bundle, _DOMAIN)
