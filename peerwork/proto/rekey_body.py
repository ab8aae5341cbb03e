"""``trust.rekey`` v1: a member hands the others the new workgroup key after a removal.

Sent only between members (the channel's policy), inside mutual TLS. See
:mod:`peerwork.rekey` for what the receiver checks before it installs anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .channel_body import BodyError, RequestKind, integer
from .join_body import b64_field, b64_text
from .membership import MemberCert, MembershipError, RevocationList

_MAX_LIST = 4096 * 28 + 128


@dataclass(frozen=True, slots=True)
class RekeyRequest:
    key: bytes  # the new workgroup private key (32 bytes)
    cert: MemberCert  # the receiver's certificate of the new key
    revoked: RevocationList
    succession: bytes  # the old key's signature over the new key and the list

    def to_body(self) -> dict[str, Any]:
        return {
            "key": b64_text(self.key),
            "cert": b64_text(self.cert.pack()),
            "revoked": b64_text(self.revoked.pack()),
            "succession": b64_text(self.succession),
        }

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> RekeyRequest:
        key = b64_field(body, "key", max_bytes=32)
        if len(key) != 32:
            raise BodyError("field 'key' must be 32 bytes")
        try:
            cert = MemberCert.parse(b64_field(body, "cert", max_bytes=512))
            revoked = RevocationList.parse(b64_field(body, "revoked", max_bytes=_MAX_LIST))
        except MembershipError as exc:
            raise BodyError(exc.message) from None
        return cls(key, cert, revoked, b64_field(body, "succession", max_bytes=64))


@dataclass(frozen=True, slots=True)
class RekeyReply:
    number: int  # the revocation list number now in force at the receiver

    def to_body(self) -> dict[str, Any]:
        return {"number": self.number}

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> RekeyReply:
        return cls(integer(body, "number", low=0, high=2**63 - 1))


REKEY: RequestKind[RekeyRequest, RekeyReply] = RequestKind(
    "trust.rekey", 1, RekeyRequest.parse, RekeyReply.parse
)
