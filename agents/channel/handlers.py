"""The registry services add their channel request types to.

A handler is ``async def handle(caller, request, stream) -> reply`` where
``request`` and ``reply`` are the typed bodies of its :class:`RequestKind`,
``caller`` says which verified peer is asking, and ``stream`` is the request's
body stream (None unless the kind was registered with ``max_stream``). To
answer with a stream of its own (a file, a log), a handler returns
``Answer(reply, chunks)``. To refuse, it raises :class:`ChannelRefused` with a
code; anything else it raises becomes ``internal`` and is logged.

A kind added with ``open_to_all=True`` (only ``trust.join-*``: how a PC that
is not a member yet proves a join code) is served to every caller with a
verified key, even one the channel's policy does not accept; such a caller
may send nothing else.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, cast

from peerwork.proto.channel import ErrorCode
from peerwork.proto.channel_body import Body, Rep, Req, RequestKind

from .errors import ChannelRefused
from .wire import BodyStream


@dataclass(frozen=True, slots=True)
class Caller:
    """The verified other end of a channel connection. ``admitted``: the channel's
    policy accepts it (otherwise it may only send open request kinds)."""

    peer_id: str
    address: str
    admitted: bool = True


@dataclass(frozen=True, slots=True)
class Answer(Generic[Rep]):
    reply: Rep
    stream: AsyncIterable[bytes] | None = None


Handler = Callable[[Caller, Req, BodyStream | None], Awaitable[Rep | Answer[Rep]]]


@dataclass(frozen=True, slots=True)
class Entry:
    """One registered (name, version), with its types erased for dispatch."""

    name: str
    version: int
    max_stream: int  # 0: the request may not carry a body stream
    open_to_all: bool  # served to callers the policy does not accept
    call: Callable[[Caller, Mapping[str, Any], BodyStream | None], Awaitable[Answer[Body]]]


class HandlerRegistry:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, int], Entry] = {}

    def add(
        self,
        kind: RequestKind[Req, Rep],
        handler: Handler[Req, Rep],
        *,
        max_stream: int = 0,
        open_to_all: bool = False,
    ) -> None:
        """Serve ``kind``; ``max_stream`` bytes of request body stream accepted;
        ``open_to_all``: also to callers the channel's policy does not accept."""
        key = (kind.name, kind.version)
        if key in self._entries:
            raise ValueError(f"{kind.name} v{kind.version} already has a handler")

        async def call(
            caller: Caller, body: Mapping[str, Any], stream: BodyStream | None
        ) -> Answer[Body]:
            result = await handler(caller, kind.parse_request(body), stream)
            if isinstance(result, Answer):
                return cast(Answer[Body], result)
            return Answer(result)

        self._entries[key] = Entry(kind.name, kind.version, max_stream, open_to_all, call)

    def remove(self, kind: RequestKind[Any, Any]) -> None:
        self._entries.pop((kind.name, kind.version), None)

    def lookup(self, name: str, version: int) -> Entry:
        """The entry for a request, or ChannelRefused saying what this peer serves."""
        entry = self._entries.get((name, version))
        if entry is not None:
            return entry
        versions = sorted(v for n, v in self._entries if n == name)
        if not versions:
            raise ChannelRefused(ErrorCode.UNKNOWN_REQUEST, f"no request type {name!r} here")
        raise ChannelRefused(
            ErrorCode.UNSUPPORTED_VERSION,
            f"{name} v{version} is not served; versions here: {', '.join(map(str, versions))}",
        )

    def is_open(self, name: str, version: int) -> bool:
        entry = self._entries.get((name, version))
        return entry is not None and entry.open_to_all

    def has_open(self) -> bool:
        return any(e.open_to_all for e in self._entries.values())

    def names(self) -> list[str]:
        return sorted(f"{n}/{v}" for n, v in self._entries)
