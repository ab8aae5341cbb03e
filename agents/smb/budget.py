"""Back-pressure: the bytes the SMB server holds for its clients, per connection and in all.

A connection reserves, before serving a frame, the frame's size plus a bound
on its replies (a READ's Length), and holds each reply's bytes while they
wait to leave; it releases them once the client has taken them. While a
connection is over its share, or the server over its total, the connection
reads no further requests: a client that does not read its replies stops
itself, not the server.

So that no client can starve the others, every connection may always have
:data:`SMALL` bytes of small requests going, whatever the total says (a
listing or an ECHO answers while others' large READs wait for room).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

# A frame this small (with its reply bound) is always admitted up to SMALL per connection.
SMALL = 256 * 1024


@dataclass(slots=True)
class Account:
    """One connection's share of the budget."""

    used: int = 0


class ByteBudget:
    def __init__(self, per_connection: int, total: int) -> None:
        self.per_connection = per_connection
        self.total = total
        self.used = 0
        self._high_water = 0
        self._waiters: list[asyncio.Future[None]] = []

    def fits(self, account: Account, n: int) -> bool:
        if account.used + n <= SMALL:
            return True
        # A connection holding nothing may always take one frame, however large
        # (a single 8 MiB READ must work with any per-connection setting).
        conn_ok = account.used == 0 or account.used + n <= self.per_connection
        total_ok = self.used == 0 or self.used + n <= self.total
        return conn_ok and total_ok

    async def admit(
        self, account: Account, n: int, gone: asyncio.Future[None] | None = None
    ) -> bool:
        """Wait until ``n`` bytes fit, then hold them for ``account`` and return True;
        return False (holding nothing) if ``gone`` completes first (the connection ended)."""
        while not self.fits(account, n):
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait(
                    [waiter] if gone is None else [waiter, gone],
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            if gone is not None and gone.done():
                return False
        self.hold(account, n)
        return True

    def hold(self, account: Account, n: int) -> None:
        """Count ``n`` bytes at once (a reply that exists already: it cannot wait)."""
        account.used += n
        self.used += n
        self._high_water = max(self._high_water, self.used)

    def release(self, account: Account, n: int) -> None:
        n = min(n, account.used)
        account.used -= n
        self.used -= n
        # Every waiter re-checks its own condition; there are at most a few per connection.
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def release_all(self, account: Account) -> None:
        """A closed connection gives back whatever it still held."""
        self.release(account, account.used)

    def take_high_water(self) -> int:
        """The most ever held since the last call (then counting starts again from now)."""
        high, self._high_water = self._high_water, self.used
        return high
