"""``trust.join-start`` and ``trust.join-finish`` v1: the join PAKE over the channel.

The only request kinds a PC that is not (yet) a member may send; see
:mod:`peerwork.join_pake` for what the messages are. Binary fields travel as
base64 strings, each with a bound on its size.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .channel_body import BodyError, RequestKind, text

_NAME_MAX = 64


def b64_field(body: Mapping[str, Any], key: str, *, max_bytes: int) -> bytes:
    raw = text(body, key, max_len=(max_bytes + 2) // 3 * 4)
    try:
        return base64.b64decode(raw.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise BodyError(f"field {key!r} must be base64") from None


def b64_text(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True, slots=True)
class JoinStart:
    code_id: str  # which invite (the code's second group); not secret
    name: str  # the joiner's PC name, for its certificate
    workgroup: str  # the workgroup the joiner was set up for
    msg: bytes  # SPAKE2 message A

    def to_body(self) -> dict[str, Any]:
        return {"code_id": self.code_id, "name": self.name, "workgroup": self.workgroup} | {
            "msg": b64_text(self.msg)
        }

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> JoinStart:
        return cls(
            code_id=text(body, "code_id", max_len=16),
            name=text(body, "name", max_len=_NAME_MAX),
            workgroup=text(body, "workgroup", max_len=_NAME_MAX),
            msg=b64_field(body, "msg", max_bytes=64),
        )


@dataclass(frozen=True, slots=True)
class JoinStarted:
    msg: bytes  # SPAKE2 message B

    def to_body(self) -> dict[str, Any]:
        return {"msg": b64_text(self.msg)}

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> JoinStarted:
        return cls(b64_field(body, "msg", max_bytes=64))


@dataclass(frozen=True, slots=True)
class JoinFinish:
    code_id: str
    confirm: bytes  # the joiner's key confirmation

    def to_body(self) -> dict[str, Any]:
        return {"code_id": self.code_id, "confirm": b64_text(self.confirm)}

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> JoinFinish:
        return cls(text(body, "code_id", max_len=16), b64_field(body, "confirm", max_bytes=64))


@dataclass(frozen=True, slots=True)
class JoinFinished:
    confirm: bytes  # the member's key confirmation
    sealed: bytes  # the bundle (workgroup key, certificate), sealed with the PAKE key

    def to_body(self) -> dict[str, Any]:
        return {"confirm": b64_text(self.confirm), "sealed": b64_text(self.sealed)}

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> JoinFinished:
        return cls(
            b64_field(body, "confirm", max_bytes=64), b64_field(body, "sealed", max_bytes=64 * 1024)
        )


JOIN_START: RequestKind[JoinStart, JoinStarted] = RequestKind(
    "trust.join-start", 1, JoinStart.parse, JoinStarted.parse
)
JOIN_FINISH: RequestKind[JoinFinish, JoinFinished] = RequestKind(
    "trust.join-finish", 1, JoinFinish.parse, JoinFinished.parse
)
