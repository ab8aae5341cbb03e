"""ByteBudget (agents/smb/budget.py) and ServerLimits.fit_to_fds (agents/smb/limits.py)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.agents.smb.budget import SMALL, Account, ByteBudget
from peerwork.agents.smb.limits import FD_RESERVE, MIB, ServerLimits


def test_a_connection_over_its_share_waits_until_it_releases() -> None:
    async def run() -> None:
        budget = ByteBudget(per_connection=16 * MIB, total=64 * MIB)
        a = Account()
        await budget.admit(a, 8 * MIB)
        await budget.admit(a, 8 * MIB)
        third = asyncio.create_task(budget.admit(a, 8 * MIB))
        await asyncio.sleep(0.01)
        assert not third.done() and a.used == 16 * MIB
        budget.release(a, 8 * MIB)
        await asyncio.wait_for(third, 1)
        assert a.used == budget.used == 16 * MIB

    asyncio.run(run())


def test_the_total_holds_back_large_frames_but_never_small_ones() -> None:
    async def run() -> None:
        budget = ByteBudget(per_connection=16 * MIB, total=16 * MIB)
        hog, other = Account(), Account()
        await budget.admit(hog, 16 * MIB)
        big = asyncio.create_task(budget.admit(other, 4 * MIB))
        await asyncio.sleep(0.01)
        assert not big.done()  # over the total: waits
        await asyncio.wait_for(budget.admit(other, 4096), 1)  # an ECHO or a listing: goes
        budget.release_all(hog)
        await asyncio.wait_for(big, 1)
        assert budget.used == other.used == 4 * MIB + 4096

    asyncio.run(run())


def test_a_connection_that_ends_stops_waiting_and_holds_nothing() -> None:
    async def run() -> None:
        budget = ByteBudget(per_connection=MIB, total=MIB)
        a, b = Account(), Account()
        budget.hold(a, MIB)
        gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiting = asyncio.create_task(budget.admit(b, MIB, gone))
        await asyncio.sleep(0.01)
        gone.set_result(None)
        assert await asyncio.wait_for(waiting, 1) is False
        assert b.used == 0 and budget.used == MIB

    asyncio.run(run())


def test_one_frame_larger_than_the_share_still_goes_alone() -> None:
    async def run() -> None:
        budget = ByteBudget(per_connection=1 * MIB, total=2 * MIB)
        a = Account()
        await asyncio.wait_for(budget.admit(a, 8 * MIB), 1)
        assert not budget.fits(a, SMALL + 1)

    asyncio.run(run())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 32 * MIB)), max_size=40))
def test_holding_and_releasing_in_any_order_balances(ops: list[tuple[int, int]]) -> None:
    budget = ByteBudget(per_connection=8 * MIB, total=16 * MIB)
    accounts = [Account() for _ in range(4)]
    held: list[tuple[Account, int]] = []
    for who, n in ops:
        acct = accounts[who]
        if n % 3 == 0 and held:
            a, m = held.pop()
            budget.release(a, m)
        else:
            budget.hold(acct, n)
            held.append((acct, n))
        assert budget.used == sum(a.used for a in accounts) >= 0
    for acct in accounts:
        budget.release_all(acct)
    assert budget.used == 0


def test_high_water_is_the_most_held_since_last_asked() -> None:
    budget = ByteBudget(per_connection=MIB, total=MIB)
    a = Account()
    budget.hold(a, 5 * MIB)
    budget.release(a, 4 * MIB)
    assert budget.take_high_water() == 5 * MIB
    assert budget.take_high_water() == MIB  # what is held now
    budget.release_all(a)
    assert budget.take_high_water() == MIB and budget.take_high_water() == 0


def test_limits_fit_a_small_descriptor_limit() -> None:
    limits = ServerLimits()
    roomy = limits.fit_to_fds(65536)
    assert replace(roomy, max_open_files_total=limits.max_open_files_total) == limits
    small = limits.fit_to_fds(1024)
    quarter = (1024 - FD_RESERVE) // 4
    assert small.max_connections == small.max_open_files == quarter
    assert small.max_connections_per_client == limits.max_connections_per_client
    assert small.queue_bytes == limits.queue_bytes
    # Connections and open files together never need more descriptors than there are.
    assert small.max_open_files_total == 1024 - FD_RESERVE - small.max_connections
