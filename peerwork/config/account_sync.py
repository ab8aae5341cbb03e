"""``[account_sync]``: replication of accounts to the other members over the channel."""

from __future__ import annotations

from dataclasses import dataclass

from .read import as_positive, setting
from .section import ConfigSection


@dataclass(frozen=True, slots=True)
class AccountSyncSection:
    """A change is pushed to every member at once; ``interval`` is how often each
    member is asked what it has (anti-entropy), so one that was off catches up."""

    enabled: bool = True
    interval: float = setting(30.0, as_positive)
    # Seconds one peer gets to answer a push or a sync before it counts as unreachable.
    timeout: float = setting(5.0, as_positive)


ACCOUNT_SYNC = ConfigSection(
    "account_sync",
    AccountSyncSection,
    """\
[account_sync]            # one account everywhere: changes replicate to every member
enabled = true
interval = 30             # seconds between catch-up rounds with each member
timeout = 5               # seconds a member gets to answer before it counts as unreachable
""",
)
