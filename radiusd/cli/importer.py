"""``radiusd import``: migrate from FreeRADIUS (its SQL database, or its users file and clients.conf).

Prints what was not carried over (one line per source row), then the counts per kind
(created / updated / unchanged); ``--dry-run`` prints the same and writes nothing. The
target is the global ``--database``; a real run is one transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from radiusd.cli.context import run_store
from radiusd.cli.output import plural, print_json, print_table
from radiusd.cli.progress import progress
from radiusd.cli.secrets import secret_option

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from radiusd.importer.model import Report


#: environment variable holding the source database's password (``--from-password``)
PASSWORD_ENV = "RADIUSD_IMPORT_PASSWORD"


def parse_pool_map(
    ctx: click.Context | None, param: click.Parameter | None, values: tuple[str, ...]
) -> dict[str, str]:
    """``OLD=NEW`` pairs as a mapping of FreeRADIUS pool names to ours."""
    out: dict[str, str] = {}
    for item in values:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip() or ":" in new:
            raise click.BadParameter(
                f"expected OLD=NEW (NEW without ':'), got {item!r}", ctx=ctx, param=param
            )
        out[old.strip()] = new.strip()
    return out


def _print(report: Report, *, as_json: bool, dry_run: bool) -> None:
    data = report.to_json()
    if as_json:
        print_json({"dry_run": dry_run, **data})
        return
    for s in report.skipped:
        click.echo(f"not carried over: {s.line()}")
    for note in report.notes:
        click.echo(f"note: {note}")
    rows = [{"kind": k, **v} for k, v in data["counts"].items()]
    print_table(rows, ["kind", "created", "updated", "unchanged"], empty="nothing to import")
    click.echo(
        f"{'dry run: nothing written' if dry_run else 'imported in one transaction'}; "
        f"{plural(len(report.skipped), 'item')} not carried over"
    )


@click.group("import")
def import_group() -> None:
    """Migrate subscribers, plans, NAS, pools, leases and open sessions from FreeRADIUS."""


dry_run_option = click.option("--dry-run", is_flag=True, help="Print the report and counts; write nothing.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
pool_map_option = click.option(
    "--pool-map",
    "pool_map",
    multiple=True,
    metavar="OLD=NEW",
    callback=parse_pool_map,
    help="Rename a FreeRADIUS pool (radippool pool_name, Pool-Name) to one of ours (repeatable).",
)


@import_group.command("freeradius")
@click.option(
    "--from",
    "source",
    required=True,
    metavar="URL",
    help="FreeRADIUS database: postgresql://..., mysql://... or sqlite:///FILE (better without the "
    "password: see --from-password).",
)
@secret_option(
    "--from-password",
    "source_password",
    metavar="P",
    envvar=PASSWORD_ENV,
    help=f"Password of the --from database, instead of the one in the URL (also {PASSWORD_ENV}; "
    "without either: PGPASSWORD or ~/.pgpass for PostgreSQL, ~/.my.cnf for MySQL).",
)
@dry_run_option
@pool_map_option
@json_option
def freeradius(
    source: str, source_password: str | None, dry_run: bool, pool_map: dict[str, str], as_json: bool
) -> None:
    """Import a FreeRADIUS 3.x SQL database (rlm_sql and rlm_sqlippool stock schema)."""
    from radiusd.importer.run import STEPS, import_freeradius_sql

    with progress("import freeradius", total=len(STEPS)) as bar:

        async def go(engine: AsyncEngine) -> Report:
            return await import_freeradius_sql(
                engine,
                source,
                dry_run=dry_run,
                pool_map=pool_map,
                source_password=source_password,
                step=bar.step,
            )

        report = run_store(go)
    _print(report, as_json=as_json, dry_run=dry_run)


@import_group.command("freeradius-files")
@click.option(
    "--users",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="FreeRADIUS users file.",
)
@click.option(
    "--clients",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="FreeRADIUS clients.conf.",
)
@dry_run_option
@pool_map_option
@json_option
def freeradius_files(
    users: Path | None, clients: Path | None, dry_run: bool, pool_map: dict[str, str], as_json: bool
) -> None:
    """Import a FreeRADIUS users file and/or clients.conf."""
    from radiusd.importer.run import import_freeradius_files

    if users is None and clients is None:
        raise click.UsageError("give --users FILE and/or --clients FILE")

    from radiusd.importer.run import STEPS

    with progress("import freeradius-files", total=len(STEPS)) as bar:

        async def go(engine: AsyncEngine) -> Report:
            return await import_freeradius_files(
                engine, users=users, clients=clients, dry_run=dry_run, pool_map=pool_map, step=bar.step
            )

        report = run_store(go)
    _print(report, as_json=as_json, dry_run=dry_run)
