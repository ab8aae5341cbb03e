"""``peerwork join`` on a PC whose agent is not running: an agent just for the join.

The join needs what only an agent has (discovery to find the member, the
channel to run the PAKE over), so the CLI runs one in-process, asks it to
join through its control API like any other client, and stops it.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from peerwork.control_async import AsyncControlClient
from peerwork.errors import AgentNotRunning, NotFound

# Discovery needs a moment to see the member the code names after the agent starts.
FIND_MEMBER_FOR = 15.0
START_STOP = 30.0


async def join_with_own_agent(home: Path, body: dict[str, Any]) -> Any:
    """Start an agent for ``home``, POST ``body`` to its ``/trust/join``, stop it."""
    from peerwork.agents.agent import Agent
    from peerwork.home import HomePaths

    agent = Agent(home)
    ready = asyncio.Event()
    task = asyncio.create_task(agent.run(on_ready=lambda _: ready.set()))
    try:
        async with asyncio.timeout(START_STOP):
            waiter = asyncio.create_task(ready.wait())
            await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
        if task.done():
            raise AgentNotRunning(f"the agent for {home} did not start (exit {task.result()})")
        async with AsyncControlClient(HomePaths(home).socket, timeout=20.0) as client:
            deadline = time.monotonic() + FIND_MEMBER_FOR
            while True:
                try:
                    return await client.request("POST", "/trust/join", body)
                except NotFound:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.5)
    finally:
        if not task.done():
            agent.request_stop()
            async with asyncio.timeout(START_STOP):
                await task
