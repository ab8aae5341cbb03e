"""The job state machine (agents/printers/jobs.py): a pure function of (job, event, now)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerwork.agents.printers.jobs import TERMINAL, Job, JobEvent, JobStateError, step
from peerwork.proto.ipp_constants import JobState


def new_job() -> Job:
    return Job(1, "office", "report", "alice", "10.0.0.2", "application/pdf", created=100.0)


def test_a_job_prints() -> None:
    job = step(new_job(), JobEvent.DOCUMENT, 101.0)
    assert (job.state, job.reasons, job.has_document) == (JobState.PENDING, ("none",), True)
    job = step(job, JobEvent.START, 102.0)
    assert (job.state, job.processing) == (JobState.PROCESSING, 102.0)
    job = step(job, JobEvent.FINISH, 103.0)
    assert (job.state, job.reasons, job.completed) == (
        JobState.COMPLETED,
        ("job-completed-successfully",),
        103.0,
    )


def test_a_down_backend_sends_the_job_back_with_its_reason() -> None:
    job = step(step(new_job(), JobEvent.DOCUMENT, 1), JobEvent.START, 2)
    job = step(job, JobEvent.DEFER, 3, "folder /x does not exist")
    assert (job.state, job.reasons, job.message) == (
        JobState.PENDING,
        ("printer-stopped",),
        "folder /x does not exist",
    )
    assert step(job, JobEvent.START, 4).state is JobState.PROCESSING


def test_no_start_without_a_document_and_no_second_document() -> None:
    with pytest.raises(JobStateError):
        step(new_job(), JobEvent.START, 1)
    with pytest.raises(JobStateError):
        step(step(new_job(), JobEvent.DOCUMENT, 1), JobEvent.DOCUMENT, 2)


def test_restart_and_timeout() -> None:
    printing = step(step(new_job(), JobEvent.DOCUMENT, 1), JobEvent.START, 2)
    assert step(printing, JobEvent.RESTART, 3).state is JobState.PENDING
    assert step(new_job(), JobEvent.TIMEOUT, 200).state is JobState.ABORTED


def test_json_round_trip() -> None:
    job = step(step(new_job(), JobEvent.DOCUMENT, 1), JobEvent.CANCEL, 2, "by alice")
    assert Job.from_json(job.to_json()) == job


@given(st.lists(st.sampled_from(list(JobEvent)), max_size=12))
def test_finished_jobs_stay_finished_and_illegal_events_change_nothing(
    events: list[JobEvent],
) -> None:
    job = new_job()
    for now, event in enumerate(events):
        before = job
        try:
            job = step(job, event, float(now))
        except JobStateError:
            assert job is before
            continue
        if before.state in TERMINAL:
            raise AssertionError(f"{event} moved a finished job")
        if job.state in TERMINAL:
            assert job.completed == float(now)
