"""Closing assignment history rows (every Stop and release) costs one index probe per address.

``write_history`` closes the open ``service_ip_assignments`` row of each ended address. As a
plain ``UPDATE ... FROM unnest(...)`` PostgreSQL joined the batch against every open assignment
(a hash join over the default partition, or a nested loop over all of it with statistics older
than the table), so a batch holding Stops cost more with every subscriber online. On PostgreSQL
it goes through ``radiusd_end_assignments()`` (migration 0020), whose plan is checked here with
auto_explain: a nested loop probing ``(address, assigned_at)``, whatever the statistics say.
"""

from __future__ import annotations

import datetime as dt

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.store import rawpg
from radiusd.store.lease_ops import write_history

T0 = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)
OPEN = 2_000  # open assignments, of which a batch closes a few


def _address(i: int) -> str:
    return f"100.64.{i >> 8}.{i & 255}"


def _row(i: int) -> dict[str, object]:
    return {
        "username": f"user{i}",
        "subscriber_id": None,
        "address": _address(i),
        "family": 4,
        "pool_name": "p",
        "router_id": None,
        "session_key": None,
        "assigned_at": T0,
        "released_at": None,
    }


async def _open_rows(engine: AsyncEngine) -> dict[str, dt.datetime | None]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.text("SELECT address, released_at FROM service_ip_assignments"))
        return {r[0]: r[1] for r in rows}


async def test_ended_addresses_close_their_open_row_once(store_engine: AsyncEngine) -> None:
    async with store_engine.begin() as conn:
        await write_history(conn, [], [_row(i) for i in range(10)])
    t1, t2 = T0 + dt.timedelta(hours=1), T0 + dt.timedelta(hours=2)
    async with store_engine.begin() as conn:
        await write_history(conn, [{"a": _address(i), "t": t1} for i in (1, 3)], [])
    async with store_engine.begin() as conn:  # a repeated release: the first closing time stays
        await write_history(conn, [{"a": _address(3), "t": t2}], [])
    rows = await _open_rows(store_engine)

    def at(i: int) -> dt.datetime | None:
        value = rows[_address(i)]
        if isinstance(value, str):  # SQLite returns text from a raw SELECT
            value = dt.datetime.fromisoformat(value)
        return value if value is None or value.tzinfo else value.replace(tzinfo=dt.UTC)

    assert at(1) == t1 and at(3) == t1
    assert all(at(i) is None for i in (0, 2, 4, 5, 6, 7, 8, 9))


async def test_closing_probes_the_address_index_on_postgresql(store_engine: AsyncEngine) -> None:
    """With thousands of open assignments and the statistics of an empty table (analyzed
    before they arrived, as after a fresh start with autovacuum behind), closing three rows
    must not read the others."""
    if store_engine.dialect.name != "postgresql":
        return  # SQLite: one UPDATE per address by the (address, assigned_at) index
    async with store_engine.begin() as conn:
        await conn.execute(sa.text("ANALYZE service_ip_assignments"))  # empty: stale from now on
        await write_history(conn, [], [_row(i) for i in range(OPEN)])
    plans: list[str] = []
    async with store_engine.begin() as conn:
        driver = await rawpg.driver(conn)

        def notice(_: asyncpg.Connection, message: asyncpg.PostgresLogMessage) -> None:
            plans.append(str(message))

        driver.add_log_listener(notice)
        try:
            for sql in (
                "LOAD 'auto_explain'",
                "SET LOCAL auto_explain.log_min_duration = 0",
                "SET LOCAL auto_explain.log_nested_statements = on",
                "SET LOCAL auto_explain.log_analyze = on",
                "SET LOCAL auto_explain.log_level = notice",
                "SET LOCAL client_min_messages = notice",
            ):
                await driver.execute(sql)
            await write_history(
                conn, [{"a": _address(i), "t": T0 + dt.timedelta(hours=1)} for i in (5, 50, 500)], []
            )
        finally:
            driver.remove_log_listener(notice)
    update = next(p for p in plans if "UPDATE service_ip_assignments" in p)
    assert "Index Scan using" in update, update
    assert "address_assigned_at" in update, update
    for scan_all in ("Seq Scan", "Bitmap Heap Scan", "Hash Join", "Materialize", "released_at_idx"):
        assert scan_all not in update, update
    assert len([p for p in plans if "UPDATE service_ip_assignments" in p]) == 3  # one probe each
    rows = await _open_rows(store_engine)
    assert sum(1 for v in rows.values() if v is not None) == 3
