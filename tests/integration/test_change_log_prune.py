"""The daemon prunes the change feed it has read (radiusd.daemon.Daemon.prune_change_log).

Every CLI write appends a change_log row; without pruning the table grows forever. A row goes
only when this daemon has read it and it is older than ``change_log_retention`` (other daemons
on the same database poll every second). SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa

from radiusd.config import load_settings
from radiusd.daemon import Daemon
from radiusd.store import plans
from radiusd.store.engine import ensure_schema
from radiusd.store.models import ChangeLog


async def rows(d: Daemon) -> list[tuple[str, str | None]]:
    async with d.engine.connect() as conn:
        result = await conn.execute(sa.select(ChangeLog.topic, ChangeLog.key).order_by(ChangeLog.id))
        return [(t, k) for t, k in result]


async def test_read_rows_older_than_the_retention_go_unread_and_recent_ones_stay(
    db_url: str, migrated_db: None, tmp_path: Path
) -> None:
    d = Daemon(load_settings(database_url=db_url, data_dir=tmp_path, change_log_retention=3600.0))
    try:
        await ensure_schema(d.engine)
        await d.reload_all()
        await plans.add_plan(d.engine, "bronze")
        await plans.add_plan(d.engine, "silver")
        assert await d.apply_changes() == 2  # read: the daemon's position is past both
        await plans.add_plan(d.engine, "gold")  # not read yet
        assert await d.prune_change_log() == 0  # all younger than an hour
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
        assert await d.prune_change_log(now=later) == 2
        assert await rows(d) == [("plan", "gold")]  # unread: kept however old
        assert await d.apply_changes() == 1 and "gold" in d.directory.plans
        assert await d.prune_change_log(now=later) == 1 and await rows(d) == []
    finally:
        await d.engine.dispose()
