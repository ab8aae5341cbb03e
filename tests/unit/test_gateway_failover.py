"""peerwork.gateway.failover: who serves, who stands by, and when a standby takes over."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from peerwork.gateway.election import Candidate
from peerwork.gateway.failover import Armed, Move, decide

A = Candidate("aaa", "A", 9)  # first in line
B = Candidate("bbb", "B", 5)
C = Candidate("ccc", "C", 5)
DEAD = 6.0


def test_first_in_line_serves_when_nobody_is_active() -> None:
    verdict = decide(A, False, [Armed(B, False, 100.0)], 100.0, dead_after=DEAD)
    assert verdict.move is Move.SERVE and verdict.gateway == A
    verdict = decide(B, False, [Armed(A, False, 100.0)], 100.0, dead_after=DEAD)
    assert verdict.move is Move.STAND_BY and verdict.gateway == A


def test_a_standby_follows_the_alive_gateway_and_takes_over_when_it_goes_silent() -> None:
    gw = Armed(A, True, 100.0)  # last push at 100
    assert decide(B, False, [gw], 105.9, dead_after=DEAD).move is Move.STAND_BY
    after = decide(B, False, [gw], 106.1, dead_after=DEAD)
    assert after.move is Move.SERVE and "first in line" in after.reason
    # C is behind B (same priority, higher id): it keeps standing by, now behind B.
    verdict = decide(C, False, [gw, Armed(B, False, 106.1)], 106.1, dead_after=DEAD)
    assert verdict.move is Move.STAND_BY and verdict.gateway == B


def test_a_returning_higher_priority_pc_does_not_fight_the_incumbent() -> None:
    verdict = decide(A, False, [Armed(B, True, 50.0)], 51.0, dead_after=DEAD)
    assert verdict.move is Move.STAND_BY and verdict.gateway == B
    # ... and the incumbent keeps serving with A back in line.
    assert decide(B, True, [Armed(A, False, 51.0)], 51.0, dead_after=DEAD).move is Move.SERVE


def test_two_actives_resolve_by_election_order() -> None:
    assert decide(A, True, [Armed(B, True, 10.0)], 10.0, dead_after=DEAD).move is Move.SERVE
    verdict = decide(B, True, [Armed(A, True, 10.0)], 10.0, dead_after=DEAD)
    assert verdict.move is Move.STAND_BY and verdict.gateway == A


def test_a_foreign_gateway_makes_everyone_stand_down() -> None:
    verdict = decide(A, True, [], 0.0, dead_after=DEAD, foreign=["DHCP server 192.168.0.254"])
    assert verdict.move is Move.STAND_DOWN and verdict.gateway is None


def test_alone_it_serves() -> None:
    assert decide(B, False, [], 0.0, dead_after=DEAD).move is Move.SERVE


ARMED = st.lists(
    st.builds(
        Armed,
        candidate=st.builds(
            Candidate,
            peer_id=st.sampled_from(["p1", "p2", "p3", "p4", "p5"]),
            name=st.just("x"),
            priority=st.integers(0, 3),
        ),
        active=st.booleans(),
        heard=st.floats(0, 20),
    ),
    max_size=5,
    unique_by=lambda a: a.candidate.peer_id,
)


@given(ARMED, st.floats(0, 30))
def test_all_armed_pcs_with_one_view_agree_on_at_most_one_server(
    view: list[Armed], now: float
) -> None:
    """Every armed PC alive in ``view`` decides from the same view (its own entry
    taken out); at most one serves, and when any serves, all others follow it.
    A listed standby counts as heard now, as the service reports it."""
    view = [a if a.active else Armed(a.candidate, False, now) for a in view]
    alive = [a for a in view if now - a.heard <= DEAD]
    servers = []
    followed = set()
    for me in alive:
        others = [a for a in view if a is not me]
        verdict = decide(me.candidate, me.active, others, now, dead_after=DEAD)
        if verdict.move is Move.SERVE:
            servers.append(me.candidate)
        elif verdict.gateway is not None:
            followed.add(verdict.gateway)
    assert len(servers) <= 1
    if alive:
        assert len(servers) == 1
        assert followed <= set(servers)
