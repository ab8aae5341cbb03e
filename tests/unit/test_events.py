import asyncio

from peerwork.agents.events import QUEUE_LIMIT, EventBus


async def test_a_slow_subscriber_loses_oldest_events_and_never_breaks_emit() -> None:
    bus = EventBus()
    slow = bus.subscribe()
    for i in range(QUEUE_LIMIT + 10):
        bus.emit("share-added", {"i": i})  # must not raise
    assert slow.qsize() == QUEUE_LIMIT
    first = slow.get_nowait()
    assert first.payload == {"i": 10}
    assert bus.missed(slow) == 10
    assert bus.missed(slow) == 0
    bus.unsubscribe(slow)
    bus.emit("x", {})  # no subscribers: nothing happens


async def test_every_subscriber_gets_every_event_in_order() -> None:
    bus = EventBus()
    a, b = bus.subscribe(), bus.subscribe()
    for kind in ("one", "two"):
        bus.emit(kind, {})
    got = [[q.get_nowait().kind for _ in range(2)] for q in (a, b)]
    assert got == [["one", "two"], ["one", "two"]]
    await asyncio.sleep(0)
