"""ChannelService as the agent runs it: the advert board, the directory, a replaceable policy.

Two services on loopback, each finding the other through the directory the
agent hands in (verified peers from discovery, here fixed lists).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from peerwork.agents.adverts import AdvertBoard
from peerwork.agents.channel.errors import ChannelError, ChannelRefused
from peerwork.agents.channel.link import ChannelLink
from peerwork.agents.channel.service import ChannelService, KnownPeer
from peerwork.agents.service import ServiceState
from peerwork.config import ChannelSection, PeerSection
from peerwork.errors import NotFound
from peerwork.identity import Identity
from peerwork.proto.channel import ErrorCode
from peerwork.proto.channel_hello import HELLO, HelloRequest

ID_A = Identity.generate("a")
ID_B = Identity.generate("b")


class Pair:
    def __init__(self) -> None:
        self.board = AdvertBoard()
        self.known_by_b: list[KnownPeer] = []
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.a = ChannelService(
            settings=ChannelSection(bind="127.0.0.1", port=0),
            identity=ID_A,
            peer=PeerSection("PCA", "OFFICE"),
            directory=lambda: [KnownPeer(ID_B.peer_id, "PCB", ("127.0.0.1",))],
            board=self.board,
            emit=lambda kind, payload: self.events.append((kind, payload)),
        )
        self.b = ChannelService(
            settings=ChannelSection(bind="127.0.0.1", port=0),
            identity=ID_B,
            peer=PeerSection("PCB", "OFFICE"),
            directory=lambda: self.known_by_b,
        )


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    pair = Pair()
    await pair.a.start()
    await pair.b.start()
    pair.known_by_b.append(
        KnownPeer(ID_A.peer_id, "PCA", ("127.0.0.1",), ctl_port=pair.a.ports()["ctl"])
    )
    try:
        yield pair
    finally:
        await pair.a.stop()
        await pair.b.stop()


async def test_the_service_publishes_ctl_and_answers_hello(pair: Pair) -> None:
    port = pair.a.ports()["ctl"]
    assert pair.board.ports() == {"ctl": port}
    assert pair.a.status().ports == {"ctl": port}
    reply = await pair.b.hello("pca")  # by name, any case
    assert reply["peer_id"] == ID_A.peer_id and reply["name"] == "PCA"
    assert (await pair.b.hello(ID_A.peer_id))["workgroup"] == "OFFICE"
    details = pair.a.status().details
    assert details["requests"] == ["hello/1"]
    assert details["counters"]["requests"] == 2


async def test_the_policy_is_a_callable_the_trust_layer_can_tighten(pair: Pair) -> None:
    pair.a.policy = lambda peer_id: False  # e.g. "not a member of the workgroup"
    with pytest.raises(ChannelRefused) as info:
        await pair.b.hello("PCA")
    assert info.value.error == ErrorCode.FORBIDDEN
    assert pair.a.status().details["counters"]["requests"] == 0
    refused = [p for kind, p in pair.events if kind == "channel-refused"]
    assert refused == [
        {"address": "127.0.0.1", "peer_id": ID_B.peer_id, "reason": "not a peer this PC accepts"}
    ]


async def test_unknown_peers_are_not_called(pair: Pair) -> None:
    with pytest.raises(NotFound, match="no verified peer"):
        await pair.b.hello("NOSUCH")


async def test_stopping_clears_the_advert() -> None:
    pair = Pair()
    await pair.a.start()
    assert "ctl" in pair.board.ports()
    await pair.a.stop()
    assert pair.a.state is ServiceState.STOPPED
    assert pair.board.ports() == {}


async def test_each_announced_address_is_tried_in_turn(pair: Pair) -> None:
    port = pair.a.ports()["ctl"]
    # Nothing listens on 127.0.0.2 (the server is bound to 127.0.0.1): skipped.
    pair.known_by_b[:] = [KnownPeer(ID_A.peer_id, "PCA", ("127.0.0.2", "127.0.0.1"), port)]
    assert (await pair.b.hello("PCA"))["name"] == "PCA"
    pair.known_by_b[:] = [KnownPeer(ID_A.peer_id, "PCA", ("127.0.0.2",), port)]
    with pytest.raises(ChannelError, match=r"no channel to 127\.0\.0\.2"):
        await pair.b.hello("PCA")


async def test_the_link_lets_other_services_serve_and_call_through_the_channel() -> None:
    """What mail, trust and the gateway use: a registry shared before the
    channel exists, and connections only while it runs and its policy allows."""
    link = ChannelLink()
    assert link.peers() == []
    pair = Pair()
    b = ChannelService(
        settings=ChannelSection(bind="127.0.0.1", port=0),
        identity=ID_B,
        peer=PeerSection("PCB", "OFFICE"),
        directory=lambda: pair.known_by_b,
        handlers=link.handlers,
    )
    link.attach(b)
    pca = KnownPeer(ID_A.peer_id, "PCA", ("127.0.0.1",))
    with pytest.raises(ChannelError, match="not running"):
        await link.connect(pca)
    await pair.a.start()
    await b.start()
    try:
        assert link.handlers.names() == ["hello/1"]  # the service serves the shared registry
        pair.known_by_b.append(
            KnownPeer(ID_A.peer_id, "PCA", ("127.0.0.1",), ctl_port=pair.a.ports()["ctl"])
        )
        assert [p.name for p in link.peers()] == ["PCA"]
        async with await link.connect(link.find("pca")) as conn:
            reply = await conn.call(HELLO, HelloRequest("PCB"))
        assert reply.peer_id == ID_A.peer_id
        b.policy = lambda peer_id: False
        assert link.peers() == []
        with pytest.raises(ChannelError, match="may call"):
            await link.connect(link.find("PCA"))
    finally:
        await pair.a.stop()
        await b.stop()
