"""The group-commit writer (many requests, one transaction): batching, failure handling, bounds.

Runs against a real SQLite file with a scratch table, so commits and rollbacks are real.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from radiusd.model.writes import WriterBusy, WriterClosed
from radiusd.store.engine import create_engine
from radiusd.store.writer import Writer

META = sa.MetaData()
ROWS = sa.Table("rows", META, sa.Column("k", sa.Integer, primary_key=True), sa.Column("v", sa.Text))


class Insert:
    """Inserts one row; records whether its transaction was rolled back."""

    order: ClassVar[int] = 10
    calls: ClassVar[list[int]] = []  # batch sizes seen by apply_batch

    def __init__(self, k: int, v: str = "x") -> None:
        self.k, self.v = k, v
        self.undone = False

    @classmethod
    async def apply_batch(cls, conn: AsyncConnection, ops: Sequence[Any]) -> None:
        cls.calls.append(len(ops))
        await conn.execute(sa.insert(ROWS), [{"k": op.k, "v": op.v} for op in ops])

    def rolled_back(self) -> None:
        self.undone = True


class Later(Insert):
    """Runs after Insert in the same transaction (higher order)."""

    order: ClassVar[int] = 20
    calls: ClassVar[list[int]] = []


@pytest.fixture
async def engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(sqlite_url)
    async with eng.begin() as conn:
        await conn.run_sync(META.create_all)
    Insert.calls.clear()
    Later.calls.clear()
    yield eng
    await eng.dispose()


async def stored(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        return sorted((await conn.execute(sa.select(ROWS.c.k))).scalars())


async def test_queued_work_is_one_transaction_per_drain(engine: AsyncEngine) -> None:
    writer = Writer(engine)
    futures = [writer.submit(Insert(k)) for k in range(50)]  # queued before the writer runs
    writer.start()
    await asyncio.gather(*futures)
    assert Insert.calls == [50]
    assert writer.batches == 1 and writer.committed_ops == 50
    assert await stored(engine) == list(range(50))
    await writer.close()


async def test_kinds_run_in_their_order_within_one_batch(engine: AsyncEngine) -> None:
    writer = Writer(engine)
    seen: list[str] = []

    class First(Insert):
        order: ClassVar[int] = 1

        @classmethod
        async def apply_batch(cls, conn: AsyncConnection, ops: Sequence[Any]) -> None:
            seen.append("first")
            await super().apply_batch(conn, ops)

    class Second(Insert):
        order: ClassVar[int] = 2

        @classmethod
        async def apply_batch(cls, conn: AsyncConnection, ops: Sequence[Any]) -> None:
            seen.append("second")
            await super().apply_batch(conn, ops)

    futures = [writer.submit(Second(1)), writer.submit(First(2))]
    writer.start()
    await asyncio.gather(*futures)
    assert seen == ["first", "second"]
    await writer.close()


async def test_a_poisonous_operation_fails_alone(engine: AsyncEngine) -> None:
    """A batch that fails for a reason other than the connection is retried one by one: the
    duplicate key fails (and is rolled back), its neighbours are committed and answered."""
    writer = Writer(engine, retry_pause=0.01)
    ops = [Insert(1), Insert(2), Insert(1), Insert(3)]
    futures = [writer.submit(op) for op in ops]
    writer.start()
    results = await asyncio.gather(*futures, return_exceptions=True)
    assert [isinstance(r, Exception) for r in results] == [False, False, True, False]
    assert [op.undone for op in ops] == [False, False, True, False]
    assert await stored(engine) == [1, 2, 3]
    await writer.close()


async def test_failed_transaction_fails_every_future_and_undoes_memory(engine: AsyncEngine) -> None:
    """A lost database fails the whole batch: no future succeeds, every operation is rolled
    back (so the caller sends no reply and the NAS retransmits), nothing is half-written."""
    writer = Writer(engine, retry_pause=0.01)

    class Lost(Insert):
        @classmethod
        async def apply_batch(cls, conn: AsyncConnection, ops: Sequence[Any]) -> None:
            await super().apply_batch(conn, ops)
            raise ConnectionError("connection to the database lost")

    ops = [Lost(k) for k in range(5)]
    futures = [writer.submit(op) for op in ops]
    writer.start()
    results = await asyncio.gather(*futures, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert all(op.undone for op in ops)
    assert writer.healthy is False
    assert await stored(engine) == []
    # the writer recovers on the next batch, with a fresh connection
    await writer.write(Insert(9))
    assert writer.healthy is True
    assert await stored(engine) == [9]
    await writer.close()


async def test_full_queue_refuses_new_work(engine: AsyncEngine) -> None:
    writer = Writer(engine, max_queue=3)
    kept = [writer.submit(Insert(k)) for k in range(3)]
    with pytest.raises(WriterBusy):
        writer.submit(Insert(99))
    assert writer.refused == 1
    writer.start()
    await asyncio.gather(*kept)
    assert await stored(engine) == [0, 1, 2]
    await writer.close()


async def test_close_flushes_then_refuses(engine: AsyncEngine) -> None:
    writer = Writer(engine)
    writer.start()
    futures = [writer.submit(Insert(k)) for k in range(10)]
    await writer.close()
    assert all(f.done() and f.exception() is None for f in futures)
    assert await stored(engine) == list(range(10))
    with pytest.raises(WriterClosed):
        writer.submit(Insert(11))


async def test_the_connection_is_kept_between_batches(engine: AsyncEngine) -> None:
    writer = Writer(engine)
    writer.start()
    await writer.write(Insert(1))
    first = writer._conn
    await writer.write(Later(2))
    assert first is not None and writer._conn is first
    await writer.close()
    assert writer._conn is None


class Slow(Insert):
    """Holds its transaction open until released: a commit that takes as long as the test wants."""

    order: ClassVar[int] = 30
    calls: ClassVar[list[int]] = []
    release: ClassVar[asyncio.Event]

    @classmethod
    async def apply_batch(cls, conn: AsyncConnection, ops: Sequence[Any]) -> None:
        await cls.release.wait()
        await super().apply_batch(conn, ops)


async def test_admits_until_the_oldest_pending_write_is_older_than_max_wait(engine: AsyncEngine) -> None:
    """Past ``max_wait``, a backlog that the measured cost per operation cannot commit within
    ``max_wait`` is refused: the writer is behind, a new request would not be answered in time."""
    now = [100.0]
    writer = Writer(engine, max_queue=1000, max_wait=0.25, clock=lambda: now[0])
    assert writer.admits() and writer.oldest_wait() == 0.0  # nothing pending
    assert writer.op_cost() == pytest.approx(0.001)  # nothing measured yet: 1 ms per operation
    Slow.release = asyncio.Event()
    first = writer.submit(Slow(1))
    now[0] += 0.2
    assert writer.admits() and writer.oldest_wait() == pytest.approx(0.2)
    writer.start()
    await asyncio.sleep(0.05)  # the writer takes the batch; its commit hangs on the event
    # queued behind the batch: the batch's age still counts; 300 ops x 1 ms > max_wait
    queued = [writer.submit(Insert(k)) for k in range(2, 302)]
    now[0] += 0.1
    assert writer.oldest_wait() == pytest.approx(0.3)
    assert not writer.admits()
    Slow.release.set()
    await asyncio.gather(first, *queued)
    assert writer.admits() and writer.oldest_wait() == 0.0  # all committed: the clock starts afresh
    await writer.close()
    assert await stored(engine) == list(range(1, 302))


async def test_a_stalled_transaction_with_a_short_queue_does_not_shed(engine: AsyncEngine) -> None:
    """One transaction that stalls (a checkpoint's fsync, a busy CPU) makes the oldest write
    late although the writer keeps up: what is queued can be committed within ``max_wait``, so
    work is still admitted (the next batch catches up) until ``stall_limit`` x ``max_wait``."""
    now = [100.0]
    writer = Writer(engine, max_queue=1000, max_wait=0.25, stall_limit=4.0, clock=lambda: now[0])
    Slow.release = asyncio.Event()
    first = writer.submit(Slow(1))
    writer.start()
    await asyncio.sleep(0.05)
    queued = [writer.submit(Insert(k)) for k in range(2, 52)]  # 50 x 1 ms: 0.05 s of work
    now[0] += 0.4
    assert writer.oldest_wait() == pytest.approx(0.4) and writer.admits()
    now[0] += 0.59
    assert writer.admits()  # 0.99 s: still a stall
    now[0] += 0.02
    assert not writer.admits()  # 1.01 s: past stall_limit x max_wait, whatever the queue
    Slow.release.set()
    await asyncio.gather(first, *queued)
    await writer.close()
    assert await stored(engine) == list(range(1, 52))


async def test_the_cost_per_operation_is_the_median_of_recent_batches(engine: AsyncEngine) -> None:
    """Measured from committed batches of several operations; a median, so one stalled batch
    does not make the writer look slow."""
    writer = Writer(engine, max_wait=0.25)
    writer.start()
    for first in range(0, 40, 8):
        await asyncio.gather(*[writer.submit(Insert(k)) for k in range(first, first + 8)])
    measured = list(writer._op_costs)
    assert len(measured) >= 3
    cost = writer.op_cost()
    assert 0.0 < cost <= max(measured) < 0.05  # an 8-row SQLite insert, however loaded the machine
    writer._op_costs.append(5.0)  # one stalled batch
    assert writer.op_cost() <= max(measured)  # the median stays among the real batches
    await writer.close()


async def test_a_full_queue_is_not_admitting_either(engine: AsyncEngine) -> None:
    writer = Writer(engine, max_queue=2, max_wait=60.0)
    kept = [writer.submit(Insert(k)) for k in range(2)]
    assert not writer.admits()
    writer.start()
    await asyncio.gather(*kept)
    assert writer.admits()
    await writer.close()


def test_the_pause_after_failures_doubles_up_to_a_cap(engine: AsyncEngine) -> None:
    writer = Writer(engine, retry_pause=0.5, max_retry_pause=5.0)
    pauses = []
    for n in range(1, 8):
        writer.failures_in_a_row = n
        pauses.append(writer.pause())
    assert pauses == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


async def test_failed_commits_back_off_and_reset_on_success(engine: AsyncEngine) -> None:
    """Every failed batch in a row waits longer before the next one; a commit resets it."""
    writer = Writer(engine, retry_pause=0.05, max_retry_pause=0.2)
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await real_sleep(0)

    class Lost(Insert):
        @classmethod
        async def apply_batch(cls, conn: AsyncConnection, ops: Sequence[Any]) -> None:
            raise ConnectionError("connection to the database lost")

    writer.start()
    import radiusd.store.writer as module

    module.asyncio.sleep = sleep  # type: ignore[attr-defined]
    try:
        for k in range(5):
            with pytest.raises(ConnectionError):
                await writer.write(Lost(k))
        await real_sleep(0.01)
        assert slept[:5] == [0.05, 0.1, 0.2, 0.2, 0.2]
        await writer.write(Insert(1))
        assert writer.failures_in_a_row == 0
    finally:
        module.asyncio.sleep = real_sleep  # type: ignore[attr-defined]
    await writer.close()


async def test_a_connection_lost_during_one_by_one_retries_gives_up_the_rest(engine: AsyncEngine) -> None:
    """A batch failed by a bad operation is retried one at a time; when the database goes
    away meanwhile, the remaining operations fail at once (no reply) instead of each waiting
    for its own timeout."""
    writer = Writer(engine, retry_pause=0.01)
    attempts: list[int] = []

    class Flaky(Insert):
        @classmethod
        async def apply_batch(cls, conn: AsyncConnection, ops: Sequence[Any]) -> None:
            attempts.append(len(ops))
            if len(ops) > 1:
                raise ValueError("a poisonous row")
            raise ConnectionError("connection to the database lost")

    ops = [Flaky(k) for k in range(6)]
    futures = [writer.submit(op) for op in ops]
    writer.start()
    results = await asyncio.gather(*futures, return_exceptions=True)
    assert attempts == [6, 1], "the rest of the batch was still tried one by one"
    assert all(isinstance(r, ConnectionError) for r in results)
    assert all(op.undone for op in ops)
    assert writer.failures_in_a_row >= 1
    await writer.close()


async def test_slow_batches_are_counted_and_logged_at_most_once_a_second(engine: AsyncEngine) -> None:
    """``writer.slow-batch`` names where a slow transaction spent its time; under sustained
    slowness one line a second, the others counted."""
    writer = Writer(engine, slow_batch=0.0)  # every batch is "slow"
    writer.start()
    for k in range(3):
        await writer.write(Insert(k))
    await writer.close()
    assert writer.slow_batches == 3
    assert writer._slow_counted == 1  # logged once (the first), two within the same second


class ReadThenInsert(Insert):
    """Reads before it writes, as the SQLite accounting and lease operations do."""

    @classmethod
    async def apply_batch(cls, conn: AsyncConnection, ops: Sequence[Any]) -> None:
        await conn.execute(sa.select(sa.func.count()).select_from(ROWS))
        await conn.execute(sa.insert(ROWS), [{"k": op.k, "v": op.v} for op in ops])


async def test_a_read_then_write_batch_waits_for_another_writer(engine: AsyncEngine, sqlite_url: str) -> None:
    """SQLite: another connection holding the write lock (a CLI edit, storage maintenance) makes
    the writer wait on the busy timeout, not fail with "database is locked": a transaction
    begun deferred that read first cannot be promoted to a writer while another one writes
    (no busy wait then), so the writer begins IMMEDIATE. Over UDP the NAS would retransmit;
    over RadSec (TCP) nothing retransmits, and the request went unanswered."""
    import sqlite3

    from radiusd.store.engine import sqlite_file

    path = sqlite_file(sqlite_url)
    assert path is not None
    writer = Writer(engine)
    writer.start()
    await writer.write(Insert(1))  # the writer's connection is open (and has read the schema)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO rows (k, v) VALUES (2, 'other')")
        done = writer.submit(ReadThenInsert(3))
        await asyncio.sleep(0.3)
        assert not done.done()  # waiting for the lock, not failed
        other.execute("COMMIT")
        await asyncio.wait_for(done, 10)
    finally:
        other.close()
    assert writer.failed_batches == 0
    async with engine.connect() as conn:
        assert sorted(r[0] for r in await conn.execute(sa.select(ROWS.c.k))) == [1, 2, 3]
    await writer.close()
