"""Supervision in the Service base (agents/service.py): state changes, events, adverts and
retries with backoff, for a service that fails at start and one that fails while running."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from peerwork.agents.adverts import AdvertBoard, ServiceAdvert
from peerwork.agents.service import RetryPolicy, Service, ServiceState
from peerwork.errors import ServiceError

FIRST = 0.05


class Flaky(Service):
    """Fails its first ``failures`` starts; once running, ``crash`` makes its worker raise."""

    name = "flaky"

    def __init__(self, failures: int = 0) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        super().__init__(emit=lambda kind, payload: self.events.append((kind, payload)))
        self.failures = failures
        self.starts: list[float] = []
        self.stops = 0
        self.crash = asyncio.Event()

    async def _start(self) -> None:
        self.starts.append(time.monotonic())
        if self.failures:
            self.failures -= 1
            raise ServiceError("port 9 is taken")
        self.crash = asyncio.Event()
        self.run_supervised(self._work(self.crash), "work")

    async def _work(self, crash: asyncio.Event) -> None:
        await crash.wait()
        raise ConnectionError("the listening socket went away")

    async def _stop(self) -> None:
        self.stops += 1

    def advert(self) -> ServiceAdvert:
        return ServiceAdvert(roles=("flaky",), ports={"flaky": 9})

    def states(self) -> list[str]:
        return [p["state"] for kind, p in self.events if kind == "service"]


async def wait_for(check: Any) -> None:
    for _ in range(500):  # 5 s at most
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met within 5 s")


def supervised(service: Flaky) -> AdvertBoard:
    board = AdvertBoard()
    service.supervise(board, RetryPolicy(first=FIRST, maximum=1.0))
    return board


async def test_a_service_failing_at_start_is_retried_with_backoff() -> None:
    svc = Flaky(failures=3)
    board = supervised(svc)
    await svc.launch()
    assert svc.state is ServiceState.FAILED
    assert svc.reason == "port 9 is taken"
    assert svc.status().to_json()["reason"] == "port 9 is taken"
    assert board.roles() == []
    await wait_for(lambda: svc.state is ServiceState.RUNNING)
    gaps = [b - a for a, b in zip(svc.starts, svc.starts[1:], strict=False)]
    assert len(gaps) == 3
    # first, 2*first, 4*first (sleep never returns early; generous upper margins for load)
    assert gaps[0] >= FIRST and gaps[1] >= 2 * FIRST and gaps[2] >= 4 * FIRST, gaps
    assert svc.states() == ["failed", "failed", "failed", "running"]
    assert board.roles() == ["flaky"] and board.ports() == {"flaky": 9}
    await svc.stop()
    assert board.roles() == []


async def test_a_service_failing_while_running_is_failed_announced_and_retried() -> None:
    svc = Flaky()
    board = supervised(svc)
    await svc.launch()
    assert svc.state is ServiceState.RUNNING
    assert board.roles() == ["flaky"]
    withdrawn: list[list[str]] = []
    board.subscribe(lambda: withdrawn.append(board.roles()))
    svc.crash.set()
    await wait_for(lambda: svc.state is ServiceState.FAILED)
    assert svc.reason == "the listening socket went away"
    failed = [p for k, p in svc.events if k == "service" and p["state"] == "failed"]
    assert failed and failed[-1]["reason"] == svc.reason
    assert withdrawn[0] == []  # its role left the board when it failed
    # retried: what the failed run held is released first, then it runs again
    await wait_for(lambda: svc.state is ServiceState.RUNNING)
    assert svc.stops == 1
    assert len(svc.starts) == 2
    assert board.roles() == ["flaky"]
    await svc.stop()


async def test_stop_ends_the_retries_and_fail_is_ignored_unless_running() -> None:
    svc = Flaky(failures=100)
    supervised(svc)
    await svc.launch()
    await wait_for(lambda: len(svc.starts) >= 2)
    await svc.stop()
    assert svc.state is ServiceState.STOPPED
    starts = len(svc.starts)
    await asyncio.sleep(4 * FIRST)
    assert len(svc.starts) == starts
    svc.fail("late report")
    assert svc.state is ServiceState.STOPPED and svc.reason == ""


async def test_backoff_stops_doubling_at_the_maximum() -> None:
    svc = Flaky(failures=5)
    svc.supervise(AdvertBoard(), RetryPolicy(first=0.02, maximum=0.04))
    await svc.launch()
    await wait_for(lambda: svc.state is ServiceState.RUNNING)
    gaps = [b - a for a, b in zip(svc.starts, svc.starts[1:], strict=False)]
    assert all(g < 1.0 for g in gaps), gaps  # 0.02, 0.04, 0.04, ... never 0.32
    await svc.stop()


class SelfPublishing(Flaky):
    """Keeps its board entry itself (no advert()): the base must leave it alone."""

    def __init__(self, board: AdvertBoard) -> None:
        super().__init__()
        self.board = board

    async def _start(self) -> None:
        await super()._start()
        self.board.set(self.name, ServiceAdvert(roles=("own",)))

    def advert(self) -> None:  # type: ignore[override]
        return None


async def test_the_base_never_withdraws_an_advert_it_did_not_publish() -> None:
    board = AdvertBoard()
    svc = SelfPublishing(board)
    svc.supervise(board, RetryPolicy(first=FIRST))
    await svc.launch()
    assert svc.state is ServiceState.RUNNING
    assert board.roles() == ["own"]
    await svc.stop()
    assert board.roles() == ["own"]  # its own _stop decides; this one keeps it


class BadAdvert(Flaky):
    """Runs fine, but building its advert raises (a bug in the service)."""

    name = "bad-advert"

    def advert(self) -> ServiceAdvert:
        raise ValueError("share list too long")


async def test_a_service_whose_advert_raises_runs_unannounced_and_says_why() -> None:
    board = AdvertBoard()
    good = Flaky()
    good.supervise(board, RetryPolicy(first=FIRST, maximum=1.0))
    bad = BadAdvert()
    bad.supervise(board, RetryPolicy(first=FIRST, maximum=1.0))
    await good.launch()
    await bad.launch()
    try:
        assert bad.state is ServiceState.RUNNING and good.state is ServiceState.RUNNING
        assert board.roles() == ["flaky"] and "bad-advert" not in board.adverts()
        assert bad.status().warnings == ("not announced: ValueError: share list too long",)
        assert good.status().warnings == ()
    finally:
        await bad.stop()
        await good.stop()
