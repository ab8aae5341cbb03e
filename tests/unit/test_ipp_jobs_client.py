"""The client's reading of Get-Jobs answers (peerwork/client/ipp_jobs.py): a real answer's
jobs, and hostile answers either read or refused with PrintError, never another error."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from peerwork.client.ipp import PrintError
from peerwork.client.ipp_jobs import RemoteJob, jobs_of
from peerwork.proto.ipp import Group, IppError, Message, attr
from peerwork.proto.ipp_constants import GroupTag, Tag


def _answer(*jobs: Group) -> Message:
    op = Group(GroupTag.OPERATION, (attr("attributes-charset", Tag.CHARSET, "utf-8"),))
    return Message((2, 0), 0, 1, (op, *jobs))


def test_jobs_of_a_get_jobs_answer() -> None:
    job = Group(
        GroupTag.JOB,
        (
            attr("job-id", Tag.INTEGER, 7),
            attr("job-name", Tag.NAME, "memo"),
            attr("job-state", Tag.ENUM, 3),
            attr("job-originating-user-name", Tag.NAME, "alice"),
            attr("job-state-message", Tag.TEXT, "waiting"),
        ),
    )
    reply = Message.parse(_answer(job).pack())
    assert jobs_of(reply) == [RemoteJob(7, "memo", 3, "alice", "waiting")]


def test_a_job_without_an_id_is_refused() -> None:
    bare = Group(GroupTag.JOB, (attr("job-name", Tag.NAME, "x"),))
    try:
        jobs_of(_answer(bare))
    except PrintError as exc:
        assert "job-id" in str(exc)
    else:
        raise AssertionError("a job without job-id was accepted")


@given(st.binary(max_size=512))
def test_hostile_answers_are_read_or_refused(data: bytes) -> None:
    try:
        reply = Message.parse(data)
    except IppError:
        return
    try:
        found = jobs_of(reply)
    except PrintError:
        return
    assert all(job.id > 0 for job in found)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["job-id", "job-name", "job-state", "job-originating-user-name"]),
            st.one_of(st.integers(-(2**31), 2**31 - 1), st.text(max_size=40)),
        ),
        max_size=6,
    )
)
def test_mistyped_attributes_are_read_or_refused(pairs: list[tuple[str, int | str]]) -> None:
    members = tuple(
        attr(name, Tag.INTEGER if isinstance(value, int) else Tag.NAME, value)
        for name, value in pairs
    )
    try:
        found = jobs_of(Message.parse(_answer(Group(GroupTag.JOB, members)).pack()))
    except PrintError:
        return
    (job,) = found
    assert job.id > 0 and isinstance(job.name, str) and isinstance(job.state, int)
