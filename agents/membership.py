"""The agent's one view of its workgroup membership, shared by discovery and trust.

The agent makes one :class:`MembershipView` and hands it to every service in
its context. The trust service changes it (a join installs a workgroup key);
discovery asks it what each received record is to our workgroup and is told
when the answer may have changed, so its peer table and the events follow.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from peerwork.workgroup import Standing, Workgroup

log = logging.getLogger("peerwork.trust")

Listener = Callable[[], None]


class MembershipView:
    def __init__(self, workgroup: Workgroup | None) -> None:
        self.workgroup = workgroup
        self._listeners: list[Listener] = []

    @classmethod
    def load(cls, home: Path) -> MembershipView:
        return cls(Workgroup.load(home))

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def install(self, workgroup: Workgroup) -> None:
        """This PC has joined (or its membership changed): everyone re-judges."""
        self.workgroup = workgroup
        self.changed()

    def changed(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                log.exception("trust: a membership listener failed")

    def judge(self, *, peer_id: str, name: str, workgroup: str, cert_text: str) -> Standing | None:
        """What a verified record claiming ``workgroup`` is to us; None when this PC
        holds no workgroup key or the record names another workgroup (a neighbour)."""
        wg = self.workgroup
        if wg is None or workgroup.upper() != wg.name.upper():
            return None
        return wg.standing(peer_id=peer_id, name=name, workgroup=workgroup, cert_text=cert_text)
