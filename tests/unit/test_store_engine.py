"""SQLite engine settings (durability), UTC columns, and migrations from the package."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import StatementError

from radiusd.store.engine import (
    SQLITE_SUFFIXES,
    begin_write,
    create_engine,
    ensure_schema,
    exposed_sqlite_files,
    head_revision,
    schema_revision,
)
from radiusd.store.models import ChangeLog


async def test_sqlite_pragmas_and_parent_folder(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "radiusd.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    try:
        async with engine.connect() as conn:
            pragmas = {
                name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
    finally:
        await engine.dispose()
    assert path.parent.is_dir()
    assert pragmas["journal_mode"] == "wal"
    assert pragmas["synchronous"] == 2  # FULL: a commit survives power loss
    assert pragmas["foreign_keys"] == 1
    assert int(pragmas["busy_timeout"] or 0) >= 1000


async def test_utc_columns_round_trip_and_refuse_naive(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        assert await schema_revision(engine) is None
        await ensure_schema(engine)
        assert await schema_revision(engine) == head_revision()
        two_pm_plus_two = dt.datetime(2024, 1, 1, 14, tzinfo=dt.timezone(dt.timedelta(hours=2)))
        async with begin_write(engine) as conn:
            await conn.execute(sa.insert(ChangeLog).values(topic="t", created_at=two_pm_plus_two))
        async with engine.connect() as conn:
            stored = (await conn.execute(sa.select(ChangeLog.created_at))).scalar_one()
        assert stored == dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)
        assert stored.tzinfo is dt.UTC
        with pytest.raises(StatementError, match="naive"):
            async with begin_write(engine) as conn:
                await conn.execute(sa.insert(ChangeLog).values(topic="t", created_at=dt.datetime(2024, 1, 1)))
    finally:
        await engine.dispose()


async def test_failed_transaction_leaves_nothing(sqlite_url: str) -> None:
    """BEGIN is emitted explicitly, so a read and the writes after it are one atomic transaction."""
    engine = create_engine(sqlite_url)
    try:
        await ensure_schema(engine)
        with pytest.raises(RuntimeError):
            async with begin_write(engine) as conn:
                await conn.execute(sa.insert(ChangeLog).values(topic="t", created_at=dt.datetime.now(dt.UTC)))
                raise RuntimeError("boom")
        async with engine.connect() as conn:
            assert (await conn.execute(sa.select(sa.func.count()).select_from(ChangeLog))).scalar_one() == 0
    finally:
        await engine.dispose()


async def test_a_new_sqlite_database_is_private(tmp_path: Path) -> None:
    """Folder 0700, database, -wal and -shm 0600, whatever the umask lets through."""
    path = tmp_path / "state" / "radiusd.sqlite3"
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    try:
        await ensure_schema(engine)
        async with engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
            files = {s: Path(f"{path}{s}") for s in SQLITE_SUFFIXES}
            assert all(f.exists() for f in files.values())
            modes = {s: stat.S_IMODE(f.stat().st_mode) for s, f in files.items()}
    finally:
        await engine.dispose()
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert modes == {"": 0o600, "-wal": 0o600, "-shm": 0o600}
    assert exposed_sqlite_files(url) == []


def test_exposed_sqlite_files_lists_what_others_may_read(tmp_path: Path) -> None:
    path = tmp_path / "radiusd.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    assert exposed_sqlite_files(url) == []  # not created yet
    path.write_bytes(b"")
    Path(f"{path}-wal").write_bytes(b"")
    path.chmod(0o644)
    Path(f"{path}-wal").chmod(0o600)
    assert exposed_sqlite_files(url) == [(path, 0o644)]
    path.chmod(0o620)
    assert exposed_sqlite_files(url) == [(path, 0o620)]
    path.chmod(0o700)  # the execute bit gives nobody the contents
    assert exposed_sqlite_files(url) == []
    assert exposed_sqlite_files("postgresql://u@h/db") == []
    assert exposed_sqlite_files("sqlite:///:memory:") == []
