"""SQLite engine settings (durability), UTC columns, and migrations from the package."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import StatementError

from radiusd.store.engine import begin_write, create_engine, ensure_schema, head_revision, schema_revision
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
