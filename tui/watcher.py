"""Keeps the UI's picture of the agent current: reads it, follows the event stream,
and when the agent is gone says so and tries again. The only long-running I/O of the UI.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import aiohttp
from textual.message import Message

from peerwork.errors import PeerworkError
from peerwork.models import AgentEvent

from .agent_api import AgentApi
from .messages import AgentDown, AgentEventArrived, AgentUp, Refreshed
from .view import stale_part

log = logging.getLogger(__name__)

# How long the stream gets to be subscribed before the first read, so that no change
# made between the read and the subscription goes unseen.
SUBSCRIBE_GRACE = 0.1


class AgentWatcher:
    """``run()`` until cancelled; ``post`` gets :mod:`tui.messages` for the app."""

    def __init__(self, api: AgentApi, post: Callable[[Message], object], retry: float = 1.0):
        self.api = api
        self.post = post
        self.retry = retry

    async def run(self) -> None:
        while True:
            reason = await self._session()
            self.post(AgentDown(reason))
            await asyncio.sleep(self.retry)

    async def _session(self) -> str:
        """One connection to the agent, until it ends; returns why it ended."""
        events: asyncio.Queue[AgentEvent | BaseException | None] = asyncio.Queue()
        stream = asyncio.create_task(self._follow(events))
        try:
            await asyncio.sleep(SUBSCRIBE_GRACE)
            if stream.done():
                stream.result()
            self.post(AgentUp(await self.api.read_all()))
            while True:
                batch = [await events.get()]
                # A burst (a reload touching many shares) is read back once, not per event.
                while not events.empty():
                    batch.append(events.get_nowait())
                stale: list[str] = []
                for item in batch:
                    if item is None:
                        return "the agent closed its event stream (it stopped)"
                    if isinstance(item, BaseException):
                        raise item
                    self.post(AgentEventArrived(item))
                    stale += [p for p in stale_part(item) if p not in stale]
                for part in stale:
                    self.post(Refreshed(part, await self.api.read(part)))
        except PeerworkError as exc:
            return exc.message
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return f"lost the agent ({type(exc).__name__}: {exc})"
        finally:
            stream.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await stream
            await self.api.client.close()

    async def _follow(self, events: asyncio.Queue[AgentEvent | BaseException | None]) -> None:
        try:
            async for event in self.api.client.watch():
                events.put_nowait(event)
            events.put_nowait(None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            events.put_nowait(exc)
