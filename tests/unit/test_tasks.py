"""Periodic loops stop when cancelled even if the cancelled step's clean-up raises.

The daemon's loops catch ``Exception`` to survive a database outage. A cancellation that lands
inside a transaction makes the clean-up raise an ordinary error (SQLAlchemy's
PendingRollbackError when a connection is closed mid-transaction); caught as an outage, it
swallowed the cancellation and shutdown waited for the loop's next hour (seen: the daemon
killed after SIGTERM while storage maintenance ran).
"""

from __future__ import annotations

import asyncio

import pytest

from radiusd.tasks import reraise_if_cancelled


async def _step_whose_cleanup_fails() -> None:
    try:
        await asyncio.sleep(10)
    finally:
        raise RuntimeError("Can't reconnect until invalid transaction is rolled back")


async def _loop(guarded: bool, rounds: list[int]) -> None:
    while True:
        try:
            await _step_whose_cleanup_fails()
        except Exception as exc:
            if guarded:
                reraise_if_cancelled(exc)
            rounds.append(1)
        await asyncio.sleep(3600)


async def test_a_guarded_loop_ends_when_cancelled_mid_step() -> None:
    rounds: list[int] = []
    task = asyncio.create_task(_loop(True, rounds))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 1.0)
    assert rounds == []


async def test_an_unguarded_loop_swallows_the_cancellation() -> None:
    """What the guard prevents: the loop logs an 'outage' and sleeps on."""
    rounds: list[int] = []
    task = asyncio.create_task(_loop(False, rounds))
    await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.sleep(0.05)
    assert not task.done() and rounds == [1]
    task.cancel()  # the sleep takes this one
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_outage_outside_cancellation_is_not_raised() -> None:
    try:
        raise RuntimeError("database away")
    except RuntimeError as exc:
        reraise_if_cancelled(exc)  # not cancelling: returns
