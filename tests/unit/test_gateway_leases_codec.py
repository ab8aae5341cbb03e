"""``gateway.leases`` v1 (peerwork/proto/gateway_leases.py) and its conversion to the
gateway's lease table and back (agents/gateway/replication.py)."""

from __future__ import annotations

import asyncio
from ipaddress import IPv4Address
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerwork.agents.channel.errors import ChannelRefused
from peerwork.agents.channel.handlers import Caller
from peerwork.agents.gateway.dhcp_leases import Lease, LeaseState, LeaseTable
from peerwork.agents.gateway.replication import from_push, lease_handler, to_push
from peerwork.proto.channel_body import BodyError
from peerwork.proto.gateway_leases import (
    LEASES,
    MAX_LEASES,
    NOT_THE_GATEWAY,
    LeaseEntry,
    LeasePush,
    LeasePushReply,
)


def lease(last: int, state: LeaseState = LeaseState.BOUND, host: str = "pc") -> Lease:
    return Lease(
        IPv4Address(f"192.168.0.{last}"),
        b"\x01" + bytes([0, 0x16, 0x3E, 0, 0, last]),
        f"00:16:3e:00:00:{last:02x}",
        state,
        1_900_000_000.5,
        host,
    )


def good() -> dict[str, Any]:
    return dict(lease(7).to_json())


def test_round_trip_keeps_every_kept_lease_and_drops_offers() -> None:
    table = LeaseTable(
        {
            x.address: x
            for x in (
                lease(2),
                lease(3, LeaseState.RELEASED, ""),
                lease(4, LeaseState.DECLINED),
                lease(5, LeaseState.OFFERED),
            )
        }
    )
    push = to_push(table)
    again = LEASES.parse_request(push.to_body())
    assert again == push
    back = from_push(again)
    assert set(back.leases) == {IPv4Address(f"192.168.0.{n}") for n in (2, 3, 4)}
    for address, kept in back.leases.items():
        assert kept == table.leases[address]
    assert LEASES.parse_reply(LeasePushReply(3).to_body()) == LeasePushReply(3)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("address", "192.168.0.300"),
        ("address", 7),
        ("client_id", "0g"),
        ("client_id", "abc"),
        ("client_id", "00" * 256),
        ("mac", "00:16:3E:00:00:07"),
        ("mac", "00-16-3e-00-00-07"),
        ("state", "offered"),
        ("expires", float("nan")),
        ("expires", float("inf")),
        ("expires", -1),
        ("expires", True),
        ("expires", "1"),
        ("hostname", "a.b"),
        ("hostname", "-x"),
        ("hostname", "x" * 64),
    ],
)
def test_a_bad_field_refuses_the_whole_push(key: str, value: object) -> None:
    entry = good() | {key: value}
    with pytest.raises(BodyError):
        LeasePush.parse({"leases": [good() | {"address": "192.168.0.9"}, entry]})


def test_missing_fields_duplicates_and_oversize_are_refused() -> None:
    for body in (
        {},
        {"leases": {}},
        {"leases": ["x"]},
        {"leases": [{k: v for k, v in good().items() if k != "mac"}]},
        {"leases": [good(), good()]},  # one address twice
        {"leases": [good()] * (MAX_LEASES + 1)},
    ):
        with pytest.raises(BodyError):
            LeasePush.parse(body)
    with pytest.raises(BodyError):
        LeasePushReply.parse({"kept": -1})


FIELD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.lists(st.integers(), max_size=3),
)


@given(
    st.lists(
        st.dictionaries(st.sampled_from([*sorted(good()), "other"]), FIELD_VALUES, max_size=8).map(
            lambda d: good() | d
        ),
        max_size=5,
    )
)
def test_hostile_pushes_parse_or_raise_body_error(items: list[dict[str, Any]]) -> None:
    try:
        push = LeasePush.parse({"leases": items})
    except BodyError:
        return
    # What parsed is a table we can hold and send back unchanged.
    assert LeasePush.parse(push.to_body()) == push
    assert len(from_push(push).leases) == len(push.leases)


@given(st.recursive(FIELD_VALUES, lambda c: st.lists(c) | st.dictionaries(st.text(), c)))
def test_any_json_as_the_leases_field_never_crashes(value: object) -> None:
    try:
        push = LeasePush.parse({"leases": value})
    except BodyError:
        return
    assert value == [] and push == LeasePush(())  # nothing random is a lease


def test_the_handler_keeps_only_the_gateways_pushes() -> None:
    kept: list[LeaseTable] = []

    async def store(peer_id: str, table: LeaseTable) -> None:
        assert peer_id == "gw"
        kept.append(table)

    handle = lease_handler(lambda peer: peer == "gw", store)
    push = to_push(LeaseTable({lease(2).address: lease(2)}))

    async def scenario() -> None:
        reply = await handle(Caller("gw", "192.168.0.1"), push, None)
        assert reply == LeasePushReply(1)
        with pytest.raises(ChannelRefused) as refused:
            await handle(Caller("someone", "192.168.0.9"), push, None)
        assert refused.value.error == NOT_THE_GATEWAY

    asyncio.run(scenario())
    assert len(kept) == 1 and kept[0].leases[lease(2).address] == lease(2)


def test_entry_is_what_the_table_holds() -> None:
    x = lease(9)
    entry = to_push(LeaseTable({x.address: x})).leases[0]
    assert entry == LeaseEntry(x.address, x.client_id, x.mac, "bound", x.expires, "pc")
