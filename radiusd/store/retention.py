"""Keeping the accounting history bounded: partitions ahead, expired history out, hourly sums.

:func:`maintain` is what the daemon runs at start and then every :data:`MAINTAIN_EVERY`
seconds, off the request path, on an engine of its own (no statement timeout: rolling up a day
of interim updates at ISP scale takes longer than a request may).

PostgreSQL (radiusd.store.partitions): under a session-level advisory lock, so with several
nodes on one database one of them does it and the others skip that round:

1. every partition from the oldest still within retention to :attr:`PartitionedTable.ahead`
   periods past now exists (a period missed while no node ran is created too);
2. with ``interim_downsample_after``, each UTC day of interim detail older than that is summed
   per session and hour into ``radius_interim_hourly`` once (``radius_interim_rollups``);
3. a partition whose whole range is older than its retention is detached and dropped: rows are
   kept at least their retention and at most one partition width longer;
4. the default partitions (rows whose time had no partition), the hourly sums and the rows of
   sessions closed longer ago than ``session_retention`` (``radius_sessions``) lose their
   expired rows in batches.

Creating a partition does not block the writer (CREATE, then ATTACH). Dropping one needs a
moment's exclusive lock of its parent: DDL waits at most :data:`LOCK_TIMEOUT` for the writer's
short transactions (whose inserts queue behind it meanwhile), and is retried next round
otherwise.

SQLite: the same retention, as DELETEs of :data:`BATCH` rows per transaction, yielding to the
event loop between batches so the writer keeps its turn. Closed records are aged by
``stopped_at`` there (the indexed time), by ``started_at`` partitions on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .partitions import (
    BY_NAME,
    INTERIMS,
    IS_PARTITIONED_SQL,
    LIST_PARTITIONS_SQL,
    TABLES,
    PartitionedTable,
    create_partition_sql,
    utc_midnight,
)

MAINTAIN_EVERY = 3600.0  # seconds between rounds
BATCH = 1_000  # rows per DELETE transaction (SQLite, default partitions, hourly sums)
#: how long DDL waits for a lock before it gives up until the next round: while it waits, the
#: writer's inserts queue behind it (detaching a partition locks its parent out briefly)
LOCK_TIMEOUT = "500ms"
#: pg_try_advisory_lock key of the maintenance ("radm" in ASCII)
ADVISORY_KEY = 0x7261646D
ROLLUP_DAYS_PER_ROUND = 40  # a first run after enabling downsampling catches up over rounds

#: the time each table is aged by on SQLite (indexed columns; NULL never expires)
SQLITE_KEY = {
    "radius_interim_updates": "event_time",
    "radius_accounting": "stopped_at",
    "radius_accounting_events": "event_time",
    "service_ip_assignments": "released_at",
}


@dataclass(frozen=True, slots=True)
class Retention:
    """Days each history is kept (the ``*_retention`` settings) and the downsampling age."""

    interim: int = 35
    session: int = 400
    assignment_history: int = 400
    events: int = 400
    interim_downsample_after: int = 0  # 0: off

    @classmethod
    def from_settings(cls, settings: Any) -> Retention:
        return cls(
            settings.interim_retention,
            settings.session_retention,
            settings.assignment_history_retention,
            settings.events_retention,
            settings.interim_downsample_after,
        )

    def days(self, table: PartitionedTable | str) -> int:
        name = table if isinstance(table, str) else table.name
        setting = BY_NAME[name].retention
        return {
            "interim_retention": self.interim,
            "session_retention": self.session,
            "assignment_history_retention": self.assignment_history,
            "events_retention": self.events,
        }[setting]

    def cutoff(self, table: PartitionedTable | str, now: dt.datetime) -> dt.datetime:
        return now - dt.timedelta(days=self.days(table))


@dataclass
class MaintenanceReport:
    """What one round did; ``skipped``: another node held the lock (PostgreSQL)."""

    skipped: bool = False
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    deleted: dict[str, int] = field(default_factory=dict)
    rolled_up: list[dt.date] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "what: error", retried next round
    seconds: dict[str, float] = field(default_factory=dict)  # create, drop, delete, rollup

    def timed(self, what: str, started: float) -> None:
        self.seconds[what] = self.seconds.get(what, 0.0) + time.perf_counter() - started


async def maintain(
    engine: AsyncEngine, retention: Retention, now: dt.datetime | None = None
) -> MaintenanceReport:
    """One round of maintenance (see the module docstring); ``now`` for tests."""
    now = now if now is not None else dt.datetime.now(dt.UTC)
    report = MaintenanceReport()
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            got = (
                await conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY})
            ).scalar()
            await conn.commit()
            if not got:
                report.skipped = True
                return report
            try:
                await conn.execute(sa.text(f"SET lock_timeout = '{LOCK_TIMEOUT}'"))
                await conn.commit()
                await _maintain_postgresql(conn, retention, now, report)
            finally:
                await conn.execute(sa.text("RESET lock_timeout"))
                await conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                await conn.commit()
    else:
        await _maintain_sqlite(engine, retention, now, report)
    return report


async def list_partitions(conn: AsyncConnection, table: PartitionedTable) -> dict[dt.date, str]:
    """The partitions of ``table`` named by their range (start -> name); the default is left out."""
    rows = (await conn.execute(sa.text(LIST_PARTITIONS_SQL), {"parent": table.name})).all()
    out: dict[dt.date, str] = {}
    for name, is_default in rows:
        start = None if is_default else table.start_of(name)
        if start is not None:
            out[start] = name
    return out


async def is_partitioned(conn: AsyncConnection, table: str) -> bool:
    return bool((await conn.execute(sa.text(IS_PARTITIONED_SQL), {"name": table})).scalar())


def _expired(table: PartitionedTable, start: dt.date, cutoff: dt.datetime) -> bool:
    return utc_midnight(table.next(start)) <= cutoff


async def _maintain_postgresql(
    conn: AsyncConnection, retention: Retention, now: dt.datetime, report: MaintenanceReport
) -> None:
    await conn.commit()
    for table in TABLES:
        if not await is_partitioned(conn, table.name):
            await conn.commit()
            continue  # not migrated yet
        existing = await list_partitions(conn, table)
        await conn.commit()
        cutoff = retention.cutoff(table, now)
        last = table.floor(now)
        for _ in range(table.ahead):
            last = table.next(last)
        first = min([*existing, table.floor(now)])
        started = time.perf_counter()
        for start in table.starts(first, last):
            if start in existing or _expired(table, start, cutoff):
                continue
            try:
                async with conn.begin():
                    for sql in create_partition_sql(table, start):
                        await conn.execute(sa.text(sql))
                report.created.append(table.partition_name(start))
            except sa.exc.DBAPIError as exc:
                report.failed.append(f"create {table.partition_name(start)}: {_short(exc)}")
        report.timed("create", started)
        rolled: set[dt.date] | None = None  # None: every expired day may go
        if table is INTERIMS and retention.interim_downsample_after:
            rolled = await _rollups(conn, retention, now, report, sorted(existing))
        started = time.perf_counter()
        for start, name in sorted(existing.items()):
            if not _expired(table, start, cutoff):
                continue
            if rolled is not None and start not in rolled:
                report.failed.append(f"drop {name}: kept until its hourly sums are written")
                continue
            try:
                async with conn.begin():
                    await conn.execute(sa.text(f"ALTER TABLE {table.name} DETACH PARTITION {name}"))
                    await conn.execute(sa.text(f"DROP TABLE {name}"))
                report.dropped.append(name)
            except sa.exc.DBAPIError as exc:
                report.failed.append(f"drop {name}: {_short(exc)}")
        report.timed("drop", started)
        started = time.perf_counter()
        deleted = await _delete_batches(conn, table.default_name, table.key, cutoff, "ctid")
        if deleted:
            report.deleted[table.default_name] = deleted
        report.timed("delete", started)
    await _expire_rows(conn, retention, now, report, "ctid")


async def _delete_batches(
    conn: AsyncConnection, table: str, column: str, cutoff: dt.datetime, rowid: str
) -> int:
    """DELETE rows of ``table`` whose ``column`` is before ``cutoff``, :data:`BATCH` per
    transaction, yielding between batches."""
    sql = sa.text(
        f"DELETE FROM {table} WHERE {rowid} IN (SELECT {rowid} FROM {table} WHERE {column} < :cutoff "
        f"LIMIT {BATCH})"
    ).bindparams(sa.bindparam("cutoff", type_=_utc()))
    total = 0
    while True:
        async with conn.begin():
            n = (await conn.execute(sql, {"cutoff": cutoff})).rowcount
        total += n
        if n < BATCH:
            return total
        await asyncio.sleep(0)


def _utc() -> Any:
    from .models import UTCDateTime

    return UTCDateTime()


async def _maintain_sqlite(
    engine: AsyncEngine, retention: Retention, now: dt.datetime, report: MaintenanceReport
) -> None:
    async with engine.connect() as conn:
        unrolled: dt.date | None = None  # the first day whose detail must stay for its sums
        if retention.interim_downsample_after:
            oldest = (
                await conn.execute(sa.text("SELECT min(event_time) FROM radius_interim_updates"))
            ).scalar()
            await conn.commit()
            days: list[dt.date] = []
            if oldest is not None:
                first = dt.date.fromisoformat(str(oldest)[:10])
                days = list(INTERIMS.starts(first, now.date()))
            rolled = await _rollups(conn, retention, now, report, days)
            unrolled = next((d for d in days if d not in rolled), None)
        for table in TABLES:
            started = time.perf_counter()
            cutoff = retention.cutoff(table, now)
            if table is INTERIMS and unrolled is not None:
                cutoff = min(cutoff, utc_midnight(unrolled))
            deleted = await _delete_batches(conn, table.name, SQLITE_KEY[table.name], cutoff, "rowid")
            if deleted:
                report.deleted[table.name] = deleted
            report.timed("delete", started)
        await _expire_rows(conn, retention, now, report, "rowid")


async def _expire_rows(
    conn: AsyncConnection, retention: Retention, now: dt.datetime, report: MaintenanceReport, rowid: str
) -> None:
    """The hourly sums, and the rows of sessions closed (``closed_updated_at``, indexed), are
    kept as long as the closed session records."""
    cutoff = now - dt.timedelta(days=retention.session)
    deleted = await _delete_batches(conn, "radius_sessions", "closed_updated_at", cutoff, rowid)
    if deleted:
        report.deleted["radius_sessions"] = deleted
    deleted = await _delete_batches(conn, "radius_interim_hourly", "hour", cutoff, rowid)
    if deleted:
        report.deleted["radius_interim_hourly"] = deleted
    async with conn.begin():
        await conn.execute(
            sa.text("DELETE FROM radius_interim_rollups WHERE day < :day"), {"day": cutoff.date()}
        )


# -- downsampling ---------------------------------------------------------------------------


def _rollup_sql(dialect: str) -> sa.TextClause:
    if dialect == "postgresql":
        hour = "date_trunc('hour', event_time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    else:  # SQLite keeps UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'
        hour = "strftime('%Y-%m-%d %H:00:00.000000', event_time)"

    def delta(col: str, prev: str) -> str:
        # a counter that went down (NAS reset) starts again from zero: never negative
        return f"CASE WHEN {prev} IS NULL OR {col} < {prev} THEN {col} ELSE {col} - {prev} END"

    return sa.text(
        "INSERT INTO radius_interim_hourly "
        "(session_id, acct_unique_id, hour, input_octets, output_octets, session_time, samples) "
        "SELECT session_id, min(acct_unique_id), hour, sum(d_in), sum(d_out), sum(d_time), count(*) FROM ("
        f"SELECT session_id, acct_unique_id, event_time, {hour} AS hour, "
        f"{delta('input_octets', 'p_in')} AS d_in, {delta('output_octets', 'p_out')} AS d_out, "
        f"{delta('session_time', 'p_time')} AS d_time FROM ("
        "SELECT session_id, acct_unique_id, event_time, input_octets, output_octets, session_time, "
        "lag(input_octets) OVER w AS p_in, lag(output_octets) OVER w AS p_out, "
        "lag(session_time) OVER w AS p_time FROM radius_interim_updates "
        "WHERE event_time >= :before AND event_time < :hi "
        "WINDOW w AS (PARTITION BY session_id ORDER BY id)) l WHERE event_time >= :lo) d "
        "GROUP BY session_id, hour "
        "ON CONFLICT (session_id, hour) DO UPDATE SET input_octets = excluded.input_octets, "
        "output_octets = excluded.output_octets, session_time = excluded.session_time, "
        "samples = excluded.samples"
    ).bindparams(
        sa.bindparam("before", type_=_utc()),
        sa.bindparam("lo", type_=_utc()),
        sa.bindparam("hi", type_=_utc()),
    )


async def _rollups(
    conn: AsyncConnection,
    retention: Retention,
    now: dt.datetime,
    report: MaintenanceReport,
    days: list[dt.date],
) -> set[dt.date]:
    """Sum each day of ``days`` older than ``interim_downsample_after`` not yet summed. The
    previous day is read too, so a day's first update has the one before it to subtract.
    The days summed, now or before."""
    started = time.perf_counter()
    limit = utc_midnight(now.date()) - dt.timedelta(days=retention.interim_downsample_after)
    done = {
        row[0] if isinstance(row[0], dt.date) else dt.date.fromisoformat(str(row[0]))
        for row in await conn.execute(sa.text("SELECT day FROM radius_interim_rollups"))
    }
    await conn.commit()
    stmt = _rollup_sql(conn.dialect.name)
    mark = sa.text(
        "INSERT INTO radius_interim_rollups (day, rolled_at, rows) VALUES (:day, :at, :rows)"
    ).bindparams(sa.bindparam("at", type_=_utc()), sa.bindparam("day", type_=sa.Date()))
    todo = [d for d in days if d not in done and utc_midnight(d) + dt.timedelta(days=1) <= limit]
    for day in todo[:ROLLUP_DAYS_PER_ROUND]:
        lo = utc_midnight(day)
        try:
            async with conn.begin():
                n = (await conn.execute(
                    stmt, {"before": lo - dt.timedelta(days=1), "lo": lo, "hi": lo + dt.timedelta(days=1)}
                )).rowcount  # fmt: skip
                await conn.execute(mark, {"day": day, "at": now, "rows": max(n, 0)})
            report.rolled_up.append(day)
            done.add(day)
        except sa.exc.DBAPIError as exc:
            report.failed.append(f"rollup {day}: {_short(exc)}")
    report.timed("rollup", started)
    return done


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
