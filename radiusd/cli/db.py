"""``radiusd db``: database maintenance (migrations)."""

from __future__ import annotations

from dataclasses import dataclass

import click

from radiusd.cli.context import describe_database, get_context, reaching
from radiusd.cli.output import json_option, plural, print_json


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

    async def table_count() -> int:
        async with engine.connect() as conn:
            return len(await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names()))

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
