"""The spool (agents/printers/spool.py) and the job book over it (queue.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from peerwork.agents.printers.jobs import Job, JobEvent
from peerwork.agents.printers.queue import JobBook
from peerwork.agents.printers.spool import DocumentTooLarge, Spool
from peerwork.config.printers import PrinterConfig, PrintersSection
from peerwork.proto.ipp_constants import JobState


def settings(out: Path, **kw: object) -> PrintersSection:
    printer = PrinterConfig("office", f"file:{out}")
    return PrintersSection(printer=(printer,), **kw)  # type: ignore[arg-type]


def job(job_id: int, created: float = 1.0) -> Job:
    return Job(job_id, "office", "minutes", "alice", "10.0.0.2", "application/pdf", created=created)


def test_upload_over_the_limit_leaves_nothing(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.load()
    upload = spool.upload(1, limit=10)
    upload.write(b"%PDF-")
    with pytest.raises(DocumentTooLarge):
        upload.write(b"0123456789")
    assert list(tmp_path.iterdir()) == []


def test_load_drops_half_uploads_and_orphans_and_sets_bad_files_aside(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.load()
    spool.save(job(1))
    (tmp_path / "2.part").write_bytes(b"%PDF half")
    (tmp_path / "4.doc").write_bytes(b"%PDF whose job file never landed")
    (tmp_path / "3.json").write_text("{not json")
    assert [j.id for j in spool.load()] == [1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1.json", "3.bad"]


async def test_book_restart_delivery_and_history(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    clock = [100.0]
    book = JobBook(Spool(tmp_path / "spool"), settings(out, history=2), lambda: clock[0])
    book.load()
    for _ in range(4):
        j = job(book.new_id())
        await book.add(j)
        upload = book.spool.upload(j.id, 1000)
        upload.write(b"%PDF-1.4 x")
        await upload.finish()
        await book.document_spooled(j.id, 10, "application/pdf")
    # A job that was printing when the agent died comes back pending (that state is
    # saved here only to stand for a crash mid-print; the worker does not save it).
    await book.apply(1, JobEvent.START)
    again = JobBook(
        Spool(tmp_path / "spool"), settings(out, history=2), lambda: clock[0], prune_step=1
    )
    again.load()
    assert again.jobs[1].state is JobState.PENDING and again.next_id == 5
    runner = asyncio.create_task(again.run())
    try:
        for _ in range(200):
            if all(j.finished for j in again.jobs.values()):
                break
            await asyncio.sleep(0.02)
    finally:
        runner.cancel()
    assert sorted(p.name for p in out.iterdir()) == [f"00000{i}-minutes.pdf" for i in range(1, 5)]
    # history = 2: only the two newest finished jobs are kept, documents gone.
    assert sorted(again.jobs) == [3, 4]
    assert sorted(p.name for p in (tmp_path / "spool").iterdir()) == ["3.json", "4.json", "journal"]
    await again.close()
    assert (tmp_path / "spool" / "journal").stat().st_size == 0


async def test_incoming_jobs_expire(tmp_path: Path) -> None:
    clock = [100.0]
    book = JobBook(Spool(tmp_path), settings(tmp_path, incoming_timeout=60.0), lambda: clock[0])
    book.load()
    await book.add(job(book.new_id(), created=100.0))
    await book.expire_incoming()
    assert book.jobs[1].state is JobState.PENDING
    clock[0] = 161.0
    await book.expire_incoming()
    assert book.jobs[1].state is JobState.ABORTED
    assert book.per_client() == {}
