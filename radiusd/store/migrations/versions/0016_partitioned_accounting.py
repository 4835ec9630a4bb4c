"""Accounting history in time partitions (PostgreSQL), hourly interim sums (both backends)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07

On PostgreSQL the four tables that grow with traffic (radiusd.store.partitions) become
partitioned tables, so retention drops whole partitions instead of deleting rows: each is
renamed, a partitioned parent with the same columns is created with partitions covering the
rows' time range (and a DEFAULT partition), the rows are moved, the old table dropped. Unique
keys that cannot include the partition key become per-partition unique indexes (the interim
retransmit key, the event digest); the closed record's key becomes (acct_unique_id, started_at).
An existing large table is copied once here: plan the upgrade in a quiet hour.

On SQLite nothing is partitioned (retention there deletes in small batches). Both get
``radius_interim_hourly`` and ``radius_interim_rollups`` (``interim_downsample_after``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from radiusd.store.models import BigId, UTCDateTime
from radiusd.store.partitions import (
    TABLES,
    PartitionedTable,
    create_partition_sql,
    local_indexes_sql,
)

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: per table: the primary key (None: the key column may be NULL, no primary key), the unique
#: constraints on the parent, the indexes (name, columns), foreign keys (SQL)
_SHAPE: dict[str, dict[str, object]] = {
    "radius_interim_updates": {
        "pk": ("id", "event_time"),
        "unique": [],
        "indexes": [("ix_radius_interim_updates_event_time", ("event_time",))],
        "fks": [
            "CONSTRAINT fk_radius_interim_updates_session_id_radius_sessions FOREIGN KEY (session_id) "
            "REFERENCES radius_sessions (id) ON DELETE CASCADE"
        ],
        "old_unique": [
            (
                "uq_radius_interim_updates_retransmit",
                ("session_id", "status_type", "session_time", "input_octets", "output_octets"),
            ),
        ],
    },
    "radius_accounting": {
        "pk": ("id", "started_at"),
        "unique": [("uq_radius_accounting_acct_unique_id_started_at", ("acct_unique_id", "started_at"))],
        "indexes": [
            ("ix_radius_accounting_stopped_at", ("stopped_at",)),
            ("ix_radius_accounting_framed_ip_started_at", ("framed_ip", "started_at")),
            ("ix_radius_accounting_username", ("username",)),
        ],
        "fks": [],
        "old_unique": [("uq_radius_accounting_acct_unique_id", ("acct_unique_id",))],
    },
    "radius_accounting_events": {
        "pk": ("id", "event_time"),
        "unique": [],
        "indexes": [("ix_radius_accounting_events_event_time", ("event_time",))],
        "fks": [],
        "old_unique": [("uq_radius_accounting_events_digest", ("digest",))],
    },
    "service_ip_assignments": {
        "pk": None,
        "unique": [],
        "indexes": [
            ("ix_service_ip_assignments_username", ("username",)),
            ("ix_service_ip_assignments_address_assigned_at", ("address", "assigned_at")),
            ("ix_service_ip_assignments_released_at", ("released_at",)),
        ],
        "fks": [],
        "old_unique": [],
    },
}
#: the oldest partition the conversion creates: older rows (a NAS clock in the past) stay in the
#: default partition, where retention deletes them, instead of thousands of partitions
_HORIZON = {"day": dt.timedelta(days=400), "month": dt.timedelta(days=3660)}


def upgrade() -> None:
    op.create_table(
        "radius_interim_hourly",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("session_id", sa.BigInteger(), nullable=False),
        sa.Column("acct_unique_id", sa.String(255), nullable=False),
        sa.Column("hour", UTCDateTime(), nullable=False),
        sa.Column("input_octets", sa.BigInteger(), nullable=False),
        sa.Column("output_octets", sa.BigInteger(), nullable=False),
        sa.Column("session_time", sa.BigInteger(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_radius_interim_hourly")),
        sa.UniqueConstraint("session_id", "hour", name=op.f("uq_radius_interim_hourly_session_id_hour")),
    )
    op.create_index(op.f("ix_radius_interim_hourly_hour"), "radius_interim_hourly", ["hour"])
    op.create_table(
        "radius_interim_rollups",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rolled_at", UTCDateTime(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_radius_interim_rollups")),
    )
    if op.get_bind().dialect.name != "postgresql":
        # what retention deletes by, and db stats' oldest / newest (PostgreSQL: _SHAPE)
        op.create_index(
            op.f("ix_service_ip_assignments_released_at"), "service_ip_assignments", ["released_at"]
        )
        return
    now = dt.datetime.now(dt.UTC)
    for table in TABLES:
        _partition(table, now)


def _q(sql: str) -> None:
    op.execute(sa.text(sql))


def _partition(table: PartitionedTable, now: dt.datetime) -> None:
    bind = op.get_bind()
    name, key = table.name, table.key
    partitioned = bind.execute(
        sa.text("SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass(:n)"), {"n": name}
    ).scalar()
    if partitioned:
        return
    shape = _SHAPE[name]
    old = f"{name}_unpartitioned"
    _q(f"ALTER TABLE {name} RENAME TO {old}")
    # index names are per schema: the old ones step aside (renaming a constraint's index
    # renames the constraint)
    for (index,) in bind.execute(
        sa.text("SELECT indexname FROM pg_indexes WHERE tablename = :t AND schemaname = current_schema()"),
        {"t": old},
    ).all():
        _q(f"ALTER INDEX {index} RENAME TO {(index + '_unpartitioned')[:63]}")
    _q(
        f"CREATE TABLE {name} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
        f"PARTITION BY RANGE ({key})"
    )
    _q(f"ALTER SEQUENCE {name}_id_seq OWNED BY {name}.id")
    pk = shape["pk"]
    if pk:
        _q(f"ALTER TABLE {name} ADD CONSTRAINT pk_{name} PRIMARY KEY ({', '.join(pk)})")  # type: ignore[arg-type]
    for uname, cols in shape["unique"]:  # type: ignore[attr-defined]
        _q(f"ALTER TABLE {name} ADD CONSTRAINT {uname} UNIQUE ({', '.join(cols)})")
    for iname, cols in shape["indexes"]:  # type: ignore[attr-defined]
        _q(f"CREATE INDEX {iname} ON {name} ({', '.join(cols)})")
    for fk in shape["fks"]:  # type: ignore[attr-defined]
        _q(f"ALTER TABLE {name} ADD {fk}")
    _q(f"CREATE TABLE {table.default_name} PARTITION OF {name} DEFAULT")
    for sql in local_indexes_sql(table, table.default_name):
        _q(sql)
    lo, hi = bind.execute(sa.text(f"SELECT min({key}), max({key}) FROM {old}")).one()
    today = now.date()
    first = today if lo is None else max(lo.astimezone(dt.UTC).date(), today - _HORIZON[table.unit])
    last = max(today, hi.astimezone(dt.UTC).date() if hi is not None else today)
    start = table.floor(last)
    for _ in range(table.ahead):
        start = table.next(start)
    for day in table.starts(first, start):
        for sql in create_partition_sql(table, day):
            _q(sql)
    _q(f"INSERT INTO {name} SELECT * FROM {old}")
    _q(f"DROP TABLE {old}")
    _q(f"ANALYZE {name}")


def _unpartition(table: PartitionedTable) -> None:
    bind = op.get_bind()
    name = table.name
    partitioned = bind.execute(
        sa.text("SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass(:n)"), {"n": name}
    ).scalar()
    if not partitioned:
        return
    shape = _SHAPE[name]
    old = f"{name}_partitioned"
    _q(f"ALTER TABLE {name} RENAME TO {old}")
    for iname, _ in shape["indexes"]:  # type: ignore[attr-defined]
        _q(f"ALTER INDEX {iname} RENAME TO {(iname + '_partitioned')[:63]}")
    for uname, _ in shape["unique"]:  # type: ignore[attr-defined]
        _q(f"ALTER TABLE {old} RENAME CONSTRAINT {uname} TO {uname[:50]}_part")
    if shape["pk"]:
        _q(f"ALTER TABLE {old} RENAME CONSTRAINT pk_{name} TO pk_{name[:40]}_part")
    _q(f"CREATE TABLE {name} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    _q(f"ALTER SEQUENCE {name}_id_seq OWNED BY {name}.id")
    _q(f"ALTER TABLE {name} ADD CONSTRAINT pk_{name} PRIMARY KEY (id)")
    for uname, cols in shape["old_unique"]:  # type: ignore[attr-defined]
        _q(f"ALTER TABLE {name} ADD CONSTRAINT {uname} UNIQUE ({', '.join(cols)})")
    for iname, cols in shape["indexes"]:  # type: ignore[attr-defined]
        _q(f"CREATE INDEX {iname} ON {name} ({', '.join(cols)})")
    for fk in shape["fks"]:  # type: ignore[attr-defined]
        _q(f"ALTER TABLE {name} ADD {fk}")
    # a key that was unique per partition only may repeat across partitions: the first row wins
    conflict = " ON CONFLICT DO NOTHING" if shape["old_unique"] else ""
    _q(f"INSERT INTO {name} SELECT * FROM {old} ORDER BY id{conflict}")
    _q(f"DROP TABLE {old}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            _unpartition(table)
    op.drop_index(op.f("ix_service_ip_assignments_released_at"), table_name="service_ip_assignments")
    op.drop_table("radius_interim_rollups")
    op.drop_index(op.f("ix_radius_interim_hourly_hour"), table_name="radius_interim_hourly")
    op.drop_table("radius_interim_hourly")
