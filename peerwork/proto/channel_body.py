"""Typed channel bodies: how a request type names its body and reply classes.

A request type is a :class:`RequestKind`: a name, a version, and the two
parsers that turn a received JSON object into a typed request or reply.
Request and reply classes are frozen dataclasses with ``to_body()``; their
parsers use the field readers here, so a body with a missing or mistyped
field is refused with :class:`BodyError` naming the field, before any handler
sees it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from peerwork.errors import PeerworkError

from .channel import valid_name


class BodyError(PeerworkError):
    """A body whose fields do not fit its request type."""

    code = "channel-body"


class Body(Protocol):
    def to_body(self) -> dict[str, Any]: ...


Req = TypeVar("Req", bound=Body)
Rep = TypeVar("Rep", bound=Body)


@dataclass(frozen=True, slots=True)
class RequestKind(Generic[Req, Rep]):
    name: str
    version: int
    parse_request: Callable[[Mapping[str, Any]], Req]
    parse_reply: Callable[[Mapping[str, Any]], Rep]

    def __post_init__(self) -> None:
        if not valid_name(self.name) or not 0 <= self.version <= 0xFFFF:
            raise ValueError(f"bad request kind {self.name!r} v{self.version}")


def text(body: Mapping[str, Any], key: str, *, max_len: int = 256) -> str:
    value = body.get(key)
    if not isinstance(value, str):
        raise BodyError(f"field {key!r} must be a string")
    if len(value) > max_len:
        raise BodyError(f"field {key!r} is longer than {max_len} characters")
    return value


def integer(body: Mapping[str, Any], key: str, *, low: int, high: int) -> int:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BodyError(f"field {key!r} must be an integer in {low}..{high}")
    return value
