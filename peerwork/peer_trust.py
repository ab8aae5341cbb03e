"""Which received peer records a client may act on: key pinning, sequence numbers, addresses.

Trust on first use, as SSH does: the first verified record seen under a name
pins that name to the peer id (the hash of the key) that signed it. Later:

- a record under a pinned name that the pinned key did not sign is an
  *impostor* (a fresh key claiming the name, or a forgery): shown as such,
  never used, and it never replaces the real peer's entry;
- a verified record with a lower sequence number than the last one seen from
  that peer id is a replay of an old record: rejected;
- a verified record is used only at the addresses it signs that the network
  also resolved; an address record pointing elsewhere (the same record
  replayed by another PC) is not the peer's: rejected if nothing is left.

:class:`PeerPins` keeps the pins and last sequence numbers in one JSON file,
written atomically, so a restart does not forget who FRONTDESK is. A new pin
is written at once; a newer sequence number only marks the file due
(:meth:`PeerPins.flush` writes it), so receiving a record never waits for a disk.
"""

from __future__ import annotations

import base64
import enum
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peerwork.atomic import atomic_write_text
from peerwork.proto.peer_record import PeerAnnouncement

log = logging.getLogger(__name__)

PINS_FILE = "pins.json"
# A LAN has 1-25 PCs; the bound keeps a flood of made-up names from growing the file.
MAX_PINS = 4096


class Trust(enum.Enum):
    VERIFIED = "verified"
    UNVERIFIED = "unverified"
    IMPOSTOR = "impostor"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with one received record.

    ``accept``: it may replace the peer's table entry (shown with ``trust``).
    Otherwise ``trust`` is IMPOSTOR (list it apart, warn) or VERIFIED for a
    stale or misaddressed copy of a genuine record (drop it, keep the entry).
    ``addresses``: those a client may use (for an unverified record, merely
    the resolved ones, shown as untrusted).
    """

    accept: bool
    trust: Trust
    problem: str
    addresses: tuple[str, ...] = ()


class PeerPins:
    """Name → peer id pins and each peer id's key and last sequence number."""

    def __init__(self, folder: Path | None) -> None:
        self._path = folder / PINS_FILE if folder is not None else None
        self._names: dict[str, str] = {}
        self._ids: dict[str, dict[str, Any]] = {}
        self._dirty = False
        if self._path is not None:
            self._load(self._path)

    def owner(self, name: str) -> str | None:
        """The peer id ``name`` is pinned to, if any."""
        return self._names.get(name.lower())

    def last_seq(self, peer_id: str) -> int | None:
        entry = self._ids.get(peer_id)
        seq = entry.get("seq") if entry else None
        return seq if isinstance(seq, int) else None

    def remember(self, name: str, ann: PeerAnnouncement) -> None:
        """Pin ``name`` (if new) and note ``ann``'s key and sequence number."""
        changed = False
        key = name.lower()
        if key not in self._names and len(self._names) < MAX_PINS:
            self._names[key] = ann.peer_id
            changed = True
        entry = self._ids.get(ann.peer_id)
        if entry is None and len(self._ids) < MAX_PINS:
            entry = self._ids[ann.peer_id] = {
                "pk": base64.b64encode(ann.public_key).decode("ascii"),
                "seq": ann.seq,
            }
            changed = True
        elif entry is not None and ann.seq > int(entry.get("seq", 0)):
            entry["seq"] = ann.seq
            self._dirty = True
        if changed:
            self._save()

    def flush(self) -> None:
        """Write sequence numbers noted since the last write."""
        if self._dirty:
            self._save()

    def forget(self, name: str) -> bool:
        """Drop the pin of ``name`` (a PC that really got a new key); True if there was one."""
        if self._names.pop(name.lower(), None) is None:
            return False
        self._save()
        return True

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.error("%s is unreadable (%s); starting with no pinned peers", path, exc)
            return
        names = data.get("names") if isinstance(data, dict) else None
        ids = data.get("ids") if isinstance(data, dict) else None
        if isinstance(names, dict):
            self._names = {
                k: v for k, v in names.items() if isinstance(k, str) and isinstance(v, str)
            }
        if isinstance(ids, dict):
            self._ids = {
                k: {"pk": v.get("pk", ""), "seq": v["seq"]}
                for k, v in ids.items()
                if isinstance(k, str) and isinstance(v, dict) and isinstance(v.get("seq"), int)
            }

    def _save(self) -> None:
        self._dirty = False
        if self._path is None:
            return
        text = json.dumps({"version": 1, "names": self._names, "ids": self._ids}, indent=1)
        try:
            atomic_write_text(self._path, text + "\n")
        except OSError as exc:
            log.error("cannot save pinned peers to %s: %s", self._path, exc)


def judge(
    ann: PeerAnnouncement,
    problem: str,
    resolved: Sequence[str],
    pins: PeerPins,
) -> Verdict:
    """Decide about one received record (``problem``: why it does not verify, or empty).

    Pins and sequence numbers are updated only for an accepted verified record.
    """
    owner = pins.owner(ann.instance)
    if problem:
        if owner is not None:
            why = f"the name {ann.instance} belongs to peer {owner}; this record: {problem}"
            return Verdict(False, Trust.IMPOSTOR, why)
        return Verdict(True, Trust.UNVERIFIED, problem, tuple(resolved))
    if owner is not None and owner != ann.peer_id:
        why = (
            f"the name {ann.instance} belongs to peer {owner}; "
            f"this record is signed by another key ({ann.peer_id})"
        )
        return Verdict(False, Trust.IMPOSTOR, why)
    last = pins.last_seq(ann.peer_id)
    if last is not None and ann.seq < last:
        why = f"sequence number {ann.seq} is older than {last} already seen: a replayed record"
        return Verdict(False, Trust.VERIFIED, why)
    signed = set(ann.addresses)
    usable = tuple(a for a in resolved if a in signed)
    if not usable:
        why = (
            "none of the resolved addresses is one the record signs "
            "(a copy of the record announced from another address)"
        )
        return Verdict(False, Trust.VERIFIED, why)
    pins.remember(ann.instance, ann)
    return Verdict(True, Trust.VERIFIED, "", usable)
