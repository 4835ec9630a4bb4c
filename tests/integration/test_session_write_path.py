"""What an accounting request costs the session table (migration 0021), and who still finds rows.

- An Interim-Update's session and usage updates are HOT on PostgreSQL (no index entry) even
  when one batch updates every row of a page: rows on a page were inserted together, so their
  updates come together (fillfactor 50 leaves room for a new version of each).
- A Stop's update (never HOT: it changes ``status``) writes only the indexes closed rows need:
  three indexes are partial, and every query that reads them still uses them.
- The session write keeps the revision guard: a row another node changed is not written.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from radiusd.model.sessions import Change, InterimPoint, LiveSession, UsageDelta
from radiusd.policy.sessions import SessionTable
from radiusd.store.accounting_ops import AccountingOp
from radiusd.store.engine import create_engine, ensure_schema
from radiusd.store.models import RadiusSession
from radiusd.store.sessions_load import load_sessions
from radiusd.store.tables import core_table
from tests.integration.schema_helpers import downgrade_schema

T0 = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)
_S = core_table(RadiusSession)
#: index -> its condition (migration 0021); the other indexes of radius_sessions have none
PARTIAL = {
    "ix_radius_sessions_router_id": "status = 'open'",
    "ix_radius_sessions_nas_port_id": "status = 'open'",
    "ix_radius_sessions_closed_updated_at": "closed_updated_at IS NOT NULL",
}


def _change(table: SessionTable, i: int, phase: str) -> Change:
    """Session ``i``'s request of ``phase`` as the state machine makes it (counters grow)."""
    uid = f"sess-{i:05d}"
    secs = {"Start": 0, "Interim-Update": 300, "Stop": 600}[phase]
    now = T0 + dt.timedelta(seconds=secs)
    before = table.get(uid)
    closed = phase == "Stop"
    s = LiveSession(
        unique_id=uid, acct_session_id=uid, username=f"user{i}", nas_address="192.0.2.1",
        started_at=T0, updated_at=now, router_id=1, nas_port_id=f"ether1-{i}",
        framed_ip=f"100.64.{i // 250}.{i % 250}", session_time=secs,
        calling_station_id=f"02:00:00:00:{i // 256:02x}:{i % 256:02x}",
        input_octets=secs * 1000, output_octets=secs * 5000, status="closed" if closed else "open",
        stopped_at=now if closed else None, terminate_cause="User-Request" if closed else None,
    )  # fmt: skip
    ch = Change(table)
    ch.put(s)
    p = InterimPoint(uid, now, phase, secs, s.input_octets, s.output_octets, 0, 0)
    ch.interims.append(p)
    d_in = s.input_octets - (before.input_octets if before else 0)
    d_out = s.output_octets - (before.output_octets if before else 0)
    d_time = secs - (before.session_time if before else 0)
    ch.usage.append(UsageDelta(s.username, now.date(), d_in, d_out, d_time, int(phase == "Start"), p))
    return ch


async def _batch(conn: AsyncConnection, changes: list[Change]) -> list[AccountingOp]:
    ops = [AccountingOp(c) for c in changes]
    await AccountingOp.apply_batch(conn, ops)
    return ops


async def _write(engine: AsyncEngine, table: SessionTable, phase: str, ids: range, batch: int) -> None:
    """``phase`` of sessions ``ids``, one group commit per ``batch`` of them."""
    for first in range(ids.start, ids.stop, batch):
        changes = [_change(table, i, phase) for i in range(first, min(first + batch, ids.stop))]
        async with engine.begin() as conn:
            await _batch(conn, changes)
        for c in changes:
            c.committed()


async def _xact_updates(conn: AsyncConnection, relation: str) -> tuple[int, int]:
    """(updates, HOT updates) of ``relation`` in the current transaction."""
    row = (
        await conn.execute(
            sa.text("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = :r"),
            {"r": relation},
        )
    ).one()
    return int(row[0]), int(row[1])


async def test_interim_updates_of_whole_pages_are_hot(pg_url: str) -> None:
    """200 sessions started in batches of 50 fill whole pages; one batch of their 200
    Interim-Updates updates every row of those pages at once: each update must be HOT (at
    fillfactor 70, migration 0006, about half were not, and each wrote all eight indexes)."""
    engine = create_engine(pg_url)
    try:
        await ensure_schema(engine)
        table = SessionTable()
        await _write(engine, table, "Start", range(200), 50)
        changes = [_change(table, i, "Interim-Update") for i in range(200)]
        async with engine.connect() as conn:
            await conn.begin()
            await _batch(conn, changes)
            assert await _xact_updates(conn, "radius_sessions") == (200, 200)
            assert await _xact_updates(conn, "service_usage") == (200, 200)
            await conn.commit()
        for c in changes:
            c.committed()
        async with engine.connect() as conn:
            pages = (
                await conn.execute(
                    sa.text("SELECT count(DISTINCT (ctid::text::point)[0]) FROM radius_sessions")
                )
            ).scalar_one()
        assert pages > 2  # the batch spanned several pages: the test measures the fill, not one page
    finally:
        await engine.dispose()


async def test_a_changed_revision_is_not_written_and_a_missing_row_is(pg_url: str) -> None:
    """The revision guard of several daemons on one database: a session another node wrote
    since (its ``rev`` moved) is not written, its time-series row and usage neither, and it is
    marked stale; a session whose row is gone is written again (as the upsert did before)."""
    engine = create_engine(pg_url)
    try:
        await ensure_schema(engine)
        table = SessionTable()
        await _write(engine, table, "Start", range(3), 3)
        async with engine.begin() as conn:
            await conn.execute(
                sa.text("UPDATE radius_sessions SET rev = rev + 1 WHERE acct_unique_id = 'sess-00000'")
            )
            await conn.execute(sa.text("DELETE FROM radius_sessions WHERE acct_unique_id = 'sess-00002'"))
        changes = [_change(table, i, "Interim-Update") for i in range(3)]
        async with engine.begin() as conn:
            ops = await _batch(conn, changes)
        assert [op.change.stale for op in ops] == [True, False, False]
        async with engine.connect() as conn:
            rows = dict((await conn.execute(sa.select(_S.c.acct_unique_id, _S.c.session_time))).all())
            series = (
                await conn.execute(
                    sa.text(
                        "SELECT acct_unique_id FROM radius_interim_updates "
                        "WHERE status_type = 'Interim-Update'"
                    )
                )
            ).scalars()
            result = await conn.execute(sa.text("SELECT username, session_time FROM service_usage"))
            usage = {str(r[0]): int(r[1]) for r in result}
        assert rows == {"sess-00000": 0, "sess-00001": 300, "sess-00002": 300}
        assert sorted(series) == ["sess-00001", "sess-00002"]
        assert usage == {"user0": 0, "user1": 300, "user2": 300}
    finally:
        await engine.dispose()


async def _conditions(engine: AsyncEngine) -> dict[str, str | None]:
    """Each index of radius_sessions by name -> its condition (None: a full index)."""
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            rows = await conn.execute(
                sa.text(
                    "SELECT c.relname, pg_get_expr(i.indpred, i.indrelid) FROM pg_index i "
                    "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'radius_sessions'::regclass"
                )
            )
            # PostgreSQL prints status::text = 'open'::text
            return {
                n: None if p is None else p.replace("::text", "").replace("(", "").replace(")", "")
                for n, p in rows
            }
        rows = await conn.execute(
            sa.text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'radius_sessions'"
            )
        )
        out: dict[str, str | None] = {}
        for name, sql in rows:
            where = None if sql is None or " WHERE " not in sql else sql.split(" WHERE ", 1)[1]
            out[name] = where
        return out


async def test_partial_indexes_have_their_conditions(store_engine: AsyncEngine) -> None:
    found = await _conditions(store_engine)
    for name, condition in PARTIAL.items():
        assert found.get(name) == condition, name
    assert [n for n, c in found.items() if c is not None and n not in PARTIAL] == []
    assert "ix_radius_sessions_status_router_id" not in found


async def _plan(engine: AsyncEngine, sql: str) -> str:
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(sa.text("SET enable_seqscan = off"))
            lines = [str(r[0]) for r in await conn.execute(sa.text(f"EXPLAIN {sql}"))]
        else:
            lines = [str(r[-1]) for r in await conn.execute(sa.text(f"EXPLAIN QUERY PLAN {sql}"))]
        await conn.rollback()
    return "\n".join(lines)


def _sql(engine: AsyncEngine, stmt: Any) -> str:
    return str(stmt.compile(engine.sync_engine, compile_kwargs={"literal_binds": True}))


async def test_readers_of_open_or_closed_sessions_use_the_partial_indexes(store_engine: AsyncEngine) -> None:
    """Each query that reads a partial index implies its condition, so the planner may use it
    (a query that did not would scan radius_sessions, which keeps a year of closed sessions)."""
    since = T0 - dt.timedelta(hours=1)
    async with store_engine.begin() as conn:  # rows spread over 20 routers, half of them closed
        for i in range(400):
            await conn.execute(
                sa.insert(_S).values(
                    acct_unique_id=f"s{i}", acct_session_id=f"s{i}", username=f"u{i}",
                    nas_address="192.0.2.1", nas_port_id=f"ether1-{i}", router_id=i % 20,
                    started_at=T0, updated_at=T0,
                    status="closed" if i % 2 else "open", stopped_at=T0 if i % 2 else None,
                )
            )  # fmt: skip
        if store_engine.dialect.name == "postgresql":
            await conn.execute(sa.text("ANALYZE radius_sessions"))
        else:
            await conn.execute(sa.text("ANALYZE"))
    readers = {
        # a router's open sessions (radiusd.store.inventory), the API's online list
        "ix_radius_sessions_router_id": sa.select(_S.c.id).where(_S.c.router_id == 1, _S.c.status == "open"),
        # the web console's search by NAS port (radiusd.web.lookup)
        "ix_radius_sessions_nas_port_id": sa.select(_S.c.username).where(
            _S.c.nas_port_id == "ether1-7", _S.c.status == "open"
        ),
        # the daemon start's recently closed sessions (radiusd.store.sessions_load)
        "ix_radius_sessions_closed_updated_at": sa.select(_S.c.id).where(_S.c.closed_updated_at >= since),
    }
    for index, stmt in readers.items():
        plan = await _plan(store_engine, _sql(store_engine, stmt))
        assert index in plan, f"{index} not used:\n{plan}"
    # retention (radiusd.store.retention._delete_batches)
    plan = await _plan(
        store_engine, "SELECT id FROM radius_sessions WHERE closed_updated_at < '2026-01-01' LIMIT 10"
    )
    assert "ix_radius_sessions_closed_updated_at" in plan, plan
    if store_engine.dialect.name == "postgresql":
        # the daemon start reads open sessions and recently closed ones: one index for each side
        stmt = sa.select(_S).where(sa.or_(_S.c.status == "open", _S.c.closed_updated_at >= since))
        plan = await _plan(store_engine, _sql(store_engine, stmt))
        open_side = "ix_radius_sessions_router_id" in plan or "ix_radius_sessions_nas_port_id" in plan
        assert open_side and "ix_radius_sessions_closed_updated_at" in plan and "Seq Scan" not in plan, plan


async def test_sessions_still_found_after_stop(store_engine: AsyncEngine) -> None:
    """Open and closed sessions written through the writer are found by the daemon start's load
    (open ones, and closed ones since a time) whichever index holds them."""
    table = SessionTable()
    await _write(store_engine, table, "Start", range(6), 3)
    await _write(store_engine, table, "Stop", range(3), 3)
    async with store_engine.connect() as conn:
        loaded = await load_sessions(conn, T0)
        assert sorted((s.unique_id, s.status) for s in loaded) == [
            *((f"sess-{i:05d}", "closed") for i in range(3)),
            *((f"sess-{i:05d}", "open") for i in range(3, 6)),
        ]
        assert await load_sessions(conn, T0 + dt.timedelta(days=1)) != []  # open ones always
        assert {s.status for s in await load_sessions(conn, T0 + dt.timedelta(days=1))} == {"open"}
        by_port = (
            await conn.execute(
                sa.select(_S.c.username).where(_S.c.nas_port_id == "ether1-4", _S.c.status == "open")
            )
        ).scalars()
        assert list(by_port) == ["user4"]


async def test_migration_0021_up_and_down_on_a_filled_database(db_url: str) -> None:
    """Sessions open and closed at 0020 are found the same after 0021 and after its downgrade,
    and each step leaves the indexes (and on PostgreSQL the fillfactor) it promises."""
    engine = create_engine(db_url)
    postgresql = engine.dialect.name == "postgresql"

    async def fillfactor() -> str | None:
        if not postgresql:
            return None
        async with engine.connect() as conn:
            opts = (
                await conn.execute(
                    sa.text("SELECT reloptions FROM pg_class WHERE relname = 'radius_sessions'")
                )
            ).scalar_one()
        return None if opts is None else ",".join(opts)

    async def answers() -> tuple[list[Any], ...]:
        async with engine.connect() as conn:
            open_ = (
                await conn.execute(sa.select(_S.c.acct_unique_id).where(_S.c.status == "open"))
            ).scalars()
            closed = (
                await conn.execute(sa.select(_S.c.acct_unique_id).where(_S.c.closed_updated_at >= T0))
            ).scalars()
            port = (
                await conn.execute(
                    sa.select(_S.c.acct_unique_id).where(
                        _S.c.nas_port_id == "ether1-5", _S.c.status == "open"
                    )
                )
            ).scalars()
            return sorted(open_), sorted(closed), list(port)

    try:
        await ensure_schema(engine, "0020")
        async with engine.begin() as conn:
            for i in range(8):
                closed = i < 4
                await conn.execute(
                    sa.insert(_S).values(
                        acct_unique_id=f"s{i}", acct_session_id=f"s{i}", username=f"u{i}",
                        nas_address="192.0.2.1", nas_port_id=f"ether1-{i}", router_id=1, started_at=T0,
                        updated_at=T0 + dt.timedelta(minutes=i), status="closed" if closed else "open",
                        stopped_at=T0 if closed else None,
                    )
                )  # fmt: skip
        before = await answers()
        assert before == (["s4", "s5", "s6", "s7"], ["s0", "s1", "s2", "s3"], ["s5"])
        assert all(c is None for c in (await _conditions(engine)).values())
        await ensure_schema(engine)
        found = await _conditions(engine)
        assert {n: found.get(n) for n in PARTIAL} == PARTIAL
        assert await answers() == before
        assert await fillfactor() == ("fillfactor=50" if postgresql else None)
        await downgrade_schema(engine, "0020")
        found = await _conditions(engine)
        assert "ix_radius_sessions_status_router_id" in found and all(c is None for c in found.values())
        assert await answers() == before
        assert await fillfactor() == ("fillfactor=70" if postgresql else None)
    finally:
        await engine.dispose()


async def test_the_session_update_probes_the_index_even_in_a_generic_plan(pg_url: str) -> None:
    """The writer's statement is prepared once per connection, and PostgreSQL keeps a generic
    plan made with the statistics of that moment (remade only after ANALYZE): made on an empty
    table, a plain ``UPDATE ... FROM batch`` join became a hash join over a scan of
    radius_sessions, which a year of sessions later reads the whole table per batch. The
    statement finds each row by its unique key whatever the statistics say."""
    from radiusd.store.accounting_pg import _PG_BATCH

    engine = create_engine(pg_url)
    try:
        await ensure_schema(engine)
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            await raw.execute(
                "PREPARE batch (radiusd_acct_session_row[], radiusd_acct_point_row[], INT4[], "
                f"radiusd_acct_delta_row[], TEXT[]) AS {_PG_BATCH}"
            )
            await raw.execute("SET plan_cache_mode = force_generic_plan")
            rows = await raw.fetch("EXPLAIN EXECUTE batch('{}', '{}', '{}', '{}', '{}')")
            plan = "\n".join(r[0] for r in rows)
        assert "Update on radius_sessions" in plan
        assert "Seq Scan on radius_sessions" not in plan, plan
        assert "Index Scan using uq_radius_sessions_acct_unique_id on radius_sessions x" in plan, plan
    finally:
        await engine.dispose()


async def test_sessions_opened_and_closed_are_announced_by_the_batch_statement(pg_url: str) -> None:
    """The batch statement itself sends the NOTIFY (no round trip of its own): delivered to a
    listener at commit, naming the node and the sessions a Start opened or a Stop closed, not
    those an Interim-Update only updated; nothing before the commit."""
    import asyncio

    import asyncpg

    from radiusd.store.accounting_pg import SESSION_CHANNEL
    from radiusd.store.lease_feed import asyncpg_dsn

    engine = create_engine(pg_url)
    await ensure_schema(engine)
    heard: list[str] = []
    listener = await asyncpg.connect(asyncpg_dsn(engine.url))
    await listener.add_listener(SESSION_CHANNEL, lambda *args: heard.append(args[3]))
    table = SessionTable()

    async def phase(name: str, ids: range) -> list[str]:
        heard.clear()
        changes = [_change(table, i, name) for i in ids]
        async with engine.begin() as conn:
            await AccountingOp.apply_batch(conn, [AccountingOp(c, node="node-a") for c in changes])
            await asyncio.sleep(0.2)
            assert heard == []  # delivered at commit, not before
        for c in changes:
            c.committed()
        for _ in range(50):
            if heard:
                break
            await asyncio.sleep(0.02)
        return heard[:]

    try:
        assert await phase("Start", range(3)) == ["node-a|sess-00000,sess-00001,sess-00002"]
        assert await phase("Interim-Update", range(3)) == []
        assert await phase("Stop", range(1, 3)) == ["node-a|sess-00001,sess-00002"]
    finally:
        await listener.close()
        await engine.dispose()
