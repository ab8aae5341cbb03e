"""The mail queue: pure entry states, the spool on disk, idempotent Maildir delivery."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from peerwork.agents.mail import queue_state as qs
from peerwork.agents.mail.errors import DestinationDown
from peerwork.agents.mail.homes import Home, HomeKind
from peerwork.agents.mail.maildir import Maildir, mailbox_of
from peerwork.agents.mail.outbound import RelayResult, SmarthostError
from peerwork.agents.mail.queue_state import Deferred, Delivered, EntryState, QueueEntry, step
from peerwork.agents.mail.runner import QueueRunner
from peerwork.agents.mail.spool import Spool, new_id

T0 = 1_800_000_000.0


def entry(*recipients: str) -> QueueEntry:
    return QueueEntry("1.abc", "alice@office.lan", recipients, created=T0)


def test_delivered_to_all_is_done() -> None:
    e = step(entry("bob", "carol"), Delivered("bob"), T0)
    assert e.state is EntryState.QUEUED and e.pending == ("carol",)
    e = step(e, Delivered("bob"), T0)  # repeated: nothing changes
    assert e.delivered == ("bob",)
    e = step(e, Delivered("carol"), T0)
    assert e.state is EntryState.DONE
    assert step(e, Deferred("late"), T0) is e  # finished entries ignore events


def test_deferred_backs_off_then_expires() -> None:
    e = entry("bob")
    delays = []
    for n in range(1, 8):
        e = step(e, Deferred("home PC off"), T0 + n)
        delays.append(e.next_try - (T0 + n))
    assert delays == sorted(delays) and delays[0] == qs.FIRST_RETRY
    assert max(delays) <= qs.MAX_RETRY and not e.due(T0 + 7) and e.last_error == "home PC off"
    e = step(e, Deferred("still off"), T0 + qs.EXPIRE_AFTER)
    assert e.state is EntryState.EXPIRED


def test_unknown_recipient_event_ignored() -> None:
    assert step(entry("bob"), Delivered("mallory"), T0) == entry("bob")


@given(st.lists(st.one_of(st.builds(Delivered, st.sampled_from(["bob", "carol", "x"])),
                          st.builds(Deferred, st.text(max_size=5))), max_size=30),
       st.floats(min_value=0, max_value=1e7))  # fmt: skip
def test_any_event_sequence_keeps_invariants(events: list[qs.Event], gap: float) -> None:
    e = entry("bob", "carol")
    for i, event in enumerate(events):
        e = step(e, event, T0 + i * gap)
        assert set(e.delivered) <= set(e.recipients)
        assert (e.state is EntryState.DONE) == (not e.pending)
        assert QueueEntry.from_json(json.loads(json.dumps(e.to_json()))) == e


def _queue_one(spool: Spool, body: bytes, *recipients: str) -> QueueEntry:
    incoming = spool.receive(new_id(T0))
    incoming.write(body)
    incoming.finish()
    e = QueueEntry(incoming.id, "alice@office.lan", recipients, created=T0)
    spool.commit(incoming, e)
    return e


def test_spool_sweeps_crash_leftovers(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "queue")
    spool.prepare()
    kept = _queue_one(spool, b"kept\r\n", "bob")
    spool.receive("2.half").write(b"cut off mid-DATA")  # never acknowledged
    (spool.data / "3.noenv").write_bytes(b"fsynced, envelope never written")
    orphan = QueueEntry("4.nodata", "a@office.lan", ("bob",), created=T0)
    (spool.env / "4.nodata.json").write_text(json.dumps(orphan.to_json()))  # rename lost
    (spool.env / ".5.half.json").write_text("{")  # an envelope being written
    Spool(tmp_path / "queue").prepare()  # the next start
    assert [e.id for e in spool.entries()] == [kept.id]
    assert sorted(p.name for p in spool.data.iterdir()) == [kept.id]
    assert sorted(p.name for p in spool.env.iterdir()) == [f"{kept.id}.json"]
    assert list(spool.incoming.iterdir()) == []


def test_damaged_envelope_skipped(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "queue")
    spool.prepare()
    good = _queue_one(spool, b"x\r\n", "bob")
    (spool.env / "9.bad.json").write_text("{not json")
    (spool.env / "8.bad.json").write_text('{"id": "8.bad"}')
    assert [e.id for e in spool.entries()] == [good.id]


def test_maildir_delivery_idempotent(tmp_path: Path) -> None:
    src = tmp_path / "msg"
    src.write_bytes(b"hello\r\n")
    box = Maildir(tmp_path / "bob" / "Maildir")
    assert box.deliver(src, "1.abc") is True
    assert box.deliver(src, "1.abc") is False
    # A mail client moved it to cur/ with flags: still recognised as delivered.
    (box.root / "new" / "1.abc").rename(box.root / "cur" / "1.abc:2,S")
    assert box.deliver(src, "1.abc") is False
    assert [(m.uid, m.size) for m in box.messages()] == [("1.abc", 7)]


async def test_runner_after_crash_delivers_exactly_once(tmp_path: Path) -> None:
    """kill -9 between the Maildir link and the envelope update: the restart's pass
    finds the message delivered, adds no copy, and finishes the entry."""
    spool = Spool(tmp_path / "mail" / "queue")
    spool.prepare()
    e = _queue_one(spool, b"once\r\n", "bob", "carol")
    mailbox_of(tmp_path / "mail", "bob").deliver(spool.data_path(e.id), e.id)  # then "crash"
    runner = QueueRunner(spool, tmp_path / "mail", clock=lambda: T0)
    assert await runner.deliver_due() is None
    for account in ("bob", "carol"):
        messages = mailbox_of(tmp_path / "mail", account).messages()
        assert [m.uid for m in messages] == [e.id]
        assert messages[0].path.read_bytes() == b"once\r\n"
    assert spool.entries() == [] and list(spool.data.iterdir()) == []


async def test_runner_defers_remote_home(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "mail" / "queue")
    spool.prepare()
    e = _queue_one(spool, b"x\r\n", "bob")
    runner = QueueRunner(
        spool,
        tmp_path / "mail",
        locate=lambda a: Home(HomeKind.REMOTE, "id2", "PC2"),
        clock=lambda: T0,
    )
    assert await runner.deliver_due() == T0 + qs.FIRST_RETRY
    [after] = spool.entries()
    assert after.id == e.id and after.attempts == 1
    assert after.last_error == "bob: home PC PC2 (no channel to hand it over)"
    # Not due yet: another pass changes nothing.
    assert await asyncio.wait_for(runner.deliver_due(), 5) == T0 + qs.FIRST_RETRY
    assert spool.entries()[0].attempts == 1


async def test_runner_hands_remote_recipients_over_and_defers_on_failure(tmp_path: Path) -> None:
    """bob lives here, carol and dave on PC2: bob's copy is linked at once; carol and
    dave are marked delivered only for what the hand-off reports, the rest waits."""
    spool = Spool(tmp_path / "mail" / "queue")
    spool.prepare()
    e = _queue_one(spool, b"x\r\n", "bob", "carol", "dave")
    pc2 = Home(HomeKind.REMOTE, "id2", "PC2")
    calls: list[tuple[str, tuple[str, ...]]] = []
    answers: list[tuple[str, ...] | Exception] = [
        OSError("no route to host"),
        ("carol",),
        ("carol", "dave"),
    ]

    async def send(home: Home, entry: QueueEntry, accounts: tuple[str, ...]) -> tuple[str, ...]:
        calls.append((home.peer_id, accounts))
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    now = [T0]
    runner = QueueRunner(
        spool,
        tmp_path / "mail",
        locate=lambda a: Home(HomeKind.LOCAL) if a == "bob" else pc2,
        send=send,
        clock=lambda: now[0],
    )
    assert await runner.deliver_due() == T0 + qs.FIRST_RETRY
    [after] = spool.entries()
    assert after.delivered == ("bob",)
    assert after.last_error == "carol, dave: home PC PC2: no route to host"
    assert [m.uid for m in mailbox_of(tmp_path / "mail", "bob").messages()] == [e.id]
    now[0] = T0 + qs.FIRST_RETRY
    await runner.deliver_due()
    [after] = spool.entries()
    assert after.delivered == ("bob", "carol") and "dave: home PC PC2 did not take it" in (
        after.last_error
    )
    assert await runner.deliver_due(force=True) is None
    assert spool.entries() == [] and runner.delivered == 1
    # Each try asked only for who was still pending.
    assert calls == [("id2", ("carol", "dave"))] * 2 + [("id2", ("dave",))]


async def test_a_destination_found_down_is_tried_once_per_pass(tmp_path: Path) -> None:
    """Three messages for bob (home PC2, off) and two for the outside (smarthost down):
    one try of each per pass, every entry deferred with the reason, local mail delivered."""
    spool = Spool(tmp_path / "mail" / "queue")
    spool.prepare()
    for _ in range(3):
        _queue_one(spool, b"x\r\n", "bob")
    for _ in range(2):
        _queue_one(spool, b"y\r\n", "carol@example.com", "dave")
    tries: list[str] = []

    async def send(home: Home, entry: QueueEntry, accounts: tuple[str, ...]) -> tuple[str, ...]:
        tries.append("PC2")
        raise DestinationDown("no channel to 10.0.0.2 port 7445: timed out")

    async def relay(entry: QueueEntry, outside: tuple[str, ...]) -> RelayResult:
        tries.append("smarthost")
        raise SmarthostError("smarthost isp:587: connection refused")

    runner = QueueRunner(
        spool,
        tmp_path / "mail",
        locate=lambda a: (
            Home(HomeKind.REMOTE, "id2", "PC2") if a == "bob" else Home(HomeKind.LOCAL)
        ),
        send=send,
        relay=relay,
        clock=lambda: T0,
    )
    await runner.deliver_due()
    assert sorted(tries) == ["PC2", "smarthost"]  # entries' order is their random ids'
    entries = spool.entries()
    assert len(entries) == 5 and all(e.attempts == 1 for e in entries)
    assert sum("home PC PC2: no channel" in e.last_error for e in entries) == 3
    assert sum("connection refused" in e.last_error for e in entries) == 2
    assert len(mailbox_of(tmp_path / "mail", "dave").messages()) == 2
    await runner.deliver_due(force=True)  # a new pass tries each again, once
    assert sorted(tries) == ["PC2", "PC2", "smarthost", "smarthost"]


async def _until(check: Callable[[], object], what: str) -> None:
    """Yield to the loop until ``check()`` is true; AssertionError naming ``what`` after 5 s."""
    try:
        async with asyncio.timeout(5):
            while not check():  # noqa: ASYNC110  (the state is on disk and in callbacks)
                await asyncio.sleep(0.005)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_a_local_message_is_delivered_while_a_big_hand_off_is_in_flight(
    tmp_path: Path,
) -> None:
    """The runner as the agent runs it: a hand-off to PC2 that does not finish (as a
    200 MB one takes its time) holds up neither a note for a mailbox on this PC nor
    mail for PC3; a second message for PC2 waits for PC2's turn; all finish once."""
    spool = Spool(tmp_path / "mail" / "queue")
    spool.prepare()
    homes = {
        "bob": Home(HomeKind.REMOTE, "id2", "PC2"),
        "carol": Home(HomeKind.REMOTE, "id3", "PC3"),
        "dave": Home(HomeKind.LOCAL),
    }
    release = asyncio.Event()
    active: dict[str, int] = {}
    most: dict[str, int] = {}
    sent: list[tuple[str, str]] = []

    async def send(home: Home, entry: QueueEntry, accounts: tuple[str, ...]) -> tuple[str, ...]:
        active[home.peer_id] = active.get(home.peer_id, 0) + 1
        most[home.peer_id] = max(most.get(home.peer_id, 0), active[home.peer_id])
        try:
            if home.peer_id == "id2":
                await release.wait()
            sent.append((home.peer_id, entry.id))
            return accounts
        finally:
            active[home.peer_id] -= 1

    runner = QueueRunner(
        spool, tmp_path / "mail", locate=homes.__getitem__, send=send, clock=lambda: T0
    )
    task = asyncio.create_task(runner.run())
    try:
        big = _queue_one(spool, b"big\r\n", "bob")
        runner.wake()
        await _until(lambda: active.get("id2") == 1, "the hand-off to begin")
        second = _queue_one(spool, b"also for bob\r\n", "bob")
        note = _queue_one(spool, b"note\r\n", "dave")
        other = _queue_one(spool, b"for PC3\r\n", "carol")
        runner.wake()
        box = mailbox_of(tmp_path / "mail", "dave")
        await _until(lambda: [m.uid for m in box.messages()] == [note.id], "the local note")
        await _until(lambda: runner.delivered == 2, "PC3's message")
        assert active["id2"] == 1 and sent == [("id3", other.id)]  # PC2's still in flight
        assert {e.id for e in spool.entries()} == {big.id, second.id}
        release.set()
        await _until(lambda: runner.delivered == 4, "PC2's two messages")
        assert sent[1:] == [("id2", big.id), ("id2", second.id)] and most["id2"] == 1
        assert spool.entries() == []
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_deliveries_at_once_are_bounded(tmp_path: Path) -> None:
    """Six messages for six PCs, two delivery slots: never more than two hand-offs at
    once, and every message delivered once."""
    spool = Spool(tmp_path / "mail" / "queue")
    spool.prepare()
    queued = [_queue_one(spool, b"x\r\n", f"user{i}") for i in range(6)]
    active = [0]
    most = [0]
    sent: list[str] = []

    async def send(home: Home, entry: QueueEntry, accounts: tuple[str, ...]) -> tuple[str, ...]:
        active[0] += 1
        most[0] = max(most[0], active[0])
        await asyncio.sleep(0.02)
        active[0] -= 1
        sent.append(entry.id)
        return accounts

    runner = QueueRunner(
        spool,
        tmp_path / "mail",
        locate=lambda a: Home(HomeKind.REMOTE, f"id-{a}", a.upper()),
        send=send,
        clock=lambda: T0,
        parallel=2,
    )
    assert await runner.deliver_due() is None
    assert most == [2] and sorted(sent) == sorted(e.id for e in queued)
    assert spool.entries() == [] and runner.delivered == 6
