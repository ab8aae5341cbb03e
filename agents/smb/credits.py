"""The SMB2 credit window (MS-SMB2 3.3.1.1): which MessageIds a client may use next.

Each request consumes ``max(1, CreditCharge)`` consecutive ids that must lie in
the window and not have been used; each response grants new ids at the top.
A request outside the window is a protocol violation and ends the connection.
"""

from __future__ import annotations

MAX_OUTSTANDING = 8192  # what Samba grants at most, and what smbtorture expects


class CreditWindow:
    def __init__(self, limit: int = MAX_OUTSTANDING) -> None:
        self.limit = limit
        self._low = 0  # lowest id not yet consumed
        self._high = 1  # one past the highest granted id
        self._used: set[int] = set()  # consumed ids above _low

    @property
    def available(self) -> int:
        return self._high - self._low - len(self._used)

    def consume(self, message_id: int, charge: int) -> bool:
        charge = max(1, charge)
        if message_id < self._low or message_id + charge > self._high:
            return False
        ids = range(message_id, message_id + charge)
        if any(i in self._used for i in ids):
            return False
        self._used.update(ids)
        while self._low in self._used:
            self._used.discard(self._low)
            self._low += 1
        return True

    def grant(self, requested: int) -> int:
        """Grant up to ``requested`` new credits (never leaving the client with none)."""
        room = self.limit - self.available
        n = max(0, min(max(requested, 1), room))
        if n == 0 and self.available == 0:
            n = 1
        self._high += n
        return n


def charge_problem(
    cmd: int, body: memoryview, credit_charge: int, max_read: int, max_write: int, multi: bool
) -> int | None:
    """READ/WRITE lengths must fit the negotiated maximum and (``multi``: 2.1 and later,
    where CreditCharge counts) the CreditCharge paid; an NTSTATUS when they do not."""
    from peerwork.proto.ntstatus import NtStatus

    from . import api

    if cmd not in (api.READ, api.WRITE) or len(body) < 8:
        return None
    length = int.from_bytes(body[4:8], "little")
    limit = max_read if cmd == api.READ else max_write
    if length > limit:
        return NtStatus.INVALID_PARAMETER
    if multi and max(1, credit_charge) < (length + 65535) // 65536:
        return NtStatus.INVALID_PARAMETER
    return None
