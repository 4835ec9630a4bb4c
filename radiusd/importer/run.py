"""The two imports as the CLI runs them: read, translate, write (or dry-run)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.codec.dictionary import Dictionary, default_dictionary

from .files import read_clients, read_users
from .model import Report
from .source import read_tables
from .translate import SourceTables, Translator
from .writer import PHASES, write_import

#: Every phase of an import, in order: reading, translating, then the writer's.
STEPS = ("reading the source", "translating", *PHASES)


async def import_freeradius_sql(
    engine: AsyncEngine,
    source: str,
    *,
    dry_run: bool = False,
    pool_map: Mapping[str, str] | None = None,
    dictionary: Dictionary | None = None,
    source_password: str | None = None,
    step: Callable[[str], None] | None = None,
) -> Report:
    """Import a FreeRADIUS SQL database at URL ``source`` into ``engine``'s database
    (``source_password``, when given, replaces the URL's password). ``step(name)``: called as
    each phase starts (see :data:`STEPS`), for a progress bar."""
    tell = step or (lambda _: None)
    tell(STEPS[0])
    tables, notes = await read_tables(source, source_password)
    tell(STEPS[1])
    tr = Translator(dictionary or default_dictionary(), pool_map)
    tr.report.notes.extend(notes)
    data = tr.translate(tables)
    return await write_import(engine, data, tr.report, dry_run=dry_run, step=step)


async def import_freeradius_files(
    engine: AsyncEngine,
    *,
    users: Path | None = None,
    clients: Path | None = None,
    dry_run: bool = False,
    pool_map: Mapping[str, str] | None = None,
    dictionary: Dictionary | None = None,
    step: Callable[[str], None] | None = None,
) -> Report:
    """Import a FreeRADIUS ``users`` file and/or ``clients.conf`` (``step``: as above)."""
    tell = step or (lambda _: None)
    tell(STEPS[0])
    tables = SourceTables()
    report = Report()
    if users is not None:
        read_users(users, tables, report)
    if clients is not None:
        read_clients(clients, tables, report)
    tell(STEPS[1])
    tr = Translator(dictionary or default_dictionary(), pool_map, report)
    data = tr.translate(tables)
    rename = {"radcheck": "users", "radreply": "users", "nas": "clients.conf"}
    report.skipped = [replace(s, source=rename.get(s.source, s.source)) for s in report.skipped]
    return await write_import(engine, data, report, dry_run=dry_run, step=step)
