"""The node registry (table ``radiusd_nodes``): who runs on this database, and who is alive.

Every time comparison uses the database's clock (``now()``; SQLite: its own ``'now'``), never
a host's: two hosts whose clocks drift apart would otherwise disagree on who is alive. A node
is *alive* while its last heartbeat is within ``DEAD_AFTER`` x its own heartbeat interval,
*stopped* once it marked its clean exit, else *dead* (killed, crashed, host lost).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .models import ClusterNode, UTCDateTime

#: heartbeats a node may miss before it counts as dead
DEAD_AFTER = 3.0

ALIVE, STOPPED, DEAD = "alive", "stopped", "dead"
STATES = (ALIVE, STOPPED, DEAD)


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """What a node says about itself when it registers."""

    id: str
    host: str
    pid: int
    worker: int
    heartbeat_interval: float
    schema_revision: str
    protocol: int
    version: str


@dataclass(frozen=True, slots=True)
class Node:
    """A row of the registry, with its state judged on the database's clock."""

    id: str
    host: str
    pid: int
    worker: int
    started_at: dt.datetime
    heartbeat_at: dt.datetime
    stopped_at: dt.datetime | None
    heartbeat_interval: float
    schema_revision: str
    protocol: int
    version: str
    auth_requests: int
    acct_requests: int
    requests_per_second: float
    heartbeat_age: float  # seconds between the last heartbeat and the database's now
    state: str  # alive | stopped | dead

    @property
    def alive(self) -> bool:
        return self.state == ALIVE

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("started_at", "heartbeat_at", "stopped_at"):
            value = out[key]
            out[key] = value.isoformat() if value is not None else None
        out["heartbeat_age"] = round(self.heartbeat_age, 3)
        out["requests_per_second"] = round(self.requests_per_second, 1)
        return out


def db_now(conn: AsyncConnection) -> sa.ColumnElement[dt.datetime]:
    """The database's current time as an expression (SQLite: millisecond text, read as UTC)."""
    if conn.dialect.name == "sqlite":
        return sa.type_coerce(sa.func.strftime("%Y-%m-%d %H:%M:%f", "now"), UTCDateTime())
    return sa.type_coerce(sa.func.now(), UTCDateTime())


async def database_time(conn: AsyncConnection) -> dt.datetime:
    return (await conn.execute(sa.select(db_now(conn)))).scalar_one()


async def register_node(conn: AsyncConnection, info: NodeInfo) -> None:
    """Insert ``info`` as a live node (its start and first heartbeat: now)."""
    now = db_now(conn)
    await conn.execute(
        sa.insert(ClusterNode).values(
            **asdict(info),
            started_at=now,
            heartbeat_at=now,
            auth_requests=0,
            acct_requests=0,
            requests_per_second=0.0,
        )
    )


async def heartbeat(conn: AsyncConnection, node_id: str, auth: int, acct: int, rate: float) -> bool:
    """Refresh ``node_id``'s heartbeat and counters; False when its row is gone or marked stopped."""
    result = await conn.execute(
        sa.update(ClusterNode)
        .where(ClusterNode.id == node_id, ClusterNode.stopped_at.is_(None))
        .values(heartbeat_at=db_now(conn), auth_requests=auth, acct_requests=acct, requests_per_second=rate)
    )
    return bool(getattr(result, "rowcount", 0))


async def mark_stopped(conn: AsyncConnection, node_id: str, auth: int, acct: int) -> None:
    """Record a clean exit: the node is shown as stopped, not dead."""
    now = db_now(conn)
    await conn.execute(
        sa.update(ClusterNode)
        .where(ClusterNode.id == node_id)
        .values(
            stopped_at=now, heartbeat_at=now, auth_requests=auth, acct_requests=acct, requests_per_second=0.0
        )
    )


async def list_nodes(conn: AsyncConnection) -> list[Node]:
    """Every registered node, sorted by id, each judged alive / stopped / dead at the database's now."""
    now = await database_time(conn)
    table = ClusterNode.__table__
    rows = (await conn.execute(sa.select(table).order_by(table.c.id))).mappings().all()
    return [_judge(dict(row), now) for row in rows]


def _judge(row: dict[str, Any], now: dt.datetime) -> Node:
    age = max(0.0, (now - row["heartbeat_at"]).total_seconds())
    if row["stopped_at"] is not None:
        state = STOPPED
    elif age <= DEAD_AFTER * row["heartbeat_interval"]:
        state = ALIVE
    else:
        state = DEAD
    return Node(**row, heartbeat_age=age, state=state)


async def prune_nodes(conn: AsyncConnection, older_than: float) -> int:
    """Delete the rows of nodes stopped or silent for more than ``older_than`` seconds; how many.

    Without it every restart (and every worker a supervisor restarts) leaves a row forever.
    """
    now = await database_time(conn)
    cutoff = now - dt.timedelta(seconds=older_than)
    result = await conn.execute(sa.delete(ClusterNode).where(ClusterNode.heartbeat_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
