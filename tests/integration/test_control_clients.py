"""The async control client (peerwork/control_async.py) against the agent's real control
server on its Unix socket, beside the sync client: same answers, same error classes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from peerwork.agents.agent import Agent
from peerwork.agents.events import QUEUE_LIMIT
from peerwork.control import ControlClient
from peerwork.control_async import AsyncControlClient
from peerwork.errors import AgentNotRunning, InvalidInput, NotFound
from peerwork.models import DROPPED, ServiceState
from tests.helpers.agent import init_home


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[Agent]:
    """An agent whose control server runs (its services are not started)."""
    home = tmp_path / "home"
    init_home(home)
    (tmp_path / "docs").mkdir()
    agent = Agent(home)
    await agent.control.start()
    try:
        yield agent
    finally:
        await agent.control.stop()
        agent.lock.release()


async def test_answers_match_the_sync_client(agent: Agent) -> None:
    sync = ControlClient(agent.paths.socket)
    async with AsyncControlClient(agent.paths.socket) as client:
        status = await client.status()
        assert status.peer.name == "PC1" and status.peer.id == agent.identity.peer_id
        states = {s.name: s.state for s in status.services}
        assert states["files"] is ServiceState.STOPPED  # built, not started here
        assert states["discovery"] is ServiceState.DISABLED  # init_home turns it off
        assert await client.peers() == []
        assert await client.get("/shares") == await asyncio.to_thread(sync.get, "/shares")
        added = await client.post("/shares", {"path": str(agent.paths.root.parent / "docs")})
        assert added["name"] == "docs"
        assert (await client.get("/files/shares/docs"))["name"] == "docs"
        assert (await asyncio.to_thread(sync.get, "/shares/docs"))["name"] == "docs"


async def test_errors_come_back_as_the_class_the_agent_named(agent: Agent) -> None:
    sync = ControlClient(agent.paths.socket)
    async with AsyncControlClient(agent.paths.socket) as client:
        with pytest.raises(NotFound, match="no share named 'nope'"):
            await client.get("/shares/nope")
        with pytest.raises(NotFound, match="no share named 'nope'"):
            await asyncio.to_thread(sync.get, "/shares/nope")
        with pytest.raises(InvalidInput, match="'path' must be a non-empty string"):
            await client.post("/shares", {"path": 5})
    gone = AsyncControlClient(agent.paths.root / "nothing.sock")
    with pytest.raises(AgentNotRunning, match="no peerwork agent is running"):
        await gone.status()
    await gone.close()


async def test_watch_yields_events_in_order_and_tells_a_slow_reader_what_it_missed(
    agent: Agent,
) -> None:
    async with AsyncControlClient(agent.paths.socket) as client:
        stream = client.watch()
        first = asyncio.ensure_future(anext(stream))
        for _ in range(100):  # until the server has subscribed this reader
            if agent.bus.subscribers:
                break
            await asyncio.sleep(0.02)
        agent.bus.emit("share-added", {"name": "docs", "comment": "line one\nline two"})
        async with asyncio.timeout(10):
            event = await first
        assert event.kind == "share-added"
        assert event.payload == {"name": "docs", "comment": "line one\nline two"}
        # more than the queue holds, while this reader is not reading
        for i in range(300):
            agent.bus.emit("peer-added", {"i": i})
        async with asyncio.timeout(10):
            note = await anext(stream)
            following = await anext(stream)
        # the emits ran with no chance for the server to read: exactly the overflow was lost
        assert note.kind == DROPPED and note.payload["missed"] == 300 - QUEUE_LIMIT
        assert following.kind == "peer-added"
        await stream.aclose()
