"""Print jobs and their states: one table, one pure function ``step(job, event, now)``.

Rules (RFC 8011 §5.3.7): a job is pending until its document is in the
spool, processing while a backend takes it, then completed, aborted or
canceled, and never leaves those three. A backend that is down sends the job
back to pending with a reason people can read. ``now`` is passed in, never
read here; an illegal event raises :class:`JobStateError` and changes nothing.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any

from peerwork.errors import PeerworkError
from peerwork.proto.ipp_constants import JobState

TERMINAL = frozenset({JobState.COMPLETED, JobState.ABORTED, JobState.CANCELED})


class JobStateError(PeerworkError):
    """The event does not apply to the job's state (cancelling a completed job, say)."""

    code = "job-state"
    http_status = 409


class JobEvent(enum.Enum):
    DOCUMENT = "document"  # the (last) document is spooled
    START = "start"  # a backend takes the job
    FINISH = "finish"  # the backend has it all
    DEFER = "defer"  # the backend is down: try again later
    FAIL = "fail"  # the backend refused it for good
    CANCEL = "cancel"
    RESTART = "restart"  # the agent restarted while the job was processing
    TIMEOUT = "timeout"  # no document came after Create-Job


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    printer: str
    name: str
    user: str
    client: str  # the address it came from: jobs per client are bounded
    format: str
    created: float
    state: JobState = JobState.PENDING
    reasons: tuple[str, ...] = ("job-incoming",)
    message: str = ""
    has_document: bool = False
    size: int = 0
    copies: int = 1
    # ``user`` is a logged-on account (IPPS + Basic), not just a requesting-user-name:
    # only that account (or a manager) may then cancel it.
    authenticated: bool = False
    processing: float | None = None
    completed: float | None = None

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["state"] = int(self.state)
        data["reasons"] = list(self.reasons)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        values["state"] = JobState(values["state"])
        values["reasons"] = tuple(values.get("reasons", ()))
        return cls(**values)


_P, _PR = JobState.PENDING, JobState.PROCESSING
# event -> (states it applies to, new state, reasons)
_TABLE: dict[JobEvent, tuple[frozenset[JobState], JobState, tuple[str, ...]]] = {
    JobEvent.DOCUMENT: (frozenset({_P}), _P, ("none",)),
    JobEvent.START: (frozenset({_P}), _PR, ("job-printing",)),
    JobEvent.FINISH: (frozenset({_PR}), JobState.COMPLETED, ("job-completed-successfully",)),
    JobEvent.DEFER: (frozenset({_PR}), _P, ("printer-stopped",)),
    JobEvent.FAIL: (frozenset({_PR}), JobState.ABORTED, ("aborted-by-system",)),
    JobEvent.CANCEL: (
        frozenset({_P, JobState.PENDING_HELD, _PR}),
        JobState.CANCELED,
        ("job-canceled-by-user",),
    ),
    JobEvent.RESTART: (frozenset({_PR}), _P, ("none",)),
    JobEvent.TIMEOUT: (frozenset({_P}), JobState.ABORTED, ("aborted-by-system",)),
}


def step(job: Job, event: JobEvent, now: float, message: str = "") -> Job:
    """The job after ``event`` at ``now``; ``message`` says why (shown as job-state-message)."""
    states, new_state, reasons = _TABLE[event]
    if job.state not in states:
        raise JobStateError(f"job {job.id} is {job.state.name.lower()}: cannot {event.value}")
    if event is JobEvent.START and not job.has_document:
        raise JobStateError(f"job {job.id} has no document yet")
    if event is JobEvent.DOCUMENT and job.has_document:
        raise JobStateError(f"job {job.id} already has its document")
    if event is JobEvent.TIMEOUT and job.has_document:
        raise JobStateError(f"job {job.id} has its document")
    changes: dict[str, Any] = {"state": new_state, "reasons": reasons, "message": message}
    if event is JobEvent.DOCUMENT:
        changes["has_document"] = True
    if event is JobEvent.START:
        changes["processing"] = now
    if new_state in TERMINAL:
        changes["completed"] = now
    return dataclasses.replace(job, **changes)
