"""Storage figures of the accounting history: ``radiusd db stats`` and ``/metrics``.

Cheap by construction, so it can run at every maintenance round: on PostgreSQL rows are the
planner's estimate (``pg_class.reltuples``, kept by ANALYZE / autovacuum) and bytes come from
the catalog (``pg_total_relation_size``: data, indexes and TOAST); oldest and newest are
min/max over an indexed time column. On SQLite rows are counted and bytes read from the
``dbstat`` table (when SQLite has it).

"Expected" is the size the table settles at under its retention, at the rate its stored rows
arrived: rows / days spanned x retention days, and bytes at the current bytes per row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from .partitions import BY_NAME
from .retention import Retention

#: the tables reported, with the indexed time column their oldest / newest rows are found by
TIME_COLUMNS = {
    "radius_interim_updates": "event_time",
    "radius_accounting": "stopped_at",
    "radius_accounting_events": "event_time",
    "service_ip_assignments": "released_at",  # open assignments (NULL) are not "old"
    "radius_interim_hourly": "hour",
    "radius_sessions": "started_at",
    "service_usage": None,
}


@dataclass(frozen=True, slots=True)
class PartitionStats:
    name: str
    rows: int
    bytes: int | None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "rows": self.rows, "bytes": self.bytes}


@dataclass(frozen=True, slots=True)
class TableStats:
    table: str
    rows: int
    bytes: int | None
    oldest: dt.datetime | None
    newest: dt.datetime | None
    retention_days: int | None
    partitions: list[PartitionStats] = field(default_factory=list)
    rows_estimated: bool = False

    @property
    def rows_per_day(self) -> float | None:
        if self.oldest is None or self.newest is None or not self.rows:
            return None
        days = max((self.newest - self.oldest).total_seconds() / 86_400, 1.0)
        return self.rows / days

    @property
    def expected_rows(self) -> int | None:
        rate = self.rows_per_day
        if rate is None or self.retention_days is None:
            return None
        return round(rate * self.retention_days)

    @property
    def expected_bytes(self) -> int | None:
        rows = self.expected_rows
        if rows is None or not self.bytes or not self.rows:
            return None
        return round(rows * self.bytes / self.rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "rows": self.rows,
            "rows_estimated": self.rows_estimated,
            "bytes": self.bytes,
            "oldest": self.oldest.isoformat() if self.oldest else None,
            "newest": self.newest.isoformat() if self.newest else None,
            "retention_days": self.retention_days,
            "rows_per_day": None if self.rows_per_day is None else round(self.rows_per_day, 1),
            "expected_rows": self.expected_rows,
            "expected_bytes": self.expected_bytes,
            "partitions": [p.to_json() for p in self.partitions],
        }


def _retention_days(table: str, retention: Retention) -> int | None:
    if table in BY_NAME:
        return retention.days(table)
    if table in ("radius_interim_hourly", "radius_sessions"):
        return retention.session if table == "radius_interim_hourly" else None
    return None


_PG_SIZES = sa.text(
    """
SELECT c.relname, c.relkind, greatest(c.reltuples, 0)::bigint AS rows,
       pg_total_relation_size(c.oid) AS bytes, c.reltuples < 0 AS unanalysed
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relname = :t
UNION ALL
SELECT c.relname, c.relkind, greatest(c.reltuples, 0)::bigint, pg_total_relation_size(c.oid),
       c.reltuples < 0
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
JOIN pg_namespace n ON n.oid = p.relnamespace
WHERE n.nspname = current_schema() AND p.relname = :t"""
)


async def storage_stats(engine: AsyncEngine, retention: Retention) -> list[TableStats]:
    """The figures of every history table (see the module docstring)."""
    out: list[TableStats] = []
    pg = engine.dialect.name == "postgresql"
    async with engine.connect() as conn:
        for table, column in TIME_COLUMNS.items():
            oldest = newest = None
            if column is not None:
                row = (await conn.execute(sa.text(f"SELECT min({column}), max({column}) FROM {table}"))).one()
                oldest, newest = (_aware(v) for v in row)
            if pg:
                rows = (await conn.execute(_PG_SIZES, {"t": table})).all()
                parent = next((r for r in rows if r.relname == table), None)
                children = [r for r in rows if r.relname != table]
                if children:
                    parts = [PartitionStats(r.relname, int(r.rows), int(r.bytes)) for r in children]
                    total_rows = sum(p.rows for p in parts)
                    total_bytes = sum(p.bytes or 0 for p in parts)
                else:
                    parts = []
                    total_rows = int(parent.rows) if parent is not None else 0
                    total_bytes = int(parent.bytes) if parent is not None else 0
                out.append(TableStats(table, total_rows, total_bytes, oldest, newest,
                                      _retention_days(table, retention), parts, True))  # fmt: skip
            else:
                count = int((await conn.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar() or 0)
                out.append(TableStats(table, count, await _sqlite_bytes(conn, table), oldest, newest,
                                      _retention_days(table, retention)))  # fmt: skip
    return out


async def _sqlite_bytes(conn: Any, table: str) -> int | None:
    """Pages of the table and its indexes (``dbstat``); None when SQLite lacks it."""
    try:
        value = (
            await conn.execute(
                sa.text(
                    "SELECT sum(pgsize) FROM dbstat WHERE name = :t OR name IN "
                    "(SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t)"
                ),
                {"t": table},
            )
        ).scalar()
    except sa.exc.OperationalError:
        await conn.rollback()
        return None
    return int(value or 0)


def _aware(value: Any) -> dt.datetime | None:
    """SQLite hands text back from a raw query; PostgreSQL aware datetimes."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return None
