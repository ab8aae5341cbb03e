"""Who may use a shared printer: ``none``, ``print`` or ``manage``.

The grants work as a share's do (:func:`peerwork.shares.grant_for`): a default
for ``everyone`` (every account that logs on), per-account entries that
replace it, and ``anonymous`` for requests without a logon. ``manage`` adds
cancelling other people's jobs and pausing or resuming the printer.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping

from peerwork.errors import InvalidInput
from peerwork.shares import ANONYMOUS, EVERYONE, grant_for, merged_grants, parse_grant_of

Grants = tuple[tuple[str, "PrintAccess"], ...]


class PrintAccess(enum.IntEnum):
    """Ordered: each level includes everything below it."""

    NONE = 0
    PRINT = 1
    MANAGE = 2

    @classmethod
    def parse(cls, text: str) -> PrintAccess:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise InvalidInput(
                f"unknown printer access {text!r}: use one of none, print, manage"
            ) from None

    def __str__(self) -> str:
        return self.name.lower()


# A printer nobody set grants on: printing from any print dialog on the LAN, with
# or without a logon, as an office printer shared by CUPS allows; managing it is
# for accounts granted ``manage``.
DEFAULT_GRANTS: Grants = ((ANONYMOUS, PrintAccess.PRINT), (EVERYONE, PrintAccess.PRINT))


def parse_print_grant(text: str) -> tuple[str, PrintAccess]:
    """``WHO=LEVEL`` as given to ``--grant``."""
    return parse_grant_of(text, PrintAccess.parse, "alice=manage")


def grants_of(entries: Mapping[str, PrintAccess]) -> Grants:
    """The canonical (sorted, lower-case) form a printer's config keeps."""
    return tuple(sorted(merged_grants({}, entries).items()))


def access_for(grants: Grants, account: str | None) -> PrintAccess:
    """What ``account`` may do (None: a request without a logon)."""
    return grant_for(dict(grants), account, PrintAccess.NONE)


def changed_grants(
    grants: Grants, changes: Mapping[str, PrintAccess], revoke: Iterable[str] = ()
) -> Grants:
    return tuple(sorted(merged_grants(dict(grants), changes, revoke).items()))


def grants_json(grants: Grants) -> dict[str, str]:
    return {who: str(level) for who, level in grants}
