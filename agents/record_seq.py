"""The sequence number of this PC's signed record: it only ever grows, across restarts too.

Receivers reject a record older than the last one they saw from us, so a
replayed old record cannot bring back old addresses or ports. The number is
milliseconds since the epoch or one more than the last one used, whichever is
larger. The home keeps a mark above every number handed out, moved ahead a
block at a time (so announcing rarely waits for a disk write): a restart
continues above it, and neither a restart nor a clock set back makes it go down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from peerwork.atomic import atomic_write_text

log = logging.getLogger(__name__)

SEQ_FILE = "seq"
# How far ahead the saved mark goes: ten minutes of milliseconds.
BLOCK = 600_000


class SequenceCounter:
    def __init__(self, folder: Path | None, clock: Callable[[], float]) -> None:
        self._path = folder / SEQ_FILE if folder is not None else None
        self._clock = clock
        self._last = self._mark = self._load()

    def next(self) -> int:
        self._last = max(self._last + 1, int(self._clock() * 1000))
        if self._last >= self._mark and self._path is not None:
            mark = self._last + BLOCK
            try:
                atomic_write_text(self._path, f"{mark}\n")
            except OSError as exc:
                log.error("cannot save the record sequence number to %s: %s", self._path, exc)
            else:
                self._mark = mark
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
