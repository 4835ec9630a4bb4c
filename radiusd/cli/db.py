"""``radiusd db``: database maintenance (migrations)."""

from __future__ import annotations

from dataclasses import dataclass

import click

from radiusd.cli.context import describe_database, get_context, reaching
from radiusd.cli.output import json_option, plural, print_json, print_table


@dataclass(frozen=True)
class UpgradeResult:
    """What ``db upgrade`` found and left: revisions (None: no schema) and table counts."""

    url: str
    before: str | None
    after: str | None
    tables_before: int
    tables_after: int

    def sentence(self) -> str:
        where = describe_database(self.url)
        if self.before is None:
            created = plural(self.tables_after - self.tables_before, "table")
            return f"created {created} in {where} (revision {self.after})"
        if self.before == self.after:
            return f"already at revision {self.after}: {where}"
        return f"upgraded {where} from revision {self.before} to {self.after}"

    def to_json(self) -> dict[str, object]:
        return {
            "database": describe_database(self.url),
            "from_revision": self.before,
            "to_revision": self.after,
            "tables_created": self.tables_after - self.tables_before,
        }


async def upgrade_schema(url: str) -> UpgradeResult:
    """Apply the pending migrations at ``url`` and say what changed."""
    import sqlalchemy as sa

    from radiusd.store.engine import create_engine, ensure_schema, schema_revision
    from radiusd.store.partitions import is_partition_name

    async def table_count() -> int:
        """Tables, not counting the partitions of the accounting history (PostgreSQL)."""
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names())
        return sum(1 for name in names if not is_partition_name(name))

    engine = create_engine(url)
    try:
        before, tables_before = await schema_revision(engine), await table_count()
        await ensure_schema(engine)
        after, tables_after = await schema_revision(engine), await table_count()
    finally:
        await engine.dispose()
    return UpgradeResult(url, before, after, tables_before, tables_after)


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@json_option
def db_upgrade(as_json: bool) -> None:
    """Apply all pending migrations (creates the database and its schema when new).

    Prints what it did: created N tables, upgraded from revision X to Y, or already at
    revision X. JSON: database, from_revision (null: new), to_revision, tables_created.
    """
    import asyncio

    url = get_context().database_url()
    with reaching(url):
        result = asyncio.run(upgrade_schema(url))
    if as_json:
        print_json(result.to_json())
    else:
        click.echo(result.sentence())


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


@db.command("stats")
@click.option("--partitions", is_flag=True, help="A line per partition too (PostgreSQL).")
@json_option
def db_stats(partitions: bool, as_json: bool) -> None:
    """Rows and bytes of the accounting history, oldest and newest data, retention in force
    and the size each table settles at under it (docs/accounting-storage.md).

    PostgreSQL rows are the planner's estimates (pg_class.reltuples); SQLite rows are counted.
    JSON: a list of tables with rows, rows_estimated, bytes, oldest, newest, retention_days,
    rows_per_day, expected_rows, expected_bytes and partitions (name, rows, bytes).
    """
    from radiusd.cli.context import run_store
    from radiusd.store.db_stats import storage_stats
    from radiusd.store.retention import Retention

    ctx = get_context()
    retention = Retention.from_settings(ctx.settings())
    tables = run_store(lambda engine: storage_stats(engine, retention))
    if as_json:
        print_json([t.to_json() for t in tables])
        return
    rows = []
    for t in tables:
        rows.append({
            "table": t.table, "rows": ("~" if t.rows_estimated else "") + str(t.rows), "size": _size(t.bytes),
            "oldest": t.oldest.isoformat(timespec="seconds") if t.oldest else "-",
            "newest": t.newest.isoformat(timespec="seconds") if t.newest else "-",
            "retention": f"{t.retention_days} days" if t.retention_days else "-",
            "expected": _size(t.expected_bytes),
        })  # fmt: skip
        if partitions:
            for p in t.partitions:
                rows.append({"table": f"  {p.name}", "rows": f"~{p.rows}", "size": _size(p.bytes),
                             "oldest": "", "newest": "", "retention": "", "expected": ""})  # fmt: skip
    print_table(
        rows, ["table", "rows", "size", "oldest", "newest", "retention", "expected"], empty="no tables"
    )
