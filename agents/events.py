"""Fan-out of agent events to the control API's subscribers (the TUI, ``peerwork events``).

Each subscriber has a bounded queue: a subscriber that stops reading loses the
oldest events (and is told how many), it never makes the agent hold unbounded
memory, and emitting never fails because of a subscriber.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

from peerwork.models import AgentEvent as Event

QUEUE_LIMIT = 256


class EventBus:
    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[Event]] = set()
        self._missed: dict[asyncio.Queue[Event], int] = {}
        self._seq = itertools.count(1)

    def emit(self, kind: str, payload: dict[str, Any]) -> None:
        """Never raises: a subscriber whose queue is full loses its oldest event, and
        the next event it reads says how many it missed."""
        event = Event(next(self._seq), kind, payload, time.time())
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
                self._missed[queue] = self._missed.get(queue, 0) + 1
            queue.put_nowait(event)

    def missed(self, queue: asyncio.Queue[Event]) -> int:
        """Events dropped for ``queue`` since the last call (and reset)."""
        return self._missed.pop(queue, 0)

    def subscribe(self) -> asyncio.Queue[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_LIMIT)
        self._subscribers.add(queue)
        return queue

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        self._subscribers.discard(queue)
        self._missed.pop(queue, None)
