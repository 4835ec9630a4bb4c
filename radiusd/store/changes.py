"""The change feed (change_log table): how CLI/API writes reach the running daemon without restart.

Every CRUD write appends ``(topic, key)`` in its own transaction; the daemon polls
:func:`changes_since` and reloads what changed (key None = the whole topic).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .models import ChangeLog, utcnow

TOPIC_NAS = "nas"
TOPIC_PLAN = "plan"
TOPIC_SUBSCRIBER = "subscriber"
TOPIC_SESSION = "session"  # key: Acct-Unique-Session-Id of a session closed outside the daemon

# PostgreSQL hands out ids at INSERT, not at COMMIT: without this lock a reader could see id 6
# committed, move its cursor past 5, and never see 5 when it commits later. The advisory lock,
# held until commit, makes change_log ids become visible in order. (SQLite has one writer anyway.)
_CHANGE_LOG_LOCK = 0x72616469  # "radi"


async def record_change(conn: AsyncConnection, topic: str, key: str | None = None) -> None:
    """Append one change in the caller's transaction (key None: reload the whole topic)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_CHANGE_LOG_LOCK)))
    await conn.execute(sa.insert(ChangeLog).values(topic=topic, key=key, created_at=utcnow()))


async def current_change_id(conn: AsyncConnection) -> int:
    """The newest change id (0 when none); read it *before* loading a snapshot, then poll from it."""
    return int((await conn.execute(sa.select(sa.func.coalesce(sa.func.max(ChangeLog.id), 0)))).scalar_one())


async def changes_since(conn: AsyncConnection, last_id: int) -> tuple[int, list[tuple[str, str | None]]]:
    """Changes after ``last_id`` in order, and the id to poll from next time."""
    query = sa.select(ChangeLog.id, ChangeLog.topic, ChangeLog.key).where(ChangeLog.id > last_id)
    rows = (await conn.execute(query.order_by(ChangeLog.id))).all()
    if not rows:
        return last_id, []
    return rows[-1].id, [(row.topic, row.key) for row in rows]


async def prune_changes(conn: AsyncConnection, before_id: int, older_than: dt.datetime | None = None) -> int:
    """Delete changes with id < ``before_id`` (read already), and when ``older_than`` is given
    only those created before it (other daemons on the same database poll every second, so
    after a day or more they have read them too); returns how many."""
    query = sa.delete(ChangeLog).where(ChangeLog.id < before_id)
    if older_than is not None:
        query = query.where(ChangeLog.created_at < older_than)
    result = await conn.execute(query)
    return int(result.rowcount)
