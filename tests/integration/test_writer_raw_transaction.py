"""The writer's transaction on PostgreSQL when every operation of a batch writes through asyncpg
alone (``raw_postgresql``): BEGIN and COMMIT go straight to asyncpg, not through SQLAlchemy.

What must hold either way: the batch is one transaction (all of it or none of it), nothing is
visible before the COMMIT, and a batch with an operation that runs SQLAlchemy statements still
gets SQLAlchemy's transaction (asyncpg refuses a SQLAlchemy BEGIN inside one it did not start).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from radiusd.store import rawpg
from radiusd.store.engine import create_engine
from radiusd.store.writer import Writer

META = sa.MetaData()
ROWS = sa.Table(
    "raw_rows", META, sa.Column("k", sa.Integer, primary_key=True), sa.Column("xid", sa.BigInteger)
)


class RawInsert:
    """Inserts its row through asyncpg, recording the transaction id and whether SQLAlchemy
    held a transaction of its own at the time."""

    order: ClassVar[int] = 10
    raw_postgresql: ClassVar[bool] = True
    sqlalchemy_transaction: ClassVar[list[bool]] = []

    def __init__(self, k: int) -> None:
        self.k = k
        self.undone = False

    @classmethod
    async def apply_batch(cls, conn: AsyncConnection, ops: Sequence[Any]) -> None:
        cls.sqlalchemy_transaction.append(conn.in_transaction())
        pg = await rawpg.driver(conn)
        await pg.execute(
            "INSERT INTO raw_rows (k, xid) SELECT k, txid_current() FROM unnest($1::int[]) AS k",
            [op.k for op in ops],
        )

    def rolled_back(self) -> None:
        self.undone = True


class SqlInsert(RawInsert):
    """The same row through SQLAlchemy (no ``raw_postgresql``)."""

    order: ClassVar[int] = 20
    raw_postgresql: ClassVar[bool] = False

    @classmethod
    async def apply_batch(cls, conn: AsyncConnection, ops: Sequence[Any]) -> None:
        cls.sqlalchemy_transaction.append(conn.in_transaction())
        await conn.execute(
            sa.text("INSERT INTO raw_rows (k, xid) VALUES (:k, txid_current())"), [{"k": op.k} for op in ops]
        )


@pytest.fixture
async def engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(pg_url)
    async with eng.begin() as conn:
        await conn.run_sync(META.create_all)
    RawInsert.sqlalchemy_transaction.clear()
    yield eng
    await eng.dispose()


async def _rows(engine: AsyncEngine) -> dict[int, int]:
    async with engine.connect() as conn:
        return {k: xid for k, xid in (await conn.execute(sa.select(ROWS.c.k, ROWS.c.xid))).all()}


async def _drain(writer: Writer, ops: list[Any]) -> list[asyncio.Future[None]]:
    futs = [writer.submit(op) for op in ops]
    await asyncio.gather(*futs, return_exceptions=True)
    return futs


async def test_a_raw_batch_is_one_transaction_begun_on_asyncpg(engine: AsyncEngine) -> None:
    writer = Writer(engine)
    writer.start()
    try:
        await _drain(writer, [RawInsert(k) for k in range(1, 6)])
        await _drain(writer, [RawInsert(k) for k in range(6, 9)])
    finally:
        await writer.close()
    rows = await _rows(engine)
    assert sorted(rows) == list(range(1, 9))
    # two batches, two transactions (one xid each): the statements ran inside an explicit one
    assert len({rows[k] for k in range(1, 6)}) == 1 and len({rows[k] for k in range(6, 9)}) == 1
    assert rows[1] != rows[6]
    # SQLAlchemy held no transaction of its own: BEGIN went to asyncpg directly
    assert RawInsert.sqlalchemy_transaction == [False, False]


async def test_a_raw_batch_that_fails_after_writing_leaves_nothing(engine: AsyncEngine) -> None:
    class FailsAfterWriting(RawInsert):
        @classmethod
        async def apply_batch(cls, conn: AsyncConnection, ops: Sequence[Any]) -> None:
            await super().apply_batch(conn, ops)
            raise RuntimeError("the batch's next statement failed")

    writer = Writer(engine)
    writer.start()
    try:
        failing = FailsAfterWriting(1)
        (fut,) = await _drain(writer, [failing])
        assert isinstance(fut.exception(), RuntimeError) and failing.undone
        (fut,) = await _drain(writer, [RawInsert(2)])  # on a new connection
        assert fut.exception() is None
    finally:
        await writer.close()
    assert sorted(await _rows(engine)) == [2]


async def test_nothing_of_a_raw_batch_is_visible_before_its_commit(engine: AsyncEngine, pg_url: str) -> None:
    seen: list[list[int]] = []

    class Peek(RawInsert):
        @classmethod
        async def apply_batch(cls, conn: AsyncConnection, ops: Sequence[Any]) -> None:
            await super().apply_batch(conn, ops)
            other = await asyncpg.connect(pg_url.replace("postgresql+asyncpg", "postgresql"))
            try:
                seen.append([r["k"] for r in await other.fetch("SELECT k FROM raw_rows")])
            finally:
                await other.close()

    writer = Writer(engine)
    writer.start()
    try:
        await _drain(writer, [Peek(1)])
    finally:
        await writer.close()
    assert seen == [[]]
    assert sorted(await _rows(engine)) == [1]


async def test_a_batch_with_a_sqlalchemy_operation_keeps_its_transaction(engine: AsyncEngine) -> None:
    writer = Writer(engine)
    writer.start()
    try:
        futs = await _drain(writer, [RawInsert(1), SqlInsert(2)])
    finally:
        await writer.close()
    assert [f.exception() for f in futs] == [None, None]
    rows = await _rows(engine)
    assert rows[1] == rows[2]  # one transaction for both
    # the raw operation ran first (order 10) inside SQLAlchemy's transaction, begun with it
    assert RawInsert.sqlalchemy_transaction == [True, True]
