"""Shares and share-level permissions.

A share is a folder, a name, a comment and a set of grants: a default for
``everyone`` plus per-account entries, and ``anonymous``. An account's own
entry, when present, replaces the ``everyone`` default for that account (so
``everyone=change, bob=read`` makes Bob read-only); accounts without an entry
get the default. ``everyone`` means every account that logs on, as Windows'
Everyone has meant since XP SP2: a session without a logon (anonymous) gets
only the ``anonymous`` grant, ``none`` unless a share says otherwise, so an
account's own lower grant cannot be walked around by not logging on.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from peerwork.errors import InvalidInput

EVERYONE = "everyone"
ANONYMOUS = "anonymous"
# Grantee names that are not accounts (accounts.py refuses to create accounts so named).
SPECIAL_GRANTEES = frozenset({EVERYONE, ANONYMOUS})
MAX_SHARE_NAME = 80
# Characters Windows refuses in a share name, plus control characters.
_BAD_SHARE_CHARS = re.compile(r'[\x00-\x1f\\/:*?"<>|\[\]+=;,]')
# Names the SMB server provides itself.
RESERVED_SHARE_NAMES = frozenset({"ipc$", "admin$", "print$"})


class Access(enum.IntEnum):
    """Ordered: each level includes everything below it."""

    NONE = 0
    READ = 1
    CHANGE = 2
    FULL = 3

    @classmethod
    def parse(cls, text: str) -> Access:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise InvalidInput(
                f"unknown access {text!r}: use one of none, read, change, full"
            ) from None

    def __str__(self) -> str:
        return self.name.lower()

    def allows(self, op: Op) -> bool:
        return self >= _REQUIRED[op]


class Op(enum.Enum):
    """What a client asks to do inside a share; each needs a minimum Access."""

    READ = "read"  # open for reading, list a folder, query metadata
    WRITE = "write"  # change a file's data or size
    CREATE = "create"  # new file or folder
    DELETE = "delete"
    RENAME = "rename"
    SET_TIMES = "set-times"
    SET_ATTRIBUTES = "set-attributes"  # read-only / hidden / system flags
    SET_SECURITY = "set-security"  # permissions (ACLs)


_REQUIRED: Mapping[Op, Access] = MappingProxyType(
    {
        Op.READ: Access.READ,
        Op.WRITE: Access.CHANGE,
        Op.CREATE: Access.CHANGE,
        Op.DELETE: Access.CHANGE,
        Op.RENAME: Access.CHANGE,
        Op.SET_TIMES: Access.CHANGE,
        Op.SET_ATTRIBUTES: Access.FULL,
        Op.SET_SECURITY: Access.FULL,
    }
)


def validate_share_name(name: str) -> str:
    """Return ``name`` stripped, or raise InvalidInput saying what is wrong."""
    name = name.strip()
    if not name:
        raise InvalidInput("a share name cannot be empty")
    if len(name) > MAX_SHARE_NAME:
        raise InvalidInput(f"share name {name!r} is longer than {MAX_SHARE_NAME} characters")
    bad = _BAD_SHARE_CHARS.search(name)
    if bad:
        raise InvalidInput(
            f"share name {name!r} contains {bad.group()!r}, which SMB clients refuse"
        )
    if name.strip(".") == "":
        raise InvalidInput(f"share name {name!r} is not a name")
    if name.lower() in RESERVED_SHARE_NAMES:
        raise InvalidInput(f"share name {name!r} is reserved")
    return name


def validate_grantee(who: str) -> str:
    who = who.strip()
    if not who:
        raise InvalidInput("a grant needs an account name, 'everyone' or 'anonymous'")
    return who.lower()


# A level of access: Access for shares, PrintAccess for printers (0 is "none").
Level = TypeVar("Level", bound=enum.IntEnum)


def parse_grant(text: str) -> tuple[str, Access]:
    """Parse ``WHO=ACCESS`` as given to ``--grant``."""
    return parse_grant_of(text, Access.parse, "alice=change")


def parse_grant_of(text: str, parse: Callable[[str], Level], example: str) -> tuple[str, Level]:
    """Parse ``WHO=LEVEL`` with ``parse`` reading the level (shares' or printers')."""
    who, sep, access = text.partition("=")
    if not sep:
        raise InvalidInput(f"grant {text!r} must look like WHO=ACCESS, e.g. {example}")
    return validate_grantee(who), parse(access)


def grant_for(grants: Mapping[str, Level], account: str | None, none: Level) -> Level:
    """What ``account`` gets from ``grants`` (None: no logon, so only ``anonymous``).
    An account's own entry replaces ``everyone``; the special names never pick up
    the ``anonymous`` entry. The one rule for shares and printers alike."""
    everyone = grants.get(EVERYONE, none)
    if account is None:
        return grants.get(ANONYMOUS, none)
    key = account.lower()
    if key in SPECIAL_GRANTEES:
        return everyone
    return grants.get(key, everyone)


def merged_grants(
    grants: Mapping[str, Level], changes: Mapping[str, Level], revoke: Iterable[str] = ()
) -> dict[str, Level]:
    """``grants`` changed by ``changes``, entries named in ``revoke`` removed."""
    merged = dict(grants)
    merged.update({validate_grantee(k): v for k, v in changes.items()})
    for who in revoke:
        merged.pop(validate_grantee(who), None)
    return merged


@dataclass(frozen=True, slots=True)
class Share:
    name: str
    path: Path
    comment: str = ""
    grants: Mapping[str, Access] = field(default_factory=lambda: MappingProxyType({}))
    # SMB 3 encryption required on this share: clients that cannot encrypt are refused.
    encrypt: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", validate_share_name(self.name))
        clean = {validate_grantee(k): Access(v) for k, v in self.grants.items()}
        object.__setattr__(self, "grants", MappingProxyType(clean))

    @property
    def key(self) -> str:
        """Share names are case-insensitive."""
        return self.name.lower()

    @property
    def everyone(self) -> Access:
        """What an account without an entry of its own gets (logged on, never anonymous)."""
        return self.grants.get(EVERYONE, Access.NONE)

    @property
    def anonymous(self) -> Access:
        """What a session without a logon gets."""
        return self.grants.get(ANONYMOUS, Access.NONE)

    def access_for(self, account: str | None) -> Access:
        """The access of ``account``; None is an anonymous session (no logon)."""
        return grant_for(self.grants, account, Access.NONE)

    def anonymous_exceeds(self) -> list[tuple[str, Access]]:
        """The grantees (``everyone`` or an account) whose own grant is lower than what
        ``anonymous`` gets: each could get more by not logging on. Empty when
        ``anonymous`` is none or no higher than anyone's grant."""
        anon = self.anonymous
        if anon is Access.NONE:
            return []
        lower = [(EVERYONE, self.everyone)] + [
            (who, access)
            for who, access in sorted(self.grants.items())
            if who not in SPECIAL_GRANTEES
        ]
        return [(who, access) for who, access in lower if access < anon]

    def with_grants(self, changes: Mapping[str, Access], revoke: Iterable[str] = ()) -> Share:
        """Grants changed by ``changes``; entries named in ``revoke`` removed (an account
        falls back to ``everyone``; revoking ``everyone`` sets it back to none)."""
        return Share(
            self.name,
            self.path,
            self.comment,
            merged_grants(self.grants, changes, revoke),
            self.encrypt,
        )

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "path": str(self.path),
            "comment": self.comment,
            "grants": {k: str(v) for k, v in sorted(self.grants.items())},
            "encrypt": self.encrypt,
            # Shown even when the share has no entry for it: the answer to "can anyone
            # get in without a password?" should never need working out.
            "anonymous": str(self.anonymous),
            "warnings": self.grant_notes(),
        }

    def grant_notes(self) -> list[str]:
        """Warnings about the grants themselves (no registry or accounts needed)."""
        notes: list[str] = []
        if self.anonymous >= Access.CHANGE:
            notes.append(
                f"anyone on the LAN, without any password, may {self.anonymous} files here"
            )
        anon = self.anonymous
        for who, access in self.anonymous_exceeds():
            if who == EVERYONE:
                notes.append(
                    f"anonymous={anon} gives more than everyone={access}: accounts without a "
                    f"grant of their own get more by not logging on (grant everyone={anon} "
                    "too, or lower anonymous)"
                )
            else:
                notes.append(
                    f"anonymous={anon} gives more than {who}'s own grant ({who}={access}): "
                    f"{who} gets around it by logging on anonymously"
                )
        return notes

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Share:
        grants = data.get("grants") or {}
        if not isinstance(grants, Mapping):
            raise InvalidInput("grants must be a table of WHO = ACCESS")
        return cls(
            name=str(data.get("name", "")),
            path=Path(str(data.get("path", ""))),
            comment=str(data.get("comment", "")),
            grants={str(k): Access.parse(str(v)) for k, v in grants.items()},
            encrypt=_flag(data.get("encrypt", False), "encrypt"),
        )


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{name} must be true or false, not {value!r}")
    return value


def overlaps_home(folder: Path, home: Path) -> bool:
    """True if sharing ``folder`` would expose peerwork's own state folder ``home``
    (NT hashes, the peer key): it is that folder, inside it, or contains it."""
    folder, home = folder.resolve(), home.resolve()
    return folder == home or home in folder.parents or folder in home.parents


def _home_message(folder: Path, home: Path) -> str:
    return (
        f"{folder} overlaps peerwork's own state folder {home} (account hashes, the peer key); "
        "share a folder that neither contains it nor lies inside it"
    )


def folder_problem(share: Share, home: Path | None = None) -> str:
    """Why a share's folder cannot be served right now ("" when it can)."""
    if home is not None and overlaps_home(share.path, home):
        return _home_message(share.path, home)
    try:
        if not share.path.is_dir():
            return (
                f"{share.path} is not a folder any more"
                if share.path.exists()
                else (f"{share.path} no longer exists")
            )
    except OSError as exc:
        return f"{share.path}: {exc.strerror}"
    return root_problem(share.path, share.path.resolve(), home)


def root_problem(path: Path, real: Path, home: Path | None = None) -> str:
    """Why the folder configured as ``path``, found to be really ``real`` (e.g. what an
    opened descriptor names), must not be served ("" when it may). A share folder
    swapped for a symbolic link after it was shared would serve the link's target
    (``/etc``, the peerwork home): only the real path that was shared is served."""
    if home is not None and overlaps_home(real, home):
        return _home_message(real, home)
    # abspath, not resolve(): normalised without following links, which is the point.
    if real != Path(os.path.abspath(path)):  # noqa: PTH100
        if path.is_symlink():
            return (
                f"{path} is now a symbolic link (to {real}); put the folder back, "
                f"or share {real} itself if that is meant"
            )
        return (
            f"{path} now leads through a symbolic link to {real}; write the real path "
            "in peerwork.toml, or put the folder back"
        )
    return ""


def check_share_folder(path: Path, home: Path | None = None) -> Path:
    """Resolve a folder to share; raise InvalidInput unless it is an existing directory
    that does not overlap the peerwork home ``home``."""
    p = Path(path).expanduser()
    if not p.exists():
        raise InvalidInput(f"{p} does not exist")
    if not p.is_dir():
        raise InvalidInput(f"{p} is not a folder")
    if home is not None and overlaps_home(p, home):
        raise InvalidInput(_home_message(p.resolve(), home.resolve()))
    return p.resolve()


def new_share(
    path: Path,
    *,
    name: str | None,
    comment: str,
    grants: Mapping[str, Access],
    owner: str,
    home: Path,
    encrypt: bool = False,
) -> Share:
    """A share of the folder ``path`` as ``peerwork share`` makes it: named after the
    folder unless named, the owner given full access unless said otherwise, and the
    folder checked (it exists, is a folder, and does not overlap the peerwork home)."""
    folder = check_share_folder(path, home)
    return Share(
        name=name or folder.name or "root",
        path=folder,
        comment=comment,
        grants=initial_grants(owner, grants),
        encrypt=encrypt,
    )


def initial_grants(owner: str, given: Mapping[str, Access]) -> dict[str, Access]:
    """Grants of a new share: what was asked, plus ``owner: full`` unless the owner was named.

    ``everyone`` and ``anonymous`` stay ``none`` unless asked: access without a
    password is never a default.
    """
    grants = {validate_grantee(k): v for k, v in given.items()}
    if owner and validate_grantee(owner) not in grants:
        grants[validate_grantee(owner)] = Access.FULL
    grants.setdefault(EVERYONE, Access.NONE)
    return grants
