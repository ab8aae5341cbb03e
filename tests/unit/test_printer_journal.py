"""The spool journal: its record codec on hostile bytes (hypothesis), and recovery after
a crash that lost the files written beside it (agents/printers/commit.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from peerwork.agents.printers.commit import GroupCommit, Journal
from peerwork.agents.printers.jobs import Job, JobEvent, step
from peerwork.proto.spool_journal import pack_record, parse_records


def job(job_id: int) -> Job:
    j = Job(job_id, "office", "memo", "alice", "10.0.0.2", "application/pdf", created=1.0)
    return step(dataclasses.replace(j, size=9), JobEvent.DOCUMENT, 1.0)


jobs_st = st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=20), max_size=5)


@given(st.lists(st.tuples(jobs_st, st.binary(max_size=300)), max_size=5), st.data())
def test_records_round_trip_and_a_torn_tail_is_dropped(
    items: list[tuple[dict[str, object], bytes]], data: st.DataObject
) -> None:
    packed = [pack_record(j, d) for j, d in items]
    records, used = parse_records(b"".join(packed))
    assert [(r.job, r.document) for r in records] == items and used == sum(map(len, packed))
    cut = data.draw(st.integers(0, sum(map(len, packed))))
    records, used = parse_records(b"".join(packed)[:cut])
    # Exactly the records that fit whole before the cut.
    ends = [sum(map(len, packed[: i + 1])) for i in range(len(packed))]
    fit = [e for e in ends if e <= cut]
    assert len(records) == len(fit) and used == (fit[-1] if fit else 0)


@given(st.binary(max_size=2000))
def test_hostile_bytes_never_raise(data: bytes) -> None:
    records, used = parse_records(data)
    assert 0 <= used <= len(data)
    assert all(isinstance(r.job, dict) for r in records)


@given(st.binary(min_size=1, max_size=200), st.integers(0, 10_000))
def test_a_damaged_byte_stops_the_parse(noise: bytes, where: int) -> None:
    good = pack_record({"id": 1}, b"%PDF-1.4 x") + pack_record({"id": 2}, b"%PDF-1.4 y")
    at = where % len(good)
    bad = good[:at] + bytes([good[at] ^ (noise[0] or 1)]) + good[at + 1 :]
    records, _ = parse_records(bad)
    assert [r.job["id"] for r in records] in ([], [1])  # never a damaged record


async def test_recover_restores_lost_files_and_keeps_newer_ones(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.open()
    group = GroupCommit(journal, idle=60)
    await asyncio.gather(*(group.commit(job(i), b"%PDF-doc" + bytes([i])) for i in (1, 2, 3)))
    assert journal.size > 0 and (tmp_path / "3.doc").read_bytes() == b"%PDF-doc\x03"
    # The crash: job 1's files never reached the disk, job 2's document came out empty,
    # job 3 was printed and saved durably (completed, document dropped) meanwhile.
    (tmp_path / "1.doc").unlink()
    (tmp_path / "1.json").unlink()
    (tmp_path / "2.doc").write_bytes(b"")
    done = step(step(job(3), JobEvent.START, 2.0), JobEvent.FINISH, 3.0)
    (tmp_path / "3.json").write_text(json.dumps(done.to_json()))
    (tmp_path / "3.doc").unlink()
    with (tmp_path / "journal").open("ab") as f:
        f.write(pack_record({"id": 4}, b"torn")[:-2])  # never acknowledged
    journal.close()
    assert Journal(tmp_path).recover() == 2
    assert (tmp_path / "1.doc").read_bytes() == b"%PDF-doc\x01"
    assert Job.from_json(json.loads((tmp_path / "1.json").read_text())).has_document
    assert (tmp_path / "2.doc").read_bytes() == b"%PDF-doc\x02"
    assert json.loads((tmp_path / "3.json").read_text())["state"] == 9  # not regressed
    assert not (tmp_path / "3.doc").exists() and not (tmp_path / "4.json").exists()
    assert not (tmp_path / "journal").exists()


async def test_checkpoint_empties_the_journal(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.open()
    group = GroupCommit(journal, idle=0.05)
    await group.commit(job(1), b"%PDF-a")
    for _ in range(100):  # the idle checkpoint
        if not journal.dirty:
            break
        await asyncio.sleep(0.02)
    assert journal.size == 0 and (tmp_path / "journal").stat().st_size == 0
    await group.close()
