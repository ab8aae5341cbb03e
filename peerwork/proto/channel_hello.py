"""``hello`` v1: who is at the other end of a channel (name, peer id, versions).

The first request type: enough to check a channel end to end, and what a
client asks before relying on a peer's other request types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .channel_body import RequestKind, integer, text

_NAME_MAX = 64


@dataclass(frozen=True, slots=True)
class HelloRequest:
    name: str  # the caller's PC name, for the callee's log

    def to_body(self) -> dict[str, Any]:
        return {"name": self.name}

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> HelloRequest:
        return cls(text(body, "name", max_len=_NAME_MAX))


@dataclass(frozen=True, slots=True)
class HelloReply:
    name: str
    peer_id: str
    workgroup: str
    version: str  # peerwork software version
    protocol: int  # peerwork.PROTOCOL_VERSION

    def to_body(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "peer_id": self.peer_id,
            "workgroup": self.workgroup,
            "version": self.version,
            "protocol": self.protocol,
        }

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> HelloReply:
        return cls(
            name=text(body, "name", max_len=_NAME_MAX),
            peer_id=text(body, "peer_id", max_len=_NAME_MAX),
            workgroup=text(body, "workgroup", max_len=_NAME_MAX),
            version=text(body, "version", max_len=_NAME_MAX),
            protocol=integer(body, "protocol", low=0, high=0xFFFF),
        )


HELLO: RequestKind[HelloRequest, HelloReply] = RequestKind(
    "hello", 1, HelloRequest.parse, HelloReply.parse
)
