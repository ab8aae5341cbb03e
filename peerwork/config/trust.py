"""``[trust]``: workgroup membership (join codes); the workgroup key itself is not here."""

from __future__ import annotations

from dataclasses import dataclass

from .read import as_positive, setting
from .section import ConfigSection


@dataclass(frozen=True, slots=True)
class TrustSection:
    """Trust cannot be disabled: a PC holding a workgroup key always admits members only."""

    # Seconds a join code from 'peerwork invite' lives when no --ttl is given.
    code_ttl: float = setting(900.0, as_positive)


TRUST = ConfigSection(
    "trust",
    TrustSection,
    """\
[trust]                   # workgroup membership: join codes ('peerwork invite', 'peerwork join')
code_ttl = 900            # seconds a join code lives unless 'peerwork invite --ttl' says otherwise
""",
)
