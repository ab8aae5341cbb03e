"""Fan-out of agent events to the control API's subscribers (the TUI, ``peerwork events``).

Each subscriber has a bounded queue: a subscriber that stops reading loses the
oldest events (and is told so), it never makes the agent hold unbounded memory.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass
from typing import Any

QUEUE_LIMIT = 256


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    kind: str
    payload: dict[str, Any]
    at: float


class EventBus:
    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[Event]] = set()
        self._seq = itertools.count(1)

    def emit(self, kind: str, payload: dict[str, Any]) -> None:
        event = Event(next(self._seq), kind, payload, time.time())
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
                queue.put_nowait(
                    Event(event.seq, "dropped", {"reason": "subscriber too slow"}, event.at)
                )
            queue.put_nowait(event)

    def subscribe(self) -> asyncio.Queue[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_LIMIT)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        self._subscribers.discard(queue)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
