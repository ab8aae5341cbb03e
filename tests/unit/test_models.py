"""The control API's models (peerwork/models.py): round trips, and hostile JSON from a
broken or foreign agent gives InvalidInput, never another exception."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.errors import InvalidInput
from peerwork.models import (
    DROPPED,
    AgentEvent,
    AgentStatus,
    Peer,
    PeerIdentity,
    PeerTrust,
    ServiceState,
    ServiceStatus,
    dropped_event,
)
from peerwork.proto.sse import SseDecoder, SseMessage, encode_message

STATUS = AgentStatus(
    peer=PeerIdentity("PC1", "OFFICE", "abc", "alice"),
    version="0.1.0",
    protocol=1,
    pid=42,
    home="/var/lib/peerwork",
    uptime=3.5,
    services=(
        ServiceStatus(
            "files",
            ServiceState.RUNNING,
            ports={"smb": 4445},
            details={"shares": 1},
            summary="on 0.0.0.0",
            notes=("anonymous (no logon): none",),
        ),
        ServiceStatus("discovery", ServiceState.FAILED, reason="no interface", warnings=("x",)),
        ServiceStatus("mail", ServiceState.DISABLED, reason="disabled in peerwork.toml"),
    ),
    shares=1,
    peers=0,
)


def test_status_round_trips_through_json_text() -> None:
    again = AgentStatus.from_json(json.loads(json.dumps(STATUS.to_json())))
    assert again == STATUS
    assert again.service("discovery") is not None
    assert again.service("discovery").state is ServiceState.FAILED  # type: ignore[union-attr]
    assert again.service("printers") is None


def test_an_older_client_ignores_new_keys_and_fills_missing_ones() -> None:
    data = STATUS.to_json() | {"gateway": {"role": "standby"}}
    data["services"][0] = {"name": "files", "state": "running", "new": 1}
    parsed = AgentStatus.from_json(data)
    assert parsed.services[0] == ServiceStatus("files", ServiceState.RUNNING)


def test_peer_round_trip() -> None:
    peer = Peer(
        "PC2",
        "id2",
        "OFFICE",
        ("10.0.0.2",),
        445,
        {"smb": 445, "ctl": 7445},
        ("files",),
        ("docs",),
        state=PeerTrust.IMPOSTOR,
        problem="a different key than first seen",
    )
    again = Peer.from_json(json.loads(json.dumps(peer.to_json())))
    assert again == peer and not again.verified


def test_peer_trust_from_older_and_newer_agents() -> None:
    assert Peer.from_json({"name": "A", "verified": True}).state is PeerTrust.VERIFIED
    assert Peer.from_json({"name": "A"}).state is PeerTrust.UNVERIFIED
    # a state this client does not know is never shown as trusted
    assert Peer.from_json({"name": "A", "verified": True, "state": "exiled"}).verified is False


def test_membership_states() -> None:
    member = Peer.from_json({"name": "A", "verified": True, "state": "member"})
    assert member.member and member.verified
    for state in ("not-a-member", "revoked"):
        peer = Peer.from_json({"name": "A", "verified": True, "state": state})
        assert peer.verified and not peer.member  # signed, but not one of us


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "PC2", "addresses": "10.0.0.2"},
        {"name": "PC2", "addresses": [1]},
        {"name": 5},
        {"name": "PC2", "smb_port": "445"},
        {"name": "PC2", "smb_port": True},
        {"name": "PC2", "verified": "yes"},
        [],
    ],
)
def test_peer_of_the_wrong_shape_is_invalid_input(bad: Any) -> None:
    with pytest.raises(InvalidInput):
        Peer.from_json(bad)


def test_event_travels_over_sse_and_back() -> None:
    event = AgentEvent(7, "share-added", {"name": "docs", "grants": {"alice": "full"}}, 12.5)
    wire = encode_message(event.to_sse())
    (message,) = SseDecoder().feed(wire)
    assert AgentEvent.from_sse(message) == event
    assert AgentEvent.from_json(event.to_json()) == event
    assert event.wire_data() == {"name": "docs", "grants": {"alice": "full"}, "seq": 7, "at": 12.5}


def test_the_dropped_note_has_no_id() -> None:
    note = dropped_event(3)
    assert note.kind == DROPPED and note.payload == {"missed": 3}
    assert note.to_sse().id is None


@pytest.mark.parametrize("data", ["not json", "[1, 2]", '{"seq": "one"}', '{"at": "now"}'])
def test_a_malformed_event_is_invalid_input(data: str) -> None:
    with pytest.raises(InvalidInput):
        AgentEvent.from_sse(SseMessage("share-added", data))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=15,
)
status_keys = st.sampled_from(
    ["peer", "version", "protocol", "pid", "home", "uptime", "services", "shares", "peers"]
)
service_like = st.fixed_dictionaries(
    {"name": json_values, "state": st.sampled_from(["running", "failed", "bogus", 1])},
    optional={
        "ports": json_values,
        "details": json_values,
        "notes": json_values,
        "warnings": json_values,
    },
)


@settings(max_examples=300)
@given(
    base=st.dictionaries(status_keys, json_values, max_size=9),
    services=st.lists(service_like | json_values, max_size=3),
)
def test_hostile_status_json_is_parsed_or_refused(base: dict[str, Any], services: Any) -> None:
    data = base | {"services": services}
    try:
        parsed = AgentStatus.from_json(data)
    except InvalidInput:
        return
    assert all(isinstance(s.state, ServiceState) for s in parsed.services)
    assert AgentStatus.from_json(parsed.to_json()) == parsed


@settings(max_examples=300)
@given(data=json_values | st.dictionaries(st.sampled_from(list(Peer.__slots__)), json_values))
def test_hostile_peer_json_is_parsed_or_refused(data: Any) -> None:
    try:
        peer = Peer.from_json(data)
    except InvalidInput:
        return
    assert Peer.from_json(peer.to_json()) == peer
