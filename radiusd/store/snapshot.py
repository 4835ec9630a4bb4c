"""What the daemon loads into memory at start and after each change (no database on the hot path).

Start-up: ``last = await current_change_id(conn)`` *then* load the snapshots, then poll
``changes_since(conn, last)``; a change committed during the load is applied again (harmless).
The SELECTs here are also what the CRUD ``get``/``list`` functions use, so the daemon and the CLI
see the same records.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .changes import changes_since, current_change_id
from .models import Plan, Router, Subscriber
from .records import NasRecord, PlanRecord, SubscriberRecord

__all__ = [
    "IN_CHUNK",
    "NAS_SELECT",
    "PLAN_SELECT",
    "SUBSCRIBER_SELECT",
    "changes_since",
    "current_change_id",
    "load_nas_all",
    "load_plans",
    "load_subscribers",
]

NAS_SELECT = sa.select(Router.__table__).order_by(Router.name)
PLAN_SELECT = sa.select(Plan.__table__).order_by(Plan.name)
SUBSCRIBER_SELECT = (
    sa.select(Subscriber.__table__, Plan.name.label("plan_name"))
    .outerjoin(Plan, Subscriber.plan_id == Plan.id)
    .order_by(Subscriber.username)
)
# Rows per IN (...) list or INSERT batch: well under SQLite's and asyncpg's bound-parameter limits.
IN_CHUNK = 500


async def load_nas_all(conn: AsyncConnection) -> dict[str, NasRecord]:
    """Every NAS, keyed by its normalised address (the source address a packet arrives from)."""
    result = await conn.execute(NAS_SELECT)
    return {row["nas_address"]: NasRecord.from_row(row) for row in result.mappings()}


async def load_plans(conn: AsyncConnection) -> dict[str, PlanRecord]:
    """Every plan, keyed by name."""
    result = await conn.execute(PLAN_SELECT)
    return {row["name"]: PlanRecord.from_row(row) for row in result.mappings()}


async def load_subscribers(
    conn: AsyncConnection, usernames: Iterable[str] | None = None
) -> dict[str, SubscriberRecord]:
    """Subscribers keyed by username: all of them, or only ``usernames``.

    A requested username missing from the result was removed: the daemon drops it from memory.
    """
    from .prefix_routes import with_routes  # routed subnets as Framed-Route / Framed-IPv6-Route

    if usernames is None:
        result = await conn.execute(SUBSCRIBER_SELECT)
        return await with_routes(
            conn, {row["username"]: SubscriberRecord.from_row(row) for row in result.mappings()}
        )
    wanted = list(dict.fromkeys(usernames))
    out: dict[str, SubscriberRecord] = {}
    for start in range(0, len(wanted), IN_CHUNK):
        chunk = wanted[start : start + IN_CHUNK]
        result = await conn.execute(SUBSCRIBER_SELECT.where(Subscriber.username.in_(chunk)))
        out.update((row["username"], SubscriberRecord.from_row(row)) for row in result.mappings())
    return await with_routes(conn, out)
