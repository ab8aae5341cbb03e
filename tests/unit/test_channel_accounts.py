"""accounts-sync / accounts-push bodies: round trips, limits, hostile JSON (hypothesis)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.account_log import AccountLog
from peerwork.identity import Identity
from peerwork.proto.channel_accounts import (
    ACCOUNTS_PUSH,
    ACCOUNTS_SYNC,
    MAX_ENTRIES,
    PushReply,
    PushRequest,
    SyncReply,
    SyncRequest,
)
from peerwork.proto.channel_body import BodyError

PC = Identity.generate("PC1")
LOG = AccountLog()
ENTRIES = (
    *(LOG.local(PC, f"user{i}", bytes([i]) * 16, i) for i in range(3)),
    LOG.local(PC, "user0", None, 9),
)


def test_round_trips() -> None:
    sync = SyncRequest(LOG.digest())
    assert ACCOUNTS_SYNC.parse_request(sync.to_body()) == sync
    reply = SyncReply(ENTRIES, ("user1",), more=True)
    assert ACCOUNTS_SYNC.parse_reply(reply.to_body()) == reply
    push = PushRequest(ENTRIES)
    assert ACCOUNTS_PUSH.parse_request(push.to_body()) == push
    answer = PushReply(2, ("user0: its signature does not verify",))
    assert ACCOUNTS_PUSH.parse_reply(answer.to_body()) == answer


def test_limits() -> None:
    too_many = {"entries": [ENTRIES[0].to_json()] * (MAX_ENTRIES + 1)}
    with pytest.raises(BodyError, match="at most"):
        PushRequest.parse(too_many)
    with pytest.raises(BodyError, match="digest"):
        SyncRequest.parse({"digest": {"alice": [1]}})
    with pytest.raises(BodyError, match="names"):
        SyncReply.parse({"entries": [], "wanted": ["../etc"]})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.text(max_size=70),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
KEYS = st.sampled_from(["digest", "entries", "wanted", "more", "applied", "refused"])
PARSERS = [SyncRequest.parse, SyncReply.parse, PushRequest.parse, PushReply.parse]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(PARSERS), st.dictionaries(KEYS | st.text(max_size=6), json_values, max_size=5)
)
def test_hostile_bodies_raise_body_error_only(parse: Any, body: dict[str, Any]) -> None:
    try:
        parsed = parse(body)
    except BodyError:
        return
    assert parse(parsed.to_body()) == parsed  # what is accepted is exactly what it says


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(ENTRIES) - 1), st.sampled_from(list(ENTRIES[0].to_json())), json_values)
def test_one_mutated_entry_refuses_the_whole_push_or_parses(
    index: int, key: str, value: Any
) -> None:
    entries = [e.to_json() for e in ENTRIES]
    entries[index] = {**entries[index], key: value}
    try:
        parsed = PushRequest.parse({"entries": entries})
    except BodyError as exc:
        assert "entries" in exc.message
        return
    assert len(parsed.entries) == len(ENTRIES)
