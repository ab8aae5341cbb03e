"""Get-Jobs and Cancel-Job on an IPP printer (``peerwork jobs|cancel --printer PC/NAME``),
through :func:`peerwork.client.ipp.exchange`: the same pinning, logon and errors as
printing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from peerwork.client.ipp import Logon, PrintError, exchange, operation_attributes
from peerwork.proto.ipp import Attribute, Group, Message, attr
from peerwork.proto.ipp_constants import GroupTag, Op, Tag

_ASKED = (
    "job-id",
    "job-name",
    "job-state",
    "job-state-message",
    "job-originating-user-name",
)


@dataclass(frozen=True, slots=True)
class RemoteJob:
    """One job as the printer's Get-Jobs answer describes it."""

    id: int
    name: str
    state: int
    user: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "user": self.user,
            "message": self.message,
        }


def _request(op: Op, uri: str, user: str, *extra: Attribute) -> bytes:
    group = Group(GroupTag.OPERATION, operation_attributes(uri, user, *extra))
    return Message((2, 0), op, 1, (group,)).pack()


def _text(group: Group, name: str) -> str:
    found = group.get(name)
    return found.value if found is not None and isinstance(found.value, str) else ""


def _number(group: Group, name: str) -> int:
    found = group.get(name)
    value = found.value if found is not None else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def get_jobs(
    uri: str, *, user: str, logon: Logon | None = None, peer_id: str = "", timeout: float = 30
) -> list[RemoteJob]:
    """Every job the printer at ``uri`` keeps (pending, printing and its history)."""
    head = _request(
        Op.GET_JOBS,
        uri,
        logon.user if logon else user,
        attr("which-jobs", Tag.KEYWORD, "all"),
        attr("requested-attributes", Tag.KEYWORD, *_ASKED),
    )
    return jobs_of(exchange(uri, head, logon=logon, peer_id=peer_id, timeout=timeout))


def jobs_of(reply: Message) -> list[RemoteJob]:
    """The jobs of a Get-Jobs answer; PrintError for a job group without a job-id."""
    jobs = []
    for group in reply.groups_of(GroupTag.JOB):
        job_id = _number(group, "job-id")
        if job_id <= 0:
            raise PrintError("the printer listed a job without a job-id")
        jobs.append(
            RemoteJob(
                job_id,
                _text(group, "job-name"),
                _number(group, "job-state"),
                _text(group, "job-originating-user-name"),
                _text(group, "job-state-message"),
            )
        )
    return jobs


def cancel_job(
    uri: str,
    job_id: int,
    *,
    user: str,
    logon: Logon | None = None,
    peer_id: str = "",
    timeout: float = 30,
) -> None:
    """Cancel job ``job_id`` of the printer at ``uri``; PrintError when it refuses."""
    head = _request(
        Op.CANCEL_JOB, uri, logon.user if logon else user, attr("job-id", Tag.INTEGER, job_id)
    )
    exchange(uri, head, logon=logon, peer_id=peer_id, timeout=timeout)
