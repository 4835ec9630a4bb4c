"""Time partitions of the accounting history on PostgreSQL (declarative range partitioning).

Four tables grow with traffic; each is partitioned by the time that decides when its rows may
go, so that retention is ``DROP TABLE`` of a whole partition (no DELETE, no vacuum debt):

========================  ============  ======  =============================================
table                     key           width   why
========================  ============  ======  =============================================
radius_interim_updates    event_time    day     ~29M rows a day at 100,000 subscribers: a
                                                month would be one ~5 GB table to drop at once
radius_accounting         started_at    month   one row per session; stable for a session (the
                                                closed record's upsert key includes it)
radius_accounting_events  event_time    month   rare requests (Failed, RFC 2867 tunnel types)
service_ip_assignments    released_at   month   an open assignment (NULL) stays in the default
                                                partition, so a lease held for two years is
                                                never dropped; retention counts from release
========================  ============  ======  =============================================

A month of closed records, events or assignments is small (one row per session or per
allocation), so daily partitions would only multiply the partitions a query plans over.

Every partitioned table also has a DEFAULT partition: a row whose time has no partition (a NAS
clock in 1970, an open assignment) lands there instead of failing its whole write batch.

The unique keys that must not include the partition key are per partition
(:data:`PartitionedTable.local_unique`): the interim retransmit key and the event digest. Their
inserts use ``ON CONFLICT DO NOTHING`` without a target, which PostgreSQL checks against every
unique index of the partition the row is routed to; a retransmission is one row unless its
event time crosses the partition's edge (a retransmission's time differs by at most the
rounding of Acct-Delay-Time: under a second, at midnight UTC).

Partition names carry their range: ``<table>_p20261207`` (day), ``<table>_p202612`` (month),
``<table>_default``. Only partitions named so are ever dropped.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

Unit = Literal["day", "month"]


@dataclass(frozen=True, slots=True)
class PartitionedTable:
    name: str
    key: str  # the partition key column (timestamptz)
    unit: Unit
    retention: str  # the Settings field holding its retention in days
    ahead: int  # partitions kept ready beyond the current one
    #: unique indexes created on each partition (not on the parent: they omit the key):
    #: (suffix, columns)
    local_unique: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def partition_name(self, start: dt.date) -> str:
        stamp = start.strftime("%Y%m%d" if self.unit == "day" else "%Y%m")
        return f"{self.name}_p{stamp}"

    @property
    def default_name(self) -> str:
        return f"{self.name}_default"

    def floor(self, when: dt.datetime | dt.date) -> dt.date:
        day = when.astimezone(dt.UTC).date() if isinstance(when, dt.datetime) else when
        return day if self.unit == "day" else day.replace(day=1)

    def next(self, start: dt.date) -> dt.date:
        if self.unit == "day":
            return start + dt.timedelta(days=1)
        return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)

    def start_of(self, partition: str) -> dt.date | None:
        """The first day a partition named by :meth:`partition_name` covers; None otherwise."""
        m = re.fullmatch(re.escape(self.name) + r"_p(\d{8}|\d{6})", partition)
        if m is None:
            return None
        digits = m.group(1)
        if (len(digits) == 8) != (self.unit == "day"):
            return None
        try:
            return dt.datetime.strptime(digits if len(digits) == 8 else digits + "01", "%Y%m%d").date()
        except ValueError:
            return None

    def starts(self, first: dt.date, last: dt.date) -> Iterator[dt.date]:
        """The partition starts from the one holding ``first`` to the one holding ``last``."""
        start = self.floor(first)
        while start <= last:
            yield start
            start = self.next(start)


INTERIMS = PartitionedTable(
    "radius_interim_updates",
    "event_time",
    "day",
    "interim_retention",
    7,  # a week: the maintenance may be away that long before rows fall into the default
    (("retransmit", ("session_id", "status_type", "session_time", "input_octets", "output_octets")),),
)
ACCOUNTING = PartitionedTable("radius_accounting", "started_at", "month", "session_retention", 2)
EVENTS = PartitionedTable(
    "radius_accounting_events", "event_time", "month", "events_retention", 2, (("digest", ("digest",)),)
)
ASSIGNMENTS = PartitionedTable(
    "service_ip_assignments", "released_at", "month", "assignment_history_retention", 2
)
TABLES = (INTERIMS, ACCOUNTING, EVENTS, ASSIGNMENTS)
BY_NAME = {t.name: t for t in TABLES}


def utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _literal(day: dt.date) -> str:
    return f"'{day.isoformat()} 00:00:00+00'"


def local_index_name(partition: str, suffix: str) -> str:
    return f"{partition}_{suffix}"[:63]


def create_partition_sql(table: PartitionedTable, start: dt.date) -> list[str]:
    """Statements creating the partition that begins at ``start`` (run in one transaction).

    The table is created on its own and then attached: ATTACH takes a SHARE UPDATE EXCLUSIVE
    lock on the parent, which the writer's inserts and the readers do not wait for (CREATE
    TABLE ... PARTITION OF would lock them out while it waits). A CHECK constraint matching
    the range spares ATTACH its validation scan. Rows of its range already in the default
    partition (written while it was missing) are moved into it: PostgreSQL refuses a new
    partition whose rows sit in the default one."""
    name = table.partition_name(start)
    lo, hi = _literal(start), _literal(table.next(start))
    key = table.key
    moved = f"radiusd_moving_{name}"[:63]
    check = f"{name}_range"[:63]
    return [
        f"CREATE TEMP TABLE {moved} ON COMMIT DROP AS WITH d AS (DELETE FROM {table.default_name} "
        f"WHERE {key} >= {lo} AND {key} < {hi} RETURNING *) SELECT * FROM d",
        f"CREATE TABLE {name} (LIKE {table.name} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)",
        f"ALTER TABLE {name} ADD CONSTRAINT {check} "
        f"CHECK ({key} IS NOT NULL AND {key} >= {lo} AND {key} < {hi})",
        *local_indexes_sql(table, name),
        f"ALTER TABLE {table.name} ATTACH PARTITION {name} FOR VALUES FROM ({lo}) TO ({hi})",
        f"ALTER TABLE {name} DROP CONSTRAINT {check}",
        f"INSERT INTO {table.name} SELECT * FROM {moved}",
    ]


def local_indexes_sql(table: PartitionedTable, partition: str) -> list[str]:
    return [
        f"CREATE UNIQUE INDEX IF NOT EXISTS {local_index_name(partition, suffix)} "
        f"ON {partition} ({', '.join(cols)})"
        for suffix, cols in table.local_unique
    ]


LIST_PARTITIONS_SQL = """
SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' AS is_default
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
JOIN pg_namespace n ON n.oid = p.relnamespace
WHERE p.relname = :parent AND n.nspname = current_schema()
ORDER BY c.relname"""

IS_PARTITIONED_SQL = """
SELECT c.relkind = 'p' FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = :name AND n.nspname = current_schema()"""


def is_partition_name(name: str) -> bool:
    """A partition of one of :data:`TABLES` (Alembic's comparison leaves them out)."""
    return any(name == t.default_name or name.startswith(t.name + "_p") for t in TABLES)


#: what the PostgreSQL schema holds differently from the models on purpose (the models describe
#: SQLite): unique keys per partition, or widened by the partition key; the time series' foreign
#: key, which PostgreSQL would check per row (migration 0020; SQLite does not enforce it)
PG_ONLY_DIFFERENCES = {
    ("radius_interim_updates", "fk_radius_interim_updates_session_id_radius_sessions"),
    # partitions by released_at are dropped whole; the index made closing history rows scan
    # every open assignment (migration 0020)
    ("service_ip_assignments", "ix_service_ip_assignments_released_at"),
    ("radius_interim_updates", "uq_radius_interim_updates_retransmit"),
    ("radius_accounting", "uq_radius_accounting_acct_unique_id"),
    ("radius_accounting", "uq_radius_accounting_acct_unique_id_started_at"),
    ("radius_accounting_events", "uq_radius_accounting_events_digest"),
}


def include_object_for(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """An Alembic ``include_object`` hook: partitions are not models; on PostgreSQL the
    differences the partitioning makes on purpose (:data:`PG_ONLY_DIFFERENCES`) are not drift."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table" and name is not None and is_partition_name(name):
            return False
        kinds = ("unique_constraint", "index", "foreign_key_constraint")
        if dialect == "postgresql" and type_ in kinds and name is not None:
            table = getattr(getattr(obj, "table", None), "name", None)
            return (table, name) not in PG_ONLY_DIFFERENCES
        return True

    return include
