"""The Alembic migrations build exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.store.engine import (
    alembic_config,
    create_engine,
    ensure_schema,
    head_revision,
    schema_revision,
    upgrade_database,
)
from radiusd.store.partitions import include_object_for
from radiusd.store.schema import metadata


async def _diff(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:

        def compare(sync_conn: sa.Connection) -> list[Any]:
            include = include_object_for(sync_conn.dialect.name)  # partitions are not models
            context = MigrationContext.configure(
                sync_conn, opts={"compare_type": True, "include_object": include}
            )
            return list(compare_metadata(context, metadata))

        return await conn.run_sync(compare)


async def test_migrated_schema_matches_models(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no alembic.ini in the cwd: the config is built in code
    engine = create_engine(db_url)
    try:
        assert await schema_revision(engine) is None
        upgrade_database(db_url)
        upgrade_database(db_url)  # idempotent
        assert await schema_revision(engine) == head_revision()
        assert await _diff(engine) == []
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
        assert set(metadata.tables) <= tables
    finally:
        await engine.dispose()


async def test_concurrent_first_migrations_take_turns(db_url: str) -> None:
    engines = [create_engine(db_url) for _ in range(3)]
    try:
        await asyncio.gather(*(ensure_schema(engine) for engine in engines))
        assert await schema_revision(engines[0]) == head_revision()
    finally:
        for engine in engines:
            await engine.dispose()


async def test_downgrade_to_base_and_back(db_url: str) -> None:
    upgrade_database(db_url)
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:

            def downgrade(sync_conn: sa.Connection) -> None:
                cfg = alembic_config()
                cfg.attributes["connection"] = sync_conn
                command.downgrade(cfg, "base")

            await conn.run_sync(downgrade)
            remaining = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
        assert remaining.isdisjoint(metadata.tables)
        upgrade_database(db_url)
        assert await _diff(engine) == []
    finally:
        await engine.dispose()


def test_database_constraints_hold_without_the_crud_layer(sqlite_url: str) -> None:
    """CHECK and UNIQUE are the database's: a raw INSERT cannot break them either."""
    upgrade_database(sqlite_url)
    engine = sa.create_engine(sqlite_url.replace("+aiosqlite", ""))
    insert = (
        "INSERT INTO subscribers (username, credential, status, reply_attributes, created_at, updated_at)"
        " VALUES (:username, 'cleartext:x', :status, '[]', '2024-01-01 00:00:00', '2024-01-01 00:00:00')"
    )
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(insert), {"username": "a", "status": "active"})
        for bad in ({"username": "b", "status": "frozen"}, {"username": "a", "status": "active"}):
            with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
                conn.execute(sa.text(insert), bad)
    finally:
        engine.dispose()
