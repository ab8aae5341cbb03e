"""Outstanding join codes of this member (``HOME/workgroup/invites.json``, 0600).

Each code is single-use, expires, and is burnt after :data:`MAX_CODE_TRIES`
PAKE exchanges (each exchange is one guess for whoever runs it).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peerwork.atomic import atomic_write_text
from peerwork.errors import InvalidInput
from peerwork.proto.join_code import JoinCode
from peerwork.workgroup import workgroup_dir

log = logging.getLogger(__name__)

INVITES_FILE = "invites.json"
# Wrong PAKE exchanges a code survives; the next one burns it.
MAX_CODE_TRIES = 5
DEFAULT_CODE_TTL = 15 * 60.0
MAX_CODE_TTL = 7 * 24 * 3600.0
# Outstanding invites one member keeps; the oldest goes first.
MAX_INVITES = 64


@dataclass(frozen=True, slots=True)
class Invite:
    code: JoinCode
    expires: float
    tries: int = 0


class InviteBook:
    """Outstanding join codes of this member, in ``invites.json`` (0600): they hold secrets.

    Read and written whole on every change (a handful of entries), so the CLI
    (``init --invite``, no agent yet) and the agent share one file.
    """

    def __init__(self, home: Path) -> None:
        self.path = workgroup_dir(home) / INVITES_FILE

    def add(self, code: JoinCode, *, ttl: float, now: float) -> Invite:
        if not 0 < ttl <= MAX_CODE_TTL:
            raise InvalidInput(f"a join code lives between 1 second and {MAX_CODE_TTL:.0f} seconds")
        invites = self._live(now)
        invite = Invite(code, now + ttl)
        invites[code.code_id] = invite
        while len(invites) > MAX_INVITES:
            invites.pop(next(iter(invites)))
        self._save(invites)
        return invite

    def get(self, code_id: str, now: float) -> Invite | None:
        return self._live(now).get(code_id)

    def count_try(self, code_id: str, now: float) -> Invite | None:
        """Count one PAKE exchange against ``code_id``: the invite as it was before,
        or None if there is no such live code. The exchange past the last allowed
        burns the code."""
        invites = self._live(now)
        invite = invites.get(code_id)
        if invite is None:
            return None
        if invite.tries + 1 >= MAX_CODE_TRIES:
            del invites[code_id]
            log.warning("join code %s burnt after %d exchanges", code_id, MAX_CODE_TRIES)
        else:
            invites[code_id] = Invite(invite.code, invite.expires, invite.tries + 1)
        self._save(invites)
        return invite

    def spend(self, code_id: str) -> None:
        invites = self._load()
        if invites.pop(code_id, None) is not None:
            self._save(invites)

    def _live(self, now: float) -> dict[str, Invite]:
        return {k: v for k, v in self._load().items() if v.expires > now}

    def _load(self) -> dict[str, Invite]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.error("%s is unreadable (%s); no join codes outstanding", self.path, exc)
            return {}
        out: dict[str, Invite] = {}
        for item in data.get("invites", []) if isinstance(data, dict) else []:
            try:
                code = JoinCode.parse(item["code"])
                out[code.code_id] = Invite(code, float(item["expires"]), int(item["tries"]))
            except (KeyError, TypeError, ValueError, InvalidInput):
                continue
        return out

    def _save(self, invites: dict[str, Invite]) -> None:
        rows: list[dict[str, Any]] = [
            {"code": i.code.text(), "expires": i.expires, "tries": i.tries}
            for i in invites.values()
        ]
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write_text(self.path, json.dumps({"version": 1, "invites": rows}) + "\n", 0o600)
