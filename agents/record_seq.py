"""The sequence number of this PC's signed record: it only ever grows, across restarts too.

Receivers reject a record older than the last one they saw from us, so a
replayed old record cannot bring back old addresses or ports. The number is
milliseconds since the epoch or one more than the last one used, whichever is
larger, and the last one is kept in the home, so neither a restart nor a
clock set back makes it go down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from peerwork.atomic import atomic_write_text

log = logging.getLogger(__name__)

SEQ_FILE = "seq"


class SequenceCounter:
    def __init__(self, folder: Path | None, clock: Callable[[], float]) -> None:
        self._path = folder / SEQ_FILE if folder is not None else None
        self._clock = clock
        self._last = self._load()

    def next(self) -> int:
        self._last = max(self._last + 1, int(self._clock() * 1000))
        if self._path is not None:
            try:
                atomic_write_text(self._path, f"{self._last}\n")
            except OSError as exc:
                log.error("cannot save the record sequence number to %s: %s", self._path, exc)
        return self._last

    def _load(self) -> int:
        if self._path is None:
            return 0
        try:
            text = self._path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as exc:
            log.error("%s is unreadable (%s); counting from the clock", self._path, exc)
            return 0
        return int(text) if text.isdigit() and len(text) < 19 else 0
