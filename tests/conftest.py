"""Fixtures shared by the whole suite: database URLs, one fresh database per test.

pytest-asyncio 1.x runs in auto mode with a loop per test (pyproject.toml); there is no
``event_loop`` / ``event_loop_policy`` fixture here on purpose. The PostgreSQL fixtures are
plain (sync) fixtures that do their asyncpg work on a private loop in a helper thread, so they
serve sync tests (CLI through subprocess) and async tests alike without touching the test's loop.

Migrating a database takes about 0.4 s on SQLite and 0.5 s on PostgreSQL, and over a hundred tests
need one: ``store_engine`` (and any test or fixture that requests ``migrated_db``) gets a copy of a
database migrated once per session instead (a file copy; ``CREATE DATABASE ... TEMPLATE``). The
copy is still handed to ``ensure_schema``, which finds it at head. ``db_url`` without
``migrated_db`` stays an empty database, for the tests of migrations and of first use.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

PG_HOST = os.environ.get("RADIUSD_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("RADIUSD_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("RADIUSD_TEST_PG_USER", "postgres")


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres", timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file in the test's own temporary folder (created on first use)."""
    return f"sqlite+aiosqlite:///{(tmp_path / 'radiusd.sqlite3').as_posix()}"


def _unreachable(exc: BaseException) -> None:
    """Skip locally; fail under CI=true, where a silently skipped backend would rot unnoticed."""
    message = f"PostgreSQL at {PG_HOST}:{PG_PORT} is unreachable: {exc}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _pg_database(prefix: str, template: str | None = None) -> str:
    """Create a uniquely named PostgreSQL database (a copy of ``template`` if given); its name."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
    try:
        _run(_admin(sql))
    except (OSError, TimeoutError) as exc:
        _unreachable(exc)
    return name


def _pg_url(name: str) -> str:
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def _drop_pg_database(name: str) -> None:
    _run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _migrate(url: str) -> None:
    from radiusd.store.engine import create_engine, ensure_schema

    engine = create_engine(url)
    try:
        await ensure_schema(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for this test, dropped afterwards.

    Unreachable server: skipped, except under CI=true, where a silently skipped backend would
    let the PostgreSQL half of the suite rot unnoticed.
    """
    name = _pg_database("radiusd_test")
    try:
        yield _pg_url(name)
    finally:
        _drop_pg_database(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session (WAL checkpointed into the file)."""
    path = tmp_path_factory.mktemp("template") / "radiusd.sqlite3"
    _run(_migrate(f"sqlite+aiosqlite:///{path.as_posix()}"))
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """The name of a PostgreSQL database migrated to head once per session, dropped at the end.

    Nothing stays connected to it: ``CREATE DATABASE ... TEMPLATE`` needs it idle.
    """
    name = _pg_database("radiusd_template")
    try:
        _run(_migrate(_pg_url(name)))
        yield name
    finally:
        _drop_pg_database(name)


@pytest.fixture
def migrated_db() -> None:
    """Request this (with ``db_url``) for a database already at the head revision."""


def _migrated_sqlite_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue("sqlite_url")
    template: Path = request.getfixturevalue("sqlite_template")
    target = Path(url.removeprefix("sqlite+aiosqlite:///"))
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal"):  # the WAL is normally folded into the file when the engine closes
        if Path(f"{template}{suffix}").exists():
            shutil.copyfile(f"{template}{suffix}", f"{target}{suffix}")
            os.chmod(f"{target}{suffix}", 0o600)  # as radiusd creates it (serve refuses others)
    return url


def _migrated_pg_url(request: pytest.FixtureRequest) -> str:
    template: str = request.getfixturevalue("pg_template")
    name = _pg_database("radiusd_test", template=template)
    request.addfinalizer(lambda: _drop_pg_database(name))
    return _pg_url(name)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest) -> str:
    """The same test once on SQLite and once on PostgreSQL.

    Empty, unless the test (or one of its fixtures) requests ``migrated_db``: then a copy of
    the session's database at head.
    """
    if "migrated_db" in request.fixturenames:
        if request.param == "sqlite":
            return _migrated_sqlite_url(request)
        return _migrated_pg_url(request)
    url: str = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    return url


@pytest.fixture
async def store_engine(db_url: str, migrated_db: None) -> AsyncIterator[AsyncEngine]:
    """An engine on a freshly migrated database, per backend of ``db_url``.

    The database is a copy of the session's migrated one; ``ensure_schema`` still runs (and
    finds nothing to do), as the daemon and the CLI would run it.
    """
    from radiusd.store.engine import create_engine, ensure_schema

    engine = create_engine(db_url)
    await ensure_schema(engine)
    yield engine
    await engine.dispose()
