"""The group-commit writer: one task per database that turns many requests into one transaction.

A request that must persist something puts an operation on the queue and awaits its future;
its reply is encoded only after the future resolves. The writer
drains whatever is queued when the previous commit finishes (no timer: under light load a
batch is one request, under heavy load batches grow by themselves), runs each kind of
operation once for all its rows, commits, then resolves every future of the batch. On
PostgreSQL, a batch whose operation classes all write through asyncpg alone
(``raw_postgresql``: accounting and lease rows) is begun and committed on asyncpg too, not
through SQLAlchemy's transaction, which cost ~100 µs of CPU per batch more
(``bench/writer_tx_bench.py``); any other class in the batch keeps SQLAlchemy's transaction.

When the transaction fails, every future of the batch fails and each operation's
``rolled_back()`` undoes the in-memory state it had made pending (an address goes back to
its pool); no reply is sent and the NAS retransmits. When the connection was lost during the
COMMIT itself, the transaction may have committed after all: the batch is failed and rolled
back in memory just the same, and ``on_in_doubt`` is told its operations first, so that the
owner of that memory can reread what the database holds (radiusd.policy.accounting_doubt). A
batch that fails for a reason other than a lost connection is retried one operation at a
time, so one poisonous request cannot keep its neighbours from being answered (when the
connection is lost during those retries, the rest of the batch is failed at once). After a
failed commit the writer pauses before the next batch, ``retry_pause`` doubled with every
failure in a row up to ``max_retry_pause``, so a database that is away is not hammered. The queue is
bounded: when full, new work is refused (:class:`WriterBusy`), never half-written.

The writer also knows how long its oldest unfinished operation has waited
(:meth:`Writer.admits`): past ``max_wait`` a new request may not be answered in time, so the
accounting port stops admitting work before decoding it (shedding is then ~1 µs a datagram
instead of a full parse, which is what keeps the kernel's receive queue short under overload).
A late writer is not always an overloaded one: one transaction that stalls for a few hundred
milliseconds (a checkpoint's fsync, a CPU shared with other work) makes the oldest operation
late although the writer commits far faster than work arrives. So past ``max_wait`` work is
still admitted while what is queued could be committed within ``max_wait`` at the measured
cost per operation (the median of recent batches), up to ``stall_limit`` times ``max_wait``:
a stall is absorbed by the next, larger batch instead of turning into retransmissions 3 s
later, and a writer that really falls behind (the queue grows with every batch) still sheds.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from radiusd.logs import get_logger
from radiusd.model.writes import Operation, WriterBusy, WriterClosed

from . import rawpg
from .engine import WRITE_TRANSACTION

log = get_logger("radiusd.writer")


#: recent batches whose cost per operation is kept (:meth:`Writer.op_cost`)
_COST_SAMPLES = 32
#: smaller batches are mostly the fixed cost of a transaction
_COST_MIN_BATCH = 4
#: the cost per operation assumed before a batch was measured (1,000 operations/s)
_DEFAULT_OP_COST = 0.001


class Writer:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_queue: int = 20_000,
        max_batch: int = 2_000,
        retry_pause: float = 0.5,
        max_retry_pause: float = 2.0,
        max_wait: float = 0.25,
        slow_batch: float = 0.1,
        stall_limit: float = 4.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.max_queue = max_queue
        self.max_wait = max_wait
        #: a batch whose transaction takes longer than this (seconds) is logged, with the time
        #: of each operation class and of the COMMIT (writer.slow-batch)
        self.slow_batch = slow_batch
        #: past ``max_wait``, work is admitted only while what is queued can be committed in time,
        #: and never past ``stall_limit`` x ``max_wait``
        self.stall_limit = stall_limit
        #: seconds of transaction per operation of recent batches (a few ops or more)
        self._op_costs: deque[float] = deque(maxlen=_COST_SAMPLES)
        #: batches slower than ``slow_batch`` so far; the last logged one (one line a second)
        self.slow_batches = 0
        self._slow_counted = 0
        self._slow_logged = -1e9
        self.clock = clock
        #: when the oldest operation still in the queue was queued (None: the queue is empty)
        self._queued_since: float | None = None
        #: when the oldest operation of the batch being committed was queued (None: no batch)
        self._batch_since: float | None = None
        self.max_batch = max_batch
        self.retry_pause = retry_pause
        self.max_retry_pause = max_retry_pause
        #: failed commits in a row (the pause before the next batch doubles with each)
        self.failures_in_a_row = 0
        self._lost_connection = False
        self._last_failure: BaseException | None = None
        self._queue: list[tuple[Operation, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # set by start()
        self._conn: AsyncConnection | None = None
        # figures for metrics and tests
        self.batches = 0
        self.committed_ops = 0
        self.failed_batches = 0
        self.refused = 0
        self.last_batch_size = 0
        self.healthy = True
        #: told the operations of a batch whose COMMIT lost its connection (outcome unknown),
        #: before they are rolled back in memory
        self.on_in_doubt: Callable[[list[Operation]], None] | None = None
        self._committing = False

    @property
    def depth(self) -> int:
        return len(self._queue)

    def oldest_wait(self) -> float:
        """Seconds the oldest operation not yet committed has waited (0.0 when there is none)."""
        since = self._batch_since if self._batch_since is not None else self._queued_since
        return 0.0 if since is None else self.clock() - since

    def admits(self) -> bool:
        """Whether new work can still be answered in time: the queue has room, and its oldest
        unfinished operation has waited less than ``max_wait`` or, up to ``stall_limit`` x
        ``max_wait``, what is queued can be committed within ``max_wait`` (a stalled
        transaction, not a writer that falls behind). Cheap enough to ask per datagram.
        A batch taken partly (``max_batch``) leaves the rest dated by the batch's oldest: an
        overestimate, which sheds a little early rather than late."""
        since = self._batch_since if self._batch_since is not None else self._queued_since
        if since is None:
            return True
        if len(self._queue) >= self.max_queue:
            return False
        waited = self.clock() - since
        if waited < self.max_wait:
            return True
        if waited >= self.max_wait * self.stall_limit:
            return False
        # late: a stalled transaction (admit: the next batch catches up) or a writer that falls
        # behind (shed)? What is queued would take this long to commit:
        return len(self._queue) * self.op_cost() < self.max_wait

    def op_cost(self) -> float:
        """Seconds of transaction per operation: the median of recent batches of at least
        :data:`_COST_MIN_BATCH` operations (a median, so that a stalled batch does not count;
        it includes each commit's fixed cost, so it errs on the high side)."""
        costs = self._op_costs
        return statistics.median(costs) if costs else _DEFAULT_OP_COST

    def start(self) -> None:
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._task = self._loop.create_task(self._run(), name="radiusd-writer")

    def submit(self, op: Operation) -> asyncio.Future[None]:
        """Queue ``op``; the future resolves after the transaction holding it commits."""
        if self._closing:
            raise WriterClosed("the writer is shutting down")
        if len(self._queue) >= self.max_queue:
            self.refused += 1
            raise WriterBusy(f"writer queue full ({self.max_queue} operations)")
        # the loop the writer runs in, kept: asyncio.get_running_loop() costs a getpid()
        # system call per request (its fork check)
        loop = self._loop if self._loop is not None else asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        if not self._queue:
            self._queued_since = self.clock()
        self._queue.append((op, fut))
        self._wake.set()
        return fut

    async def write(self, *ops: Operation) -> None:
        """Queue ``ops`` (in one batch) and wait until they are committed."""
        futs = [self.submit(op) for op in ops]
        await asyncio.gather(*futs)

    async def close(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109  (at timeout the queue is rolled back and failed first)
        """Finish what is queued (up to ``timeout`` seconds), then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout)
            except TimeoutError:
                self._task.cancel()
                for op, fut in self._queue:
                    op.rolled_back()
                    if not fut.done():
                        fut.set_exception(WriterClosed("shut down before commit"))
                self._queue.clear()
                self._queued_since = None
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(Exception):
                await conn.close()

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = self._queue[: self.max_batch]
            del self._queue[: self.max_batch]
            self._batch_since = self._queued_since
            if not self._queue:
                self._queued_since = None
            try:
                ok = await self._commit(batch)
            finally:
                self._batch_since = None
            if ok:
                self.failures_in_a_row = 0
            elif not self._closing:  # the database is away: do not spin, and back off
                self.failures_in_a_row += 1
                await asyncio.sleep(self.pause())

    def pause(self) -> float:
        """Seconds to wait after ``failures_in_a_row`` failed commits: ``retry_pause`` doubled
        per failure, at most ``max_retry_pause``."""
        exponent = min(max(self.failures_in_a_row - 1, 0), 30)
        return float(min(self.retry_pause * 2.0**exponent, self.max_retry_pause))

    async def _commit(self, batch: list[tuple[Operation, asyncio.Future[None]]]) -> bool:
        started = time.perf_counter()
        try:
            await self._apply(batch)
        except Exception as exc:  # every failure of the transaction fails the whole batch
            self.failed_batches += 1
            self._lost_connection = _connection_lost(exc)
            self._last_failure = exc
            if len(batch) > 1 and not self._lost_connection:
                log.warning("writer.batch-failed", size=len(batch), error=_short(exc), retry="one by one")
                for i, item in enumerate(batch):
                    if not await self._commit([item]) and self._lost_connection:
                        # the database went away meanwhile
                        self._give_up(batch[i + 1 :], self._last_failure or exc)
                        return False
                return True
            if self.healthy:
                log.error("writer.commit-failed", size=len(batch), error=_short(exc))
            self.healthy = False
            if self._committing and _connection_lost(exc):
                log.warning("writer.commit-in-doubt", size=len(batch), error=_short(exc))
                if self.on_in_doubt is not None:
                    try:
                        self.on_in_doubt([op for op, _ in batch])
                    except Exception:
                        log.exception("writer.in-doubt-callback-failed")
            for op, fut in batch:
                op.rolled_back()
                if not fut.done():
                    fut.set_exception(exc)
            return False
        if not self.healthy:
            log.info("writer.recovered", size=len(batch))
        self.healthy = True
        self.batches += 1
        self.committed_ops += len(batch)
        self.last_batch_size = len(batch)
        for _, fut in batch:
            if not fut.done():
                fut.set_result(None)
        log.debug("writer.committed", size=len(batch), ms=round((time.perf_counter() - started) * 1000, 2))
        return True

    def _give_up(self, batch: list[tuple[Operation, asyncio.Future[None]]], exc: BaseException) -> None:
        """Fail ``batch`` without trying it: no reply is sent, the NAS retransmits."""
        if batch:
            log.warning("writer.batch-given-up", size=len(batch), error=_short(exc))
        for op, fut in batch:
            op.rolled_back()
            if not fut.done():
                fut.set_exception(exc)

    async def _apply(self, batch: list[tuple[Operation, asyncio.Future[None]]]) -> None:
        groups: dict[type[Operation], list[Operation]] = {}
        for op, _ in batch:
            groups.setdefault(type(op), []).append(op)
        self._committing = False
        conn = await self._connection()
        clock = time.perf_counter
        started = clock()
        spent: dict[str, float] = {}
        raw = _raw_driver(conn, groups)
        try:
            if raw is not None:
                # BEGIN and COMMIT straight on asyncpg: through SQLAlchemy's transaction (a
                # greenlet switch each) they cost ~100 µs more CPU per batch, a quarter of a small one's
                await raw.execute("BEGIN")
                await self._apply_groups(conn, groups, spent)
                self._committing = True
                t0 = clock()
                await raw.execute("COMMIT")
            else:
                async with conn.begin():
                    await self._apply_groups(conn, groups, spent)
                    self._committing = True  # what fails from here on failed in the COMMIT
                    t0 = clock()
            spent["COMMIT"] = clock() - t0
        except BaseException:
            await self._discard_connection()  # a failed connection is not reused
            raise
        took = clock() - started
        if len(batch) >= _COST_MIN_BATCH:
            self._op_costs.append(took / len(batch))
        if took > self.slow_batch:
            self.slow_batches += 1
            now = time.monotonic()
            if now - self._slow_logged < 1.0:
                return  # at most one line a second; ``since_last`` counts the others
            self._slow_logged = now
            log.warning(
                "writer.slow-batch",
                size=len(batch),
                ms=round(took * 1000, 1),
                since_last=self.slow_batches - self._slow_counted,
                **{f"{name}_ms": round(t * 1000, 1) for name, t in spent.items()},
                **{f"{cls.__name__}_ops": len(ops) for cls, ops in groups.items()},
            )
            self._slow_counted = self.slow_batches

    @staticmethod
    async def _apply_groups(
        conn: AsyncConnection, groups: dict[type[Operation], list[Operation]], spent: dict[str, float]
    ) -> None:
        for cls in sorted(groups, key=lambda c: c.order):
            t0 = time.perf_counter()
            await cls.apply_batch(conn, groups[cls])
            spent[cls.__name__] = time.perf_counter() - t0

    async def _connection(self) -> AsyncConnection:
        """The writer's own connection, kept between batches: checking one out of the pool
        for every transaction cost more CPU than many of the batches' statements."""
        conn = self._conn
        if conn is None or conn.closed or conn.invalidated:
            # every transaction of the writer writes: on SQLite it begins IMMEDIATE, so another
            # writer's lock (a CLI edit, storage maintenance) is waited for on the busy timeout;
            # a deferred one that read first would fail "database is locked" at its first write
            conn = self._conn = await self.engine.connect()
            await conn.execution_options(**{WRITE_TRANSACTION: True})
        return conn

    async def _discard_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.invalidate()
            with contextlib.suppress(Exception):
                await conn.close()


def _raw_driver(conn: AsyncConnection, groups: dict[type[Operation], list[Operation]]) -> Any:
    """The asyncpg connection to begin and commit this batch on, when every operation class of
    it writes through asyncpg alone (``raw_postgresql``) on PostgreSQL; None: SQLAlchemy's
    transaction (SQLite, or a class that runs SQLAlchemy statements, which would begin one)."""
    if conn.dialect.name != "postgresql" or not all(getattr(c, "raw_postgresql", False) for c in groups):
        return None
    return rawpg.idle_driver(conn)


def _connection_lost(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (OSError, ConnectionError, asyncio.TimeoutError)) or "connect" in str(exc).lower()


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text.splitlines()[0][:300]
