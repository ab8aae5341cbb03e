"""Per-peer replication state: behind-by counts, states, when a sync is due."""

from __future__ import annotations

from peerwork.agents.account_peers import Replica, Replicas, ReplicaState

DIGEST = {"alice": (3, "a" * 32), "bob": (1, "b" * 32)}


def test_behind_counts_what_the_peer_lacks_or_has_older() -> None:
    replica = Replica("p" * 32, "PC2")
    assert replica.behind(DIGEST) is None and replica.state(DIGEST) is ReplicaState.UNKNOWN
    replica.note({"alice": (2, "z" * 32)})
    assert replica.behind(DIGEST) == 2 and replica.state(DIGEST) is ReplicaState.BEHIND
    replica.note({"alice": (3, "a" * 32), "bob": (1, "b" * 32)})
    replica.note({"alice": (1, "a" * 32)})  # an older stamp never lowers what it holds
    assert replica.behind(DIGEST) == 0 and replica.state(DIGEST) is ReplicaState.IN_SYNC
    replica.failed("timed out", 10.0)
    assert replica.state(DIGEST) is ReplicaState.UNREACHABLE
    assert replica.to_json(DIGEST)["error"] == "timed out"


def test_due_at_once_then_every_interval_backing_off_after_failures() -> None:
    replica = Replica("p" * 32, "PC2")
    assert replica.due(100.0, 30)
    replica.succeeded(100.0)
    assert not replica.due(129.0, 30) and replica.due(130.0, 30)
    replica.failed("down", 130.0)
    assert not replica.due(130.5, 30) and replica.due(131.0, 30)
    for _ in range(10):
        replica.failed("down", 200.0)
    assert not replica.due(229.0, 30) and replica.due(230.0, 30)  # never slower than interval
    replica.succeeded(300.0)
    replica.more = True
    assert replica.due(300.0, 30)  # it held entries back: at once


def test_replicas_keep_one_entry_per_peer_and_its_latest_name() -> None:
    replicas = Replicas()
    first = replicas.get("p" * 32, "PC2")
    assert replicas.get("p" * 32, "RENAMED") is first and first.name == "RENAMED"
    assert [r.peer_id for r in replicas.all()] == ["p" * 32]
