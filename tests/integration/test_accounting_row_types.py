"""The composite types of the accounting batch (migration 0008) match what the writer sends.

accounting_ops builds each row as a tuple in the order of PG_ROW_TYPES; asyncpg encodes it
by the type's fields. A column added to one side only would shift every later field (a text
where an int8 belongs fails; two int8 counters swapped would not): this compares them.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.store import rawpg
from radiusd.store.accounting_pg import PG_ROW_TYPES
from radiusd.store.engine import create_engine, ensure_schema

_PG_NAME = {"TEXT": "text", "INT4": "integer", "INT8": "bigint", "FLOAT8": "double precision", "DATE": "date"}


async def fields_of(engine: AsyncEngine, type_name: str) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_type t "
                "JOIN pg_attribute a ON a.attrelid = t.typrelid "
                "WHERE t.typname = :name AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
            ),
            {"name": type_name},
        )
        return [(str(n), str(t)) for n, t in rows]


async def test_row_types_have_the_fields_the_writer_sends_in_its_order(pg_url: str) -> None:
    engine = create_engine(pg_url)
    try:
        await ensure_schema(engine)
        for type_name, columns in PG_ROW_TYPES.items():
            expected = [(name, _PG_NAME[typ]) for name, typ in columns]
            assert await fields_of(engine, type_name) == expected, type_name
    finally:
        await engine.dispose()


async def test_the_driver_is_the_connection_get_raw_connection_gives(pg_url: str) -> None:
    """rawpg reads the checked-out connection without SQLAlchemy's greenlet: the same object
    ``get_raw_connection`` returns, in the writer's transaction; none once invalidated, and the
    fallback then reconnects as before."""
    engine = create_engine(pg_url)
    try:
        async with engine.connect() as conn:
            held = rawpg._checked_out(conn)
            assert held is not None and held is await conn.get_raw_connection()
            async with conn.begin():
                driver = await rawpg.driver(conn)
                assert id(held.driver_connection) == id(driver)  # (is: mypy would narrow to Optional)
                assert driver.is_in_transaction()
                assert await driver.fetchval("SELECT 1") == 1
            await conn.invalidate()
            assert rawpg._checked_out(conn) is None
            async with conn.begin():
                again = await rawpg.driver(conn)  # revalidated through get_raw_connection
                assert again.is_in_transaction() and await again.fetchval("SELECT 2") == 2
    finally:
        await engine.dispose()
