"""Log a recurring condition once per interval, not once per occurrence.

A flood (connections refused at a cap, accept() failing with EMFILE) must not
turn into a flood of log lines: the first occurrence is logged at once, later
ones are counted and reported with the next line, at most one per interval.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

INTERVAL = 60.0
# asyncio's message when accept() fails for lack of descriptors or memory (it then
# stops accepting for a second: no busy loop, but one log line with a traceback each time).
ACCEPT_FAILED = "socket.accept() out of system resource"


class Throttle:
    def __init__(
        self,
        logger: logging.Logger,
        interval: float = INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.interval = interval
        self.clock = clock
        # key -> (when last logged, occurrences not logged since). Callers use a
        # fixed set of keys (kinds of event, never addresses), so this stays small.
        self._seen: dict[str, tuple[float, int]] = {}

    def log(self, key: str, level: int, msg: str, *args: object) -> bool:
        """Log ``msg % args`` unless ``key`` was logged less than ``interval`` ago;
        returns whether it was logged."""
        now = self.clock()
        last = self._seen.get(key)
        if last is not None and now - last[0] < self.interval:
            self._seen[key] = (last[0], last[1] + 1)
            return False
        if last is not None and last[1]:
            msg += f" (and {last[1]} more times in the last {self.interval:g}s)"
        self.logger.log(level, msg, *args)
        self._seen[key] = (now, 0)
        return True


def throttle_accept_errors(loop: asyncio.AbstractEventLoop, logger: logging.Logger) -> None:
    """Make ``loop`` report failing accept() calls once per interval; other errors
    go to the handler that was there before (or asyncio's default)."""
    throttle = Throttle(logger)
    previous = loop.get_exception_handler()

    def handler(lp: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") == ACCEPT_FAILED:
            exc = context.get("exception")
            throttle.log(
                "accept", logging.ERROR, "accepting a connection failed: %s", exc or "no resources"
            )
            return
        if previous is not None:
            previous(lp, context)
        else:
            lp.default_exception_handler(context)

    loop.set_exception_handler(handler)
