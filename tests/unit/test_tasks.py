import asyncio
import logging

import pytest

from peerwork.agents.tasks import BackgroundTasks


async def test_failures_are_logged_and_close_cancels_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks = BackgroundTasks("test")

    async def boom() -> None:
        raise RuntimeError("kaput")

    async def forever() -> None:
        await asyncio.sleep(3600)

    tasks.spawn(boom(), "boom")
    slow = tasks.spawn(forever(), "forever")
    with caplog.at_level(logging.ERROR, logger="peerwork.tasks"):
        await asyncio.sleep(0.01)
    assert "test:boom failed: kaput" in caplog.text
    assert len(tasks) == 1
    await tasks.close()
    assert slow.cancelled() and len(tasks) == 0
