"""Accounting write path: only the indexes a query reads, no foreign-key check per interim row,
closing assignment history by index, room for HOT updates of lease rows

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07

Every index of a table that grows with traffic is written by every row: a Stop inserted its
closed record into five indexes of ``radius_accounting``, and every accounting request its
time-series row into three of ``radius_interim_updates``. Each index must name the query that
reads it; these name none, so they go:

- ``ix_radius_accounting_username`` and ``ix_radius_accounting_framed_ip_started_at`` (both
  backends): nothing selects closed records by user or address (``export sessions`` reads them
  by ``stopped_at``, ``lease history`` reads ``service_ip_assignments`` and
  ``radius_sessions``, the usage reports read the time series and ``service_usage``);
- ``ix_service_ip_assignments_username`` (both backends): ``lease history`` reads the history
  by address; a release moves the row to its month's partition, which wrote this index again;
- PostgreSQL: the primary keys ``(id, started_at)`` of ``radius_accounting`` and
  ``(id, event_time)`` of ``radius_interim_updates`` (migration 0016 widened them by the
  partition key, so they were no longer keys of ``id`` anyway). No query looks a row up by
  ``id``; the rows stay identified by their unique keys ((acct_unique_id, started_at), and
  the per-partition retransmit key). ``id`` keeps its sequence (ordering, exports).

On PostgreSQL the foreign key from ``radius_interim_updates.session_id`` to
``radius_sessions`` goes too: it ran a lookup with a row lock (``SELECT ... FOR KEY SHARE``)
per time-series row, about 10 µs of PostgreSQL CPU per accounting request, to check an id the
writer took from the session row it had just written in the same statement. Its ON DELETE
CASCADE removed nothing either: closed sessions are deleted after ``session_retention`` (400
days), their time series after ``interim_retention`` (35 days). SQLite never enforced it
(``PRAGMA foreign_keys`` is off) and keeps it as a declaration.

PostgreSQL: ``radiusd_end_assignments(addresses, times)`` closes the open history row of each
address (every Stop and release). As a plain ``UPDATE ... FROM unnest(...)`` the planner joined
the batch's addresses against *every* open assignment (a hash join over a scan of the default
partition, or a nested loop over the ``released_at IS NULL`` entries of
``ix_service_ip_assignments_released_at`` when the statistics were older than the table): a
cost that grows with the number of subscribers online, 40-90 ms per batch with 10,000 open
assignments, which made the batches holding Stops several times slower than the others. The
function updates one address at a time (``address = $1 AND released_at IS NULL``), and the
``released_at`` index is dropped on PostgreSQL, so the one index with a condition to use is
``(address, assigned_at)``: one probe per address whatever the statistics say (scans are off
for the function). That index served no PostgreSQL query: retention drops whole partitions,
and deletes the default partition's rare expired rows with a scan once an hour.

``ipv4_ips`` and ``ipv6_ips`` get fillfactor 70 (PostgreSQL): every Start and Interim-Update
renews a lease row; with full pages those updates could not be HOT (a new index entry in each
of the table's four indexes per renewal). Pages already full keep their layout until rewritten
(``VACUUM FULL ipv4_ips``).

What stays, and who reads it: ``radius_accounting``: (acct_unique_id, started_at) (the
writer's upsert), ``stopped_at`` (``export sessions``; retention on SQLite);
``radius_interim_updates``: the retransmit key (the writer's ON CONFLICT; a session's series,
the usage report's join by session_id), ``event_time`` (``export usage`` periods, retention
and db stats' oldest / newest).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DROPPED: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("radius_accounting", "ix_radius_accounting_username", ("username",)),
    ("radius_accounting", "ix_radius_accounting_framed_ip_started_at", ("framed_ip", "started_at")),
    ("service_ip_assignments", "ix_service_ip_assignments_username", ("username",)),
)
FK = "fk_radius_interim_updates_session_id_radius_sessions"
_FK_SQL = "FOREIGN KEY (session_id) REFERENCES radius_sessions (id) ON DELETE CASCADE"
END_ASSIGNMENTS = """
CREATE OR REPLACE FUNCTION radiusd_end_assignments(addresses varchar[], times timestamptz[])
RETURNS void LANGUAGE plpgsql SET enable_seqscan = off SET enable_bitmapscan = off AS $$
BEGIN
    FOR i IN 1 .. coalesce(array_length(addresses, 1), 0) LOOP
        UPDATE service_ip_assignments SET released_at = times[i]
        WHERE address = addresses[i] AND released_at IS NULL;
    END LOOP;
END
$$"""
RELEASED_AT = "ix_service_ip_assignments_released_at"
_LEASE_TABLES = ("ipv4_ips", "ipv6_ips")
FILLFACTOR = 70
#: PostgreSQL: (table, primary key columns) whose key is dropped
_PG_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("radius_accounting", ("id", "started_at")),
    ("radius_interim_updates", ("id", "event_time")),
)


def _partitioned(table: str) -> bool:
    sql = f"SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass('{table}')"
    row = op.get_bind().exec_driver_sql(sql).first()
    return bool(row and row[0])


def upgrade() -> None:
    for _, name, _ in _DROPPED:
        # IF EXISTS: on PostgreSQL dropping the parent's index drops every partition's
        op.execute(f"DROP INDEX IF EXISTS {name}")
    if op.get_bind().dialect.name == "postgresql":
        for table, _ in _PG_KEYS:
            if _partitioned(table):
                op.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS pk_{table}")
        op.execute(f"ALTER TABLE radius_interim_updates DROP CONSTRAINT IF EXISTS {FK}")
        op.execute(f"DROP INDEX IF EXISTS {RELEASED_AT}")
        op.execute(END_ASSIGNMENTS)
        for table in _LEASE_TABLES:
            op.execute(f"ALTER TABLE {table} SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        for table in _LEASE_TABLES:
            op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
        op.execute("DROP FUNCTION IF EXISTS radiusd_end_assignments(varchar[], timestamptz[])")
        op.execute(f"CREATE INDEX IF NOT EXISTS {RELEASED_AT} ON service_ip_assignments (released_at)")
        op.execute(f"ALTER TABLE radius_interim_updates ADD CONSTRAINT {FK} {_FK_SQL}")
        for table, keys in _PG_KEYS:
            if _partitioned(table):
                op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({', '.join(keys)})")
    for table, name, cols in _DROPPED:
        op.create_index(name, table, list(cols), unique=False)
