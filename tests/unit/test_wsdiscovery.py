"""Pure parts of the WS-Discovery service: the stable endpoint and the reply budget."""

from __future__ import annotations

import uuid

from peerwork.agents.wsdiscovery import REPLY_BURST, REPLY_RATE, ReplyBudget, endpoint_urn


def test_endpoint_is_stable_per_peer_and_distinct_between_peers() -> None:
    a = endpoint_urn("cqerz5m66bv6xjlukzgpsd4eqjhcw23x")
    assert a == endpoint_urn("cqerz5m66bv6xjlukzgpsd4eqjhcw23x")
    assert a != endpoint_urn("aaaaz5m66bv6xjlukzgpsd4eqjhcw23x")
    assert uuid.UUID(a).version == 5  # what wsdd's uuid.UUID(endpoint) accepts


def test_budget_allows_a_burst_then_the_rate() -> None:
    budget = ReplyBudget(REPLY_RATE, REPLY_BURST)
    now = 1000.0
    assert sum(budget.take(now) for _ in range(500)) == REPLY_BURST
    assert not budget.take(now)
    # One second later: REPLY_RATE more, never more than the burst after a long pause.
    assert sum(budget.take(now + 1) for _ in range(500)) == REPLY_RATE
    assert sum(budget.take(now + 3600) for _ in range(500)) == REPLY_BURST
