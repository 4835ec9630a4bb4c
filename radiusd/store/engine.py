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

A SQLite database holds subscriber passwords, NAS secrets and router credentials, so its folder
is created 0700 and the file 0600 before SQLite opens it (SQLite gives the -wal and -shm files
the mode of the database file); :func:`exposed_sqlite_files` lists those that others may read,
for ``serve`` to refuse.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import socket
import stat
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
#: the execution option of a connection whose transactions all write (SQLite: BEGIN IMMEDIATE)
WRITE_TRANSACTION = "radiusd_sqlite_immediate"
_MIGRATION_LOCK = 0x72646D67  # "rdmg": PostgreSQL advisory lock held while migrating
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
#: the files of one SQLite database: the database itself, its write-ahead log and shared memory
SQLITE_SUFFIXES = ("", "-wal", "-shm")

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def multi_host(url: str) -> str:
    """A libpq-style list of hosts (``postgresql://u@h1:5432,h2:5432/db?target_session_attrs=
    read-write``, what Patroni and libpq users write) in the form SQLAlchemy parses and hands to
    asyncpg (``postgresql://u@/db?host=h1:5432&host=h2:5432&...``); other URLs as they are."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = rest.partition("/")
    userinfo, at, hosts = authority.rpartition("@")
    if "," not in hosts:
        return url
    database, _, query = tail.partition("?")
    params = [f"host={h.strip()}" for h in hosts.split(",") if h.strip()]
    if query:
        params.append(query)
    return f"{scheme}://{userinfo}{at}/{database if slash else ''}?{'&'.join(params)}"


def with_async_driver(url: str, drivers: Mapping[str, str], what: str, use: str) -> str:
    """``url`` with the async driver ``drivers`` maps its driver name to; InvalidInput (naming
    ``what`` URL, and suggesting ``use``) when it is malformed or its driver is not mapped."""
    try:
        parsed = make_url(multi_host(url))
    except ArgumentError:
        raise InvalidInput(f"malformed {what} URL {redacted_url(url)!r}") from None
    driver = drivers.get(parsed.drivername)
    if driver is None:
        raise InvalidInput(f"unsupported {what} URL {redacted_url(url)!r}: use {use}")
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def normalise_url(url: str) -> str:
    """``url`` with the async driver this project uses (``sqlite://`` -> ``sqlite+aiosqlite://``)."""
    return with_async_driver(url, _DRIVERS, "database", "sqlite+aiosqlite:/// or postgresql+asyncpg://")


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite ``url``; None for PostgreSQL, in-memory and ``file:`` URIs."""
    parsed = make_url(normalise_url(url))
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return None if database.startswith("file:") else Path(database).expanduser()


def _create_private(path: Path) -> None:
    """Create the folder of ``path`` (0700) and an empty database file (0600) if missing."""
    path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)  # an empty file is an empty SQLite database


def exposed_sqlite_files(url: str) -> list[tuple[Path, int]]:
    """(file, permission bits) of the files of a SQLite ``url`` that group or others may read
    or write; empty for PostgreSQL and for files not created yet."""
    path = sqlite_file(url)
    if path is None:
        return []
    out: list[tuple[Path, int]] = []
    for suffix in SQLITE_SUFFIXES:
        name = path.with_name(path.name + suffix)
        try:
            mode = stat.S_IMODE(name.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o066:  # read or write for group or others
            out.append((name, mode))
    return out


def create_engine(
    url: str,
    *,
    connect_timeout: float = 5.0,
    command_timeout: float | None = None,
    keepalives_idle: int = 10,
    **kwargs: Any,
) -> AsyncEngine:
    """An AsyncEngine for ``url`` (SQLite file or PostgreSQL), configured for durable commits.

    Creates the folder (0700) and the file (0600) of a new SQLite database. PostgreSQL: a
    connection attempt fails after ``connect_timeout`` seconds, a statement after
    ``command_timeout`` (None: no limit, for migrations and long reports), and both ends send
    TCP keepalives after ``keepalives_idle`` seconds of silence (see :func:`pg_connect_args`).
    ``kwargs`` go to ``create_async_engine``.
    """
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        args = pg_connect_args(connect_timeout, command_timeout, keepalives_idle)
        engine = create_async_engine(url, connect_args=args | kwargs.pop("connect_args", {}), **kwargs)
        event.listen(engine.sync_engine, "connect", _keepalive_socket(keepalives_idle))
        return engine

    path = sqlite_file(url)
    if path is not None:
        _create_private(path)
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
        writes = conn.get_execution_options().get(WRITE_TRANSACTION)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine


#: keepalive probes and their interval (seconds): a silent peer is declared dead after
#: idle + KEEPALIVE_COUNT x KEEPALIVE_INTERVAL seconds
KEEPALIVE_INTERVAL = 5
KEEPALIVE_COUNT = 3


def pg_connect_args(
    connect_timeout: float, command_timeout: float | None, keepalives_idle: int
) -> dict[str, Any]:
    """asyncpg's connect arguments: the timeouts, and server-side keepalives (PostgreSQL
    notices a vanished daemon too; its open transaction is then rolled back)."""
    args: dict[str, Any] = {
        "timeout": connect_timeout,
        "server_settings": {
            "tcp_keepalives_idle": str(keepalives_idle),
            "tcp_keepalives_interval": str(KEEPALIVE_INTERVAL),
            "tcp_keepalives_count": str(KEEPALIVE_COUNT),
        },
    }
    if command_timeout is not None:
        args["command_timeout"] = command_timeout
    return args


def _keepalive_socket(idle: int) -> Any:
    """A "connect" listener turning on TCP keepalives (and, on Linux, a bound on unacknowledged
    data) on the socket of each new asyncpg connection: asyncpg sets neither, and without them
    a database that vanishes without a reset is noticed only after the kernel's ~15 minutes."""

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        transport = getattr(getattr(dbapi_connection, "driver_connection", None), "_transport", None)
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is None:
            return
        options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
        for name, value in (
            ("TCP_KEEPIDLE", idle),
            ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
            ("TCP_KEEPCNT", KEEPALIVE_COUNT),
            ("TCP_USER_TIMEOUT", (idle + KEEPALIVE_INTERVAL * KEEPALIVE_COUNT) * 1000),
        ):
            if hasattr(socket, name):
                options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
        for level, option, value in options:
            with contextlib.suppress(OSError):
                sock.setsockopt(level, option, value)

    return on_connect


def begin_write(engine: AsyncEngine) -> AbstractAsyncContextManager[AsyncConnection]:
    """``engine.begin()`` for a transaction that will write (SQLite: ``BEGIN IMMEDIATE``)."""
    return engine.execution_options(**{WRITE_TRANSACTION: True}).begin()


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
