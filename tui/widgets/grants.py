"""The grants editor: one access choice for ``everyone``, ``anonymous`` and each account."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Select

from peerwork.shares import ANONYMOUS, EVERYONE, Access
from peerwork.text import printable

LEVELS = [str(a) for a in Access]
# An account with no entry of its own gets what everyone gets.
INHERIT = "as everyone"


def _options(values: Iterable[str]) -> list[tuple[str, str]]:
    return [(v, v) for v in values]


class GrantsEditor(Vertical):
    """``changes()`` gives the entries to set and the account entries to revoke."""

    DEFAULT_CSS = """
    GrantsEditor { height: auto; }
    GrantsEditor Horizontal { height: auto; }
    GrantsEditor Label { width: 18; padding: 0 1 0 0; }
    GrantsEditor Select { width: 1fr; }
    """

    def __init__(
        self, accounts: Iterable[str], current: Mapping[str, str], *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.accounts = [a for a in accounts if a not in (EVERYONE, ANONYMOUS)]
        self.current = dict(current)

    def compose(self) -> ComposeResult:
        rows = [(EVERYONE, "every account"), (ANONYMOUS, "no logon")]
        rows += [(a, "") for a in self.accounts]
        for who, _about in rows:
            special = who in (EVERYONE, ANONYMOUS)
            choices = LEVELS if special else [INHERIT, *LEVELS]
            value = self.current.get(who, "none" if special else INHERIT)
            with Horizontal():
                yield Label(printable(who, limit=16))
                yield Select(
                    _options(choices),
                    value=value,
                    allow_blank=False,
                    id=f"grant-{_id(who)}",
                    compact=True,
                )

    def chosen(self) -> dict[str, str]:
        out = {}
        for who in (EVERYONE, ANONYMOUS, *self.accounts):
            value = self.query_one(f"#grant-{_id(who)}", Select).value
            out[who] = str(value)
        return out

    def initial(self, owner: str) -> dict[str, str]:
        """The grants of a new share. The agent gives ``owner`` full access unless the
        owner is named, so an owner left "as everyone" is named with everyone's access."""
        chosen = self.chosen()
        grants = {who: v for who, v in chosen.items() if v != INHERIT}
        if owner and chosen.get(owner) == INHERIT:
            grants[owner] = chosen[EVERYONE]
        return grants

    def changes(self) -> tuple[dict[str, str], list[str]]:
        grants: dict[str, str] = {}
        revoke: list[str] = []
        for who, value in self.chosen().items():
            if value == INHERIT:
                if who in self.current:
                    revoke.append(who)
            elif value != self.current.get(who) or who not in self.current:
                grants[who] = value
        return grants, revoke

    def set(self, who: str, access: str) -> None:
        self.query_one(f"#grant-{_id(who)}", Select).value = access


def _id(who: str) -> str:
    # Account names are letters, digits and a few marks; ids must be identifiers.
    return "".join(c if c.isalnum() else f"_{ord(c):x}_" for c in who)
