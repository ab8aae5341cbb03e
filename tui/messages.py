"""Messages between the agent watcher, the app and its screens (the UI does no I/O itself)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from peerwork.models import AgentEvent

from .view import Snapshot


@dataclass
class AgentUp(Message):
    """The agent answered: everything the screens show, read afresh."""

    snapshot: Snapshot


@dataclass
class AgentDown(Message):
    """The agent is not running (or stopped answering); the watcher retries."""

    reason: str


@dataclass
class AgentEventArrived(Message):
    """One event of the agent's stream, already applied to the app's view."""

    event: AgentEvent


@dataclass
class Refreshed(Message):
    """Part of the view was read again (``what``: status, peers, shares, accounts)."""

    what: str
    snapshot: Snapshot


@dataclass
class ViewChanged(Message):
    """Sent to every screen: the app's view changed; ``what`` names the part."""

    what: str
