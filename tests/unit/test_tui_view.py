"""tui/view.py: how the UI's picture of the agent follows events; hostile payloads."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from peerwork.errors import InvalidInput
from peerwork.models import AgentEvent, Peer, PeerTrust
from peerwork.tui.view import PARTS, AgentView, ShareRow, Snapshot, stale_part

PC2 = Peer(name="PC2", peer_id="id2", addresses=("10.0.0.2",), state=PeerTrust.VERIFIED)
PC3 = Peer(name="PC3", peer_id="id3")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def event(kind: str, payload: dict[str, Any]) -> AgentEvent:
    return AgentEvent(seq=1, kind=kind, payload=payload)


def test_peer_events_add_update_remove_and_keep_first_seen() -> None:
    view = AgentView()
    view.replace(Snapshot(peers=(PC2,)), now=100.0)
    assert view.first_seen == {"id2": 100.0}
    assert view.apply_peer_event(event("peer-added", PC3.to_json()), now=105.0)
    assert [p.name for p in view.sorted_peers()] == ["PC2", "PC3"]
    moved = Peer(name="PC2", peer_id="id2", addresses=("10.0.0.9",))
    assert view.apply_peer_event(event("peer-updated", moved.to_json()), now=110.0)
    assert view.peers["id2"].addresses == ("10.0.0.9",)
    assert view.first_seen["id2"] == 100.0  # online since it was first seen
    assert view.apply_peer_event(event("peer-removed", PC3.to_json()), now=120.0)
    assert list(view.peers) == ["id2"] and "id3" not in view.first_seen
    assert view.snapshot.peers == (view.peers["id2"],)


def test_replace_keeps_parts_a_snapshot_lacks() -> None:
    view = AgentView()
    view.replace(Snapshot(accounts=("alice",), peers=(PC2,)), now=1.0)
    view.replace(Snapshot(shares=()), now=2.0)
    assert view.snapshot.accounts == ("alice",) and view.snapshot.shares == ()
    assert list(view.peers) == ["id2"]


def test_stale_parts() -> None:
    assert stale_part(event("share-added", {})) == ("shares",)
    assert stale_part(event("account-removed", {})) == ("accounts",)
    assert stale_part(event("service", {})) == ("status",)
    assert stale_part(event("dropped", {"missed": 3})) == PARTS
    assert stale_part(event("peer-added", {})) == ()
    assert stale_part(event("something-new", {})) == ()


def test_share_row_grants_text_always_says_anonymous() -> None:
    row = ShareRow.from_json(
        {"name": "Docs", "path": "/srv/docs", "grants": {"everyone": "read"}, "anonymous": "none"}
    )
    assert row.grants_text() == "anonymous=none, everyone=read"


@given(payload=st.dictionaries(st.text(max_size=12), json_values, max_size=8))
def test_hostile_peer_payloads_never_crash(payload: dict[str, Any]) -> None:
    view = AgentView()
    view.replace(Snapshot(peers=(PC2,)), now=1.0)
    for kind in ("peer-added", "peer-updated", "peer-removed", "share-added"):
        applied = view.apply_peer_event(event(kind, payload), now=2.0)
        assert applied in (True, False)
    assert all(isinstance(p, Peer) for p in view.peers.values())


@given(data=json_values)
def test_hostile_share_rows_are_refused_cleanly(data: Any) -> None:
    try:
        row = ShareRow.from_json(data)
    except InvalidInput:
        return
    assert isinstance(row.grants_text(), str)
