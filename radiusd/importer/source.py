"""Read a FreeRADIUS 3.x SQL database (stock schema of mods-config/sql/main and ippool).

Drivers: PostgreSQL through asyncpg, MySQL/MariaDB through aiomysql, SQLite through
aiosqlite; ``postgresql://``, ``mysql://`` and ``sqlite:///`` URLs get the driver added.
Only SELECTs are run. Tables that do not exist are skipped (a note says so); column names
are read in lower case (PostgreSQL folds the schema's mixed-case names anyway).

The source password need not be in the URL (where ``ps`` and shell history show it): it can be
passed apart (``--from-password``), and without either the drivers' own defaults apply:
PGPASSWORD and ~/.pgpass for PostgreSQL (asyncpg reads them), the ``[client]`` section of
~/.my.cnf for MySQL (handed to aiomysql as ``read_default_file`` when the file exists).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from radiusd.store.engine import with_async_driver
from radiusd.store.errors import InvalidInput

from .translate import SourceTables

_DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "mysql": "mysql+aiomysql",
    "mariadb": "mysql+aiomysql",
    "mysql+aiomysql": "mysql+aiomysql",
    "mariadb+aiomysql": "mysql+aiomysql",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}
TABLES = (
    "nas",
    "radcheck",
    "radreply",
    "radusergroup",
    "radgroupcheck",
    "radgroupreply",
    "radippool",
    "radacct",
)
_NOW = {"postgresql": "now()", "mysql": "NOW()", "sqlite": "datetime('now')"}


def source_url(url: str) -> str:
    """``url`` with its async driver; InvalidInput for anything else."""
    return with_async_driver(url, _DRIVERS, "source", "postgresql://, mysql:// or sqlite:///")


async def _rows(conn: AsyncConnection, sql: str) -> list[dict[str, Any]]:
    result = await conn.execute(sa.text(sql))
    keys = [str(k).lower() for k in result.keys()]  # noqa: SIM118 (a Result, not a dict)
    return [dict(zip(keys, row, strict=True)) for row in result]


MYSQL_OPTION_FILE = Path("~/.my.cnf")


def source_target(url: str, password: str | None = None) -> tuple[URL, dict[str, Any]]:
    """The URL to connect to (``password``, when given, replaces the URL's) and the driver's
    connect arguments (MySQL without a password: ~/.my.cnf when it exists)."""
    target = make_url(source_url(url))
    if password is not None:
        target = target.set(password=password)
    connect_args: dict[str, Any] = {}
    if target.get_backend_name() == "mysql" and target.password is None:
        option_file = MYSQL_OPTION_FILE.expanduser()
        if option_file.is_file():
            connect_args["read_default_file"] = str(option_file)
    return target, connect_args


def _check_sqlite_file(url: str) -> None:
    """InvalidInput for a SQLite source file that does not exist (opening it would create an
    empty one, and the import would succeed with nothing in it)."""
    parsed = make_url(url)
    path = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and path not in ("", ":memory:") and not Path(path).is_file():
        raise InvalidInput(f"source database file {path} does not exist")


async def read_tables(url: str, password: str | None = None) -> tuple[SourceTables, list[str]]:
    """Every row the import needs, and notes about missing tables. InvalidInput for a SQLite
    file that does not exist and for a database without any FreeRADIUS table."""
    target, connect_args = source_target(url, password)
    _check_sqlite_file(source_url(url))
    engine = create_async_engine(target, connect_args=connect_args)
    notes: list[str] = []
    tables = SourceTables()
    try:
        async with engine.connect() as conn:
            present = {n.lower() for n in await conn.run_sync(lambda c: sa.inspect(c).get_table_names())}
            if not present & set(TABLES):
                raise InvalidInput(
                    f"the source database holds none of the FreeRADIUS tables ({', '.join(TABLES)})"
                )
            now = _NOW.get(conn.dialect.name, "CURRENT_TIMESTAMP")
            for name in TABLES:
                if name not in present:
                    notes.append(f"source table {name} does not exist: nothing read from it")
                    continue
                if name == "radippool":
                    sql = f"SELECT *, CASE WHEN expiry_time > {now} THEN 1 ELSE 0 END AS live FROM radippool"
                    if conn.dialect.name == "mysql":
                        sql = sql.replace("SELECT *,", "SELECT radippool.*,")
                elif name == "radacct":
                    sql = "SELECT * FROM radacct WHERE acctstoptime IS NULL"
                else:
                    sql = f"SELECT * FROM {name}"
                setattr(tables, name, await _rows(conn, sql))
    finally:
        await engine.dispose()
    return tables, notes
