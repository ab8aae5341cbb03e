"""peerwork.gateway.election: every PC with the same view names the same gateway."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from peerwork.gateway.election import (
    MAX_PRIORITY,
    PRIORITY_KEY,
    Candidate,
    elect,
    parse_priority,
)

PEER_IDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz234567", min_size=1, max_size=8)
CANDIDATES = st.lists(
    st.builds(
        Candidate,
        peer_id=PEER_IDS,
        name=st.text(max_size=8),
        priority=st.integers(0, MAX_PRIORITY),
    ),
    max_size=12,
)


def test_highest_priority_wins() -> None:
    a, b, c = Candidate("aaa", "A", 5), Candidate("bbb", "B", 9), Candidate("ccc", "C", 1)
    result = elect([a, b, c])
    assert result.gateway == b
    assert result.succession == (b, a, c)
    assert result.is_gateway("bbb") and not result.is_gateway("aaa")


def test_tie_goes_to_the_lowest_peer_id() -> None:
    a, b = Candidate("qqq", "A", 3), Candidate("ppp", "B", 3)
    assert elect([a, b]).gateway == b


def test_nobody_capable_means_no_gateway() -> None:
    result = elect([])
    assert result.gateway is None and result.succession == ()
    assert not result.is_gateway("")


def test_a_foreign_gateway_makes_everyone_stand_down() -> None:
    a = Candidate("aaa", "A", 100)
    result = elect([a], foreign=["a DHCP server at 192.168.0.254", "a default route"])
    assert result.gateway is None
    assert result.succession == (a,)  # still shown: who would be, once the router goes
    assert result.stood_down == "a DHCP server at 192.168.0.254; a default route"
    assert result.to_json()["gateway"] is None


def test_a_peer_listed_twice_counts_once_with_its_best_claim() -> None:
    old, new = Candidate("aaa", "A", 1), Candidate("aaa", "A", 7)
    other = Candidate("bbb", "B", 5)
    assert elect([old, other, new]).succession == (new, other)
    assert elect([new, other, old]).succession == (new, other)


@given(CANDIDATES, st.randoms(use_true_random=False))
def test_every_order_of_the_same_view_gives_the_same_answer(
    cands: list[Candidate], rnd: random.Random
) -> None:
    shuffled = list(cands)
    rnd.shuffle(shuffled)
    assert elect(cands) == elect(shuffled)


@given(CANDIDATES)
def test_the_winner_outranks_everyone(cands: list[Candidate]) -> None:
    result = elect(cands)
    if not cands:
        assert result.gateway is None
        return
    assert result.gateway is not None
    top = max(c.priority for c in cands)
    assert result.gateway.priority == top
    assert result.gateway.peer_id == min(c.peer_id for c in cands if c.priority == top)
    assert len({c.peer_id for c in result.succession}) == len(result.succession)


@given(CANDIDATES)
def test_losing_the_gateway_hands_over_to_the_next_in_line(cands: list[Candidate]) -> None:
    first = elect(cands)
    if first.gateway is None:
        return
    rest = [c for c in cands if c.peer_id != first.gateway.peer_id]
    after = elect(rest)
    assert after.succession == first.succession[1:]
    assert after.gateway == (first.succession[1] if len(first.succession) > 1 else None)


def test_parse_priority_reads_only_a_plain_number_in_range() -> None:
    assert parse_priority({PRIORITY_KEY: "0"}) == 0
    assert parse_priority({PRIORITY_KEY: "65535"}) == 65535
    for bad in ("65536", "-1", "", "1e3", " 5", "٣", "0x10", "999999999999"):
        assert parse_priority({PRIORITY_KEY: bad}) is None, bad
    assert parse_priority({PRIORITY_KEY: None}) is None
    assert parse_priority({}) is None


@given(st.one_of(st.none(), st.text(max_size=300)))
def test_parse_priority_never_raises_on_hostile_values(raw: str | None) -> None:
    value = parse_priority({PRIORITY_KEY: raw})
    assert value is None or 0 <= value <= MAX_PRIORITY
