"""``trust.catch-up`` v1: a member that missed a removal asks for the key it missed.

Open to any verified peer (the asker holds the previous key, so to the
members it is not one of them any more). The request is the asker's
certificate of the previous key; the answer is what ``trust.rekey`` would
have carried (:class:`peerwork.proto.rekey_body.RekeyRequest`), which the
asker checks with :func:`peerwork.rekey.check_rekey` before installing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .channel_body import BodyError, RequestKind
from .join_body import b64_field, b64_text
from .membership import MemberCert, MembershipError
from .rekey_body import RekeyRequest


@dataclass(frozen=True, slots=True)
class CatchUpRequest:
    cert: MemberCert  # the asker's certificate of the key it holds

    def to_body(self) -> dict[str, Any]:
        return {"cert": b64_text(self.cert.pack())}

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> CatchUpRequest:
        try:
            return cls(MemberCert.parse(b64_field(body, "cert", max_bytes=512)))
        except MembershipError as exc:
            raise BodyError(exc.message) from None


CATCH_UP: RequestKind[CatchUpRequest, RekeyRequest] = RequestKind(
    "trust.catch-up", 1, CatchUpRequest.parse, RekeyRequest.parse
)
