"""Session rows: room for HOT updates of a whole page in one batch, partial indexes

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07

Every Interim-Update rewrites its session's row and its subscriber's usage row of the day, in a
group commit of tens to hundreds of requests. An update writes no index entry (HOT) only when
the new version fits in the same page. Rows on one page were inserted together (sessions that
started together, users whose day began together), so their updates come together too: a
batch updates most rows of a page in one transaction, before any old version can be pruned.
With fillfactor 70 (migration 0006) a page has room for the new versions of under half of its
rows: measured (bench/acct_sql_bench.py, 10,000 sessions in batches of 64) about 45 % of the
Interim-Updates' session updates were HOT, the others wrote all eight indexes. Fillfactor 50
leaves room for every row of the page: all of them HOT, about a quarter less PostgreSQL CPU per
Interim-Update. PostgreSQL only; it applies to pages filled from now on (a ``VACUUM FULL`` or
pg_repack rewrites the old ones). The cost: pages of closed sessions stay half empty until
``session_retention`` deletes them (closed rows are never updated again).

A Stop changes ``status``, so its update is never HOT and inserts an entry in each index whose
condition the new (closed) row meets. Three indexes are needed for one kind of row only and
become partial (both backends; each query's conditions imply the index's):

- ``(status, router_id)`` -> ``(router_id) WHERE status = 'open'``: session list --online, a
  router's open sessions, the daemon start's open sessions; no query reads closed sessions by it;
- ``nas_port_id`` -> ``WHERE status = 'open'``: the web console's search by NAS port reads open
  sessions only;
- ``closed_updated_at`` -> ``WHERE closed_updated_at IS NOT NULL``: the daemon start
  (``closed_updated_at >= :since``) and retention (``< :cutoff``) read closed sessions only;
  it was NULL for every open row, which every Start inserted.

A Stop then writes six index entries instead of eight, a Start seven instead of eight.
Building the indexes reads the table once each, under a lock that blocks writes: plan the
upgrade for a quiet hour on a large table.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILLFACTOR = 50
OLD_FILLFACTOR = 70  # migration 0006
_TABLES = ("radius_sessions", "service_usage")
OPEN = "status = 'open'"
CLOSED = "closed_updated_at IS NOT NULL"
#: (name, columns, condition) after the upgrade; the ones before it
_PARTIAL = (
    ("ix_radius_sessions_router_id", ("router_id",), OPEN),
    ("ix_radius_sessions_nas_port_id", ("nas_port_id",), OPEN),
    ("ix_radius_sessions_closed_updated_at", ("closed_updated_at",), CLOSED),
)
_FULL = (
    ("ix_radius_sessions_status_router_id", ("status", "router_id")),
    ("ix_radius_sessions_nas_port_id", ("nas_port_id",)),
    ("ix_radius_sessions_closed_updated_at", ("closed_updated_at",)),
)


def _index_sql(name: str, cols: tuple[str, ...], where: str | None = None) -> str:
    sql = f"CREATE INDEX {name} ON radius_sessions ({', '.join(cols)})"
    return sql if where is None else f"{sql} WHERE {where}"


def upgrade() -> None:
    for name, _ in _FULL:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    for name, cols, where in _PARTIAL:
        op.execute(_index_sql(name, cols, where))
    if op.get_context().dialect.name == "postgresql":
        for table in _TABLES:
            op.execute(f"ALTER TABLE {table} SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for table in _TABLES:
            op.execute(f"ALTER TABLE {table} SET (fillfactor = {OLD_FILLFACTOR})")
    for name, _, _ in _PARTIAL:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    for name, cols in _FULL:
        op.execute(_index_sql(name, cols))
