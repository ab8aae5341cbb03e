"""``leases.json``: the DHCP lease table on disk, written atomically, coalesced.

Offers are not stored (they live a minute); bound, released and declined
leases are. A save that is asked for while another runs is folded into the
next write, so a burst of ACKs costs a few fsyncs, and :meth:`LeaseStore.save`
returns only once the table it was given (or a newer one) is on disk.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from peerwork.atomic import atomic_write_text
from peerwork.errors import InvalidInput

from .dhcp_leases import Lease, LeaseState, LeaseTable

log = logging.getLogger("peerwork.gateway.dhcp")


class LeaseStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()
        self._asked = 0
        self._written = 0
        self._latest = LeaseTable()

    def load(self) -> LeaseTable:
        """The stored table; a damaged file is moved aside (``.bad``) and reads as empty."""
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return LeaseTable()
        try:
            entries = json.loads(text)["leases"]
            leases = [Lease.from_json(x) for x in entries]
        except (ValueError, KeyError, TypeError, InvalidInput) as exc:
            aside = self.path.with_suffix(".json.bad")
            self.path.replace(aside)
            log.warning("%s is damaged (%s): moved to %s, starting empty", self.path, exc, aside)
            return LeaseTable()
        return LeaseTable({x.address: x for x in leases})

    async def save(self, table: LeaseTable) -> None:
        self._asked += 1
        self._latest = table
        target = self._asked
        async with self._lock:
            if self._written >= target:
                return  # a write that started after our change already covered it
            generation, snapshot = self._asked, self._latest
            await asyncio.to_thread(self._write, snapshot)
            self._written = generation

    def _write(self, table: LeaseTable) -> None:
        kept = [x.to_json() for x in table.leases.values() if x.state is not LeaseState.OFFERED]
        kept.sort(key=lambda x: tuple(int(p) for p in x["address"].split(".")))
        atomic_write_text(self.path, json.dumps({"leases": kept}, indent=1) + "\n", 0o640)
