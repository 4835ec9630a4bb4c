"""Fixtures shared by the whole suite: database URLs, one fresh database per test.

pytest-asyncio 1.x runs in auto mode with a loop per test (pyproject.toml); there is no
``event_loop`` / ``event_loop_policy`` fixture here on purpose. The PostgreSQL fixtures are
plain (sync) fixtures that do their asyncpg work on a private loop in a helper thread, so they
serve sync tests (CLI through subprocess) and async tests alike without touching the test's loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
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


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for this test, dropped afterwards.

    Unreachable server: skipped, except under CI=true, where a silently skipped backend would
    let the PostgreSQL half of the suite rot unnoticed.
    """
    name = f"radiusd_test_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    try:
        _run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, TimeoutError) as exc:
        message = f"PostgreSQL at {PG_HOST}:{PG_PORT} is unreachable: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        _run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest) -> str:
    """The same test once on SQLite and once on PostgreSQL."""
    url: str = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    return url


@pytest.fixture
async def store_engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a freshly migrated database, per backend of ``db_url``."""
    from radiusd.store.engine import create_engine, ensure_schema

    engine = create_engine(db_url)
    await ensure_schema(engine)
    yield engine
    await engine.dispose()
