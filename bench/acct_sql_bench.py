"""PostgreSQL's own cost of the accounting batch statement, without the daemon.

Usage: python3 bench/acct_sql_bench.py [--sessions 10000] [--batch 64] [--explain]
                                       [--keep] [--repeat 1]

Writes Start, Interim-Update and Stop of ``--sessions`` sessions through the store's writer
operation (radiusd.store.accounting_ops.AccountingOp.apply_batch, the code under PYTHONPATH)
in group commits of ``--batch`` requests, on a fresh database migrated by ``radiusd db
upgrade``, and reports per phase the CPU of the PostgreSQL backend that ran them (its
/proc/PID/schedstat, so no other client of the shared server is counted) and the WAL bytes
per request: ``pg_current_wal_lsn()`` (server-wide) and this database's records alone
(pg_walinspect, with the share of full-page images). ``--explain`` prints EXPLAIN (ANALYZE,
BUFFERS, WAL) of one batch per phase (rolled back), which names the node each row's cost is in.

Sessions come in the order they started, as a NAS's interims do: a batch updates neighbouring
rows, which is what decides whether updates can be HOT (room on the page). Meant for A/B runs of
schema or statement changes: run it with PYTHONPATH set to each tree in turn.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import postgres_database, radiusd

from radiusd.model.sessions import Change, InterimPoint, LiveSession, UsageDelta
from radiusd.policy.sessions import SessionTable
from radiusd.store import rawpg
from radiusd.store.accounting_ops import AccountingOp

T0 = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)
PHASES = ("Start", "Interim-Update", "Stop")


def _change(table: SessionTable, i: int, phase: str) -> Change:
    """Session ``i``'s request of ``phase``, as the state machine would make it."""
    uid = f"{i:016x}"
    user = f"user{i:06d}"
    secs = {"Start": 0, "Interim-Update": 300, "Stop": 600}[phase]
    now = T0 + dt.timedelta(seconds=secs)
    ins, outs = secs * (1000 + i), secs * (5000 + i)
    before = table.get(uid)
    ch = Change(table)
    s = LiveSession(
        unique_id=uid, acct_session_id=f"81{i:06X}", username=user, nas_address="127.0.0.1",
        started_at=T0, updated_at=now, router_id=1, subscriber_id=i + 1, nas_port=i,
        nas_port_type="Ethernet", framed_ip=f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
        calling_station_id=f"02:00:{i >> 24 & 255:02x}:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
        session_time=secs, input_octets=ins, output_octets=outs, input_packets=ins // 1000,
        output_packets=outs // 1000, interim_interval=300,
        status="closed" if phase == "Stop" else "open",
        stopped_at=now if phase == "Stop" else None,
        terminate_cause="User-Request" if phase == "Stop" else None,
    )  # fmt: skip
    ch.put(s)
    p = InterimPoint(uid, now, phase, secs, ins, outs, ins // 1000, outs // 1000)
    ch.interims.append(p)
    d_in = ins - (before.input_octets if before else 0)
    d_out = outs - (before.output_octets if before else 0)
    d_time = secs - (before.session_time if before else 0)
    ch.usage.append(UsageDelta(user, now.date(), d_in, d_out, d_time, 1 if phase == "Start" else 0, p))
    return ch


def _schedstat(pid: int) -> float:
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


async def _wal(conn: AsyncConnection) -> int:
    return int((await conn.execute(sa.text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))).scalar_one())


async def _lsn(conn: AsyncConnection) -> str:
    return str((await conn.execute(sa.text("SELECT pg_current_wal_lsn()::text"))).scalar_one())


async def _own_wal(conn: AsyncConnection, start: str, end: str) -> tuple[int, int]:
    """(bytes, of which full-page images) of the WAL records between ``start`` and ``end`` that
    touch this database's blocks (pg_walinspect): the server-wide LSN difference counts every
    other database's writes too. Commit records (no block) are left out: one per batch."""
    flushed = "SELECT pg_current_wal_flush_lsn() >= CAST(CAST(:b AS text) AS pg_lsn)"
    for _ in range(100):  # synchronous_commit off (--set): the WAL writer may be behind
        if (await conn.execute(sa.text(flushed), {"b": end})).scalar_one():
            break
        await asyncio.sleep(0.05)
    sql = (
        "SELECT coalesce(sum(record_length), 0), coalesce(sum(fpi_length), 0) "
        "FROM pg_get_wal_records_info(CAST(CAST(:a AS text) AS pg_lsn), CAST(CAST(:b AS text) AS pg_lsn)) "
        "WHERE block_ref LIKE '%/' || (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "|| '/%'"
    )
    row = (await conn.execute(sa.text(sql), {"a": start, "b": end})).one()
    return int(row[0]), int(row[1])


async def _explain(conn: AsyncConnection, ops: list[AccountingOp]) -> None:
    """EXPLAIN (ANALYZE, BUFFERS, WAL) of the batch statement ``ops`` would send (rolled back)."""
    captured: dict[str, Any] = {}
    real = rawpg.driver

    async def spy(c: AsyncConnection) -> Any:
        pg = await real(c)

        class Proxy:
            async def fetchrow(self, sql: str, *args: Any) -> Any:
                captured["sql"], captured["args"] = sql, args
                return await pg.fetchrow(sql, *args)

        return Proxy()

    setattr(rawpg, "driver", spy)  # noqa: B010  (accounting_pg calls rawpg.driver)
    try:
        await conn.commit()
        async with conn.begin() as tx:
            await AccountingOp.apply_batch(conn, ops)
            await tx.rollback()
    finally:
        setattr(rawpg, "driver", real)  # noqa: B010
    async with conn.begin() as tx:
        pg = await rawpg.driver(conn)
        explain = "EXPLAIN (ANALYZE, BUFFERS, WAL, COSTS OFF) " + captured["sql"]
        rows = await pg.fetch(explain, *captured["args"])
        print("\n".join(r[0] for r in rows), file=sys.stderr)
        await tx.rollback()


async def run(url: str, args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    engine = create_async_engine(url)
    table = SessionTable()
    out: dict[str, tuple[float, float]] = {}
    try:
        async with engine.connect() as conn:
            pid = int((await conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one())
            if args.auto_explain:  # plans of the batches past the 10th (generic plans), to the client
                for sql in ("LOAD 'auto_explain'", "SET auto_explain.log_min_duration = 0",
                            "SET auto_explain.log_analyze = on", "SET auto_explain.log_buffers = on",
                            "SET client_min_messages = log"):  # fmt: skip
                    await conn.execute(sa.text(sql))
                raw = (await conn.get_raw_connection()).driver_connection
                assert raw is not None
                seen = [0]

                def log(_c: Any, msg: Any) -> None:
                    seen[0] += 1
                    if seen[0] % 50 == 10 and "Insert on radius_interim_updates" in str(msg):
                        print(msg, file=sys.stderr)

                raw.add_log_listener(log)
            for sql in args.sql:  # schema experiments (e.g. a table's fillfactor) before the run
                await conn.execute(sa.text(sql))
            await conn.commit()
            for setting in args.set:
                name, _, value = setting.partition("=")
                await conn.execute(sa.text(f"SET {name} = '{value}'"))
            await conn.commit()
            for phase in PHASES:
                if args.explain:
                    mid = args.sessions // 2  # a batch from the middle of the table
                    changes = [_change(table, i, phase) for i in range(mid, mid + args.batch)]
                    print(f"-- {phase}: EXPLAIN of one batch of {args.batch}", file=sys.stderr)
                    await _explain(conn, [AccountingOp(c) for c in changes])
                    for c in reversed(changes):
                        c.rollback()
                wal0, lsn0 = await _wal(conn), await _lsn(conn)
                await conn.commit()
                cpu0 = _schedstat(pid)
                for first in range(0, args.sessions, args.batch):
                    last = min(first + args.batch, args.sessions)
                    changes = [_change(table, i, phase) for i in range(first, last)]
                    async with conn.begin():  # one group commit
                        await AccountingOp.apply_batch(conn, [AccountingOp(c) for c in changes])
                    for c in changes:
                        c.committed()
                cpu, wal = _schedstat(pid) - cpu0, await _wal(conn) - wal0
                own, fpi = await _own_wal(conn, lsn0, await _lsn(conn))
                await conn.commit()
                out[phase] = (cpu / args.sessions * 1e6, wal / args.sessions)
                us, wal_b = out[phase]
                print(
                    f"{phase}: PostgreSQL backend {us:.1f} µs/req, WAL {wal_b:,.0f} B/req (server-wide), "
                    f"this database's {own / args.sessions:,.0f} B/req "
                    f"({fpi / args.sessions:,.0f} in full-page images)",
                    file=sys.stderr,
                )
            plans = await conn.execute(
                sa.text(
                    "SELECT generic_plans, custom_plans, left(statement, 40) FROM pg_prepared_statements "
                    "WHERE statement LIKE 'WITH r AS%'"
                )
            )
            for generic, custom, text in plans:  # a custom plan is planned again at every batch
                print(f"  prepared {text!r}...: {generic} generic, {custom} custom plans", file=sys.stderr)
            await conn.commit()
            await asyncio.sleep(1.5)  # the backend's table statistics reach pg_stat once it is idle
            rows = await conn.execute(
                sa.text(
                    "SELECT coalesce(i.inhparent::regclass::text, t.relname), sum(n_tup_ins), "
                    "sum(n_tup_upd), sum(n_tup_hot_upd) FROM pg_stat_user_tables t "
                    "LEFT JOIN pg_inherits i ON i.inhrelid = t.relid "
                    "GROUP BY 1 HAVING sum(n_tup_ins) + sum(n_tup_upd) > 0 ORDER BY 1"
                )
            )
            for r in rows:
                print(f"  {r[0]}: {r[1]} inserted, {r[2]} updated ({r[3]} HOT)", file=sys.stderr)
            await conn.commit()
            if args.keep:
                await asyncio.to_thread(input, f"database {url} kept: press Enter to drop it ")
    finally:
        await engine.dispose()
    return out


def radiusd_sql(url: str, sql: str) -> None:
    async def run_one() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.text(sql))
        finally:
            await engine.dispose()

    asyncio.run(run_one())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, default=10_000)
    p.add_argument("--batch", type=int, default=64, help="requests per group commit (default 64)")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE one batch per phase")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a session setting")
    p.add_argument("--auto-explain", action="store_true", help="print a few batches' plans as run")
    p.add_argument("--sql", action="append", default=[], help="a statement to run before the phases")
    p.add_argument("--keep", action="store_true", help="wait before dropping the database")
    args = p.parse_args()
    for _ in range(args.repeat):
        with postgres_database() as url:
            radiusd(url, "db", "upgrade")
            radiusd_sql(url, "CREATE EXTENSION IF NOT EXISTS pg_walinspect")
            t = time.perf_counter()
            asyncio.run(run(url, args))
            print(f"({time.perf_counter() - t:.1f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
