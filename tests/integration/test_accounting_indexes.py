"""The accounting tables carry only the indexes a query reads (migration 0020).

Every accounting request writes its time-series row and its session row, every Stop a closed
record: each index of these tables is paid on the write path. The expected sets below name the
query that needs each index; a new index (or a forgotten drop) fails here until it names one.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

#: per table: index columns -> the query that reads it (both backends; the PostgreSQL unique
#: keys of partitioned tables live on each partition and are listed in ``PG_PARTITION_UNIQUE``)
EXPECTED: dict[str, dict[tuple[str, ...], str]] = {
    "radius_accounting": {
        ("acct_unique_id", "started_at"): "the writer's upsert of the closed record (PostgreSQL key)",
        ("acct_unique_id",): "the writer's upsert of the closed record (SQLite key)",
        ("stopped_at",): "export sessions --from --to; retention on SQLite",
    },
    "radius_interim_updates": {
        ("event_time",): "export usage periods, retention, db stats oldest / newest",
        ("session_id", "status_type", "session_time", "input_octets", "output_octets"): (
            "the writer's ON CONFLICT DO NOTHING (a retransmission is one row), a session's series"
        ),
    },
    "radius_sessions": {
        ("id",): "the time series' session_id, reports' joins, CoA by session id",
        ("acct_unique_id",): "the writer's upsert",
        ("username",): "CoA / disconnect by user, Simultaneous-Use refs",
        ("router_id",): "session list --online, a router's open sessions (open rows only)",
        ("framed_ip", "started_at"): "lease history ADDRESS --at",
        ("closed_updated_at",): "daemon start (recently closed sessions), retention (closed rows only)",
        ("calling_station_id",): "the web console's search by MAC (radiusd.web.lookup)",
        ("nas_port_id",): "the web console's search by NAS port (radiusd.web.lookup; open rows only)",
    },
    "service_ip_assignments": {
        ("address", "assigned_at"): "lease history ADDRESS [--at], closing a row at release",
        ("released_at",): "retention on SQLite (PostgreSQL drops its partitions whole)",
    },
}


async def _indexes(engine: AsyncEngine, table: str) -> set[tuple[str, ...]]:
    """The column lists of every index of ``table`` (PostgreSQL: of the parent or, for a
    partitioned table, of its default partition, which holds the per-partition keys too)."""
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            partitioned = (
                await conn.execute(
                    sa.text("SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table}
                )
            ).scalar()
            target = f"{table}_default" if partitioned else table
            rows = await conn.execute(
                sa.text(
                    "SELECT array_agg(a.attname ORDER BY k.n) FROM pg_index i "
                    "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) "
                    "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
                    "WHERE i.indrelid = to_regclass(:t) GROUP BY i.indexrelid"
                ),
                {"t": target},
            )
            return {tuple(r[0]) for r in rows}

        def inspect(sync: sa.Connection) -> set[tuple[str, ...]]:
            insp = sa.inspect(sync)
            found = {tuple(str(c) for c in ix["column_names"]) for ix in insp.get_indexes(table)}
            found |= {tuple(u["column_names"]) for u in insp.get_unique_constraints(table)}
            found.add(tuple(insp.get_pk_constraint(table)["constrained_columns"]))
            return found

        return await conn.run_sync(inspect)


async def test_each_accounting_index_names_the_query_that_reads_it(store_engine: AsyncEngine) -> None:
    postgresql = store_engine.dialect.name == "postgresql"
    for table, expected in EXPECTED.items():
        found = await _indexes(store_engine, table)
        allowed = set(expected)
        if table == "radius_accounting":
            # SQLite: the id primary key (the rowid) and the unique acct_unique_id; PostgreSQL:
            # neither (migration 0016 widened the key by started_at, 0020 dropped the id key)
            allowed -= {("acct_unique_id", "started_at")} if not postgresql else {("acct_unique_id",)}
            if not postgresql:
                allowed.add(("id",))
        if table == "radius_interim_updates" and not postgresql:
            allowed.add(("id",))  # the rowid
        if table == "service_ip_assignments":
            # SQLite: the id primary key; PostgreSQL: no key (released_at, its partition key, is
            # NULL while held) and no released_at index (migration 0020)
            allowed ^= {("released_at",)} if postgresql else {("id",)}
        assert found == allowed, f"{table}: unexpected {found - allowed}, missing {allowed - found}"


async def test_no_foreign_key_check_per_time_series_row_on_postgresql(store_engine: AsyncEngine) -> None:
    """PostgreSQL would run a ``SELECT ... FOR KEY SHARE`` of the session row for every
    time-series row; the writer takes the id from the row it writes in the same statement."""
    if store_engine.dialect.name != "postgresql":
        return  # SQLite declares it and does not enforce it (PRAGMA foreign_keys is off)
    async with store_engine.connect() as conn:
        fks = await conn.execute(
            sa.text(
                "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid IN "
                "(SELECT to_regclass('radius_interim_updates') UNION "
                "SELECT inhrelid FROM pg_inherits WHERE inhparent = to_regclass('radius_interim_updates'))"
            )
        )
        assert fks.all() == []
