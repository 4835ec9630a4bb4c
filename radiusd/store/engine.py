"""Engine factory and schema upgrades (Alembic, run programmatically from the installed package).

SQLite settings are chosen for "acknowledged = committed":
- WAL journal so readers (snapshot loads, the CLI) do not block the writer;
- ``synchronous=FULL``: with WAL, NORMAL skips the fsync at commit, so a power loss can undo the last
  transactions *after* the reply was sent; FULL fsyncs the WAL on every commit (group commit makes
  that one fsync per batch, not per request);
- ``foreign_keys=ON`` (off by default in SQLite) and a ``busy_timeout`` so a CLI write waits for the
  daemon's writer instead of failing at once.
pysqlite's own transaction handling is turned off and ``BEGIN`` is emitted explicitly, so a
transaction really starts at its first statement (a read followed by a write is one snapshot) and
DDL is transactional (a failed migration leaves nothing behind). :func:`begin_write` starts
``BEGIN IMMEDIATE`` for read-then-write transactions, which then wait on the busy timeout rather
than fail with "database is locked" when another writer got in first.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine, Mapping
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import Connection, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from radiusd.config import redacted_url

from .errors import InvalidInput

if TYPE_CHECKING:  # Alembic is imported where it is used: admin commands rarely need it
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
_IMMEDIATE = "radiusd_sqlite_immediate"
_MIGRATION_LOCK = 0x72646D67  # "rdmg": PostgreSQL advisory lock held while migrating

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def with_async_driver(url: str, drivers: Mapping[str, str], what: str, use: str) -> str:
    """``url`` with the async driver ``drivers`` maps its driver name to; InvalidInput (naming
    ``what`` URL, and suggesting ``use``) when it is malformed or its driver is not mapped."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InvalidInput(f"malformed {what} URL {redacted_url(url)!r}") from None
    driver = drivers.get(parsed.drivername)
    if driver is None:
        raise InvalidInput(f"unsupported {what} URL {redacted_url(url)!r}: use {use}")
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def normalise_url(url: str) -> str:
    """``url`` with the async driver this project uses (``sqlite://`` -> ``sqlite+aiosqlite://``)."""
    return with_async_driver(url, _DRIVERS, "database", "sqlite+aiosqlite:/// or postgresql+asyncpg://")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An AsyncEngine for ``url`` (SQLite file or PostgreSQL), configured for durable commits.

    Creates the parent folder of a SQLite file. ``kwargs`` go to ``create_async_engine``.
    """
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(url, **kwargs)

    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, see module docstring
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=FULL",
            "foreign_keys=ON",
            f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_IMMEDIATE) else "BEGIN")

    return engine


def begin_write(engine: AsyncEngine) -> AbstractAsyncContextManager[AsyncConnection]:
    """``engine.begin()`` for a transaction that will write (SQLite: ``BEGIN IMMEDIATE``)."""
    return engine.execution_options(**{_IMMEDIATE: True}).begin()


def alembic_config(url: str | None = None) -> Config:
    """Alembic Config built in code: works from an installed package, whatever the cwd."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest migration revision shipped with this package."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _upgrade(connection: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    from alembic import command

    command.upgrade(cfg, revision)


async def ensure_schema(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply pending migrations on ``engine`` in one transaction (a no-op when up to date).

    Two processes starting at once (daemon and CLI, two daemons) take turns: SQLite through
    ``BEGIN IMMEDIATE``, PostgreSQL through an advisory lock; the second then finds nothing to do.
    """
    async with begin_write(engine) as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
        await conn.run_sync(_upgrade, revision)


async def schema_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None: never migrated); ``serve`` can refuse a stale schema."""
    async with engine.connect() as conn:

        def current(sync_conn: Connection) -> str | None:
            from alembic.runtime.migration import MigrationContext

            return MigrationContext.configure(sync_conn).get_current_revision()

        return await conn.run_sync(current)


def _run_blocking(coro: Coroutine[Any, Any, None]) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro)
        return
    # Called from inside an event loop (e.g. an async test): run on a loop of its own thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


def upgrade_database(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (what ``radiusd db upgrade`` runs). Blocking."""

    async def run() -> None:
        engine = create_engine(url)
        try:
            await ensure_schema(engine, revision)
        finally:
            await engine.dispose()

    _run_blocking(run())
