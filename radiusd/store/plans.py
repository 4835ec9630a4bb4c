"""Plan CRUD for the CLI and admin API; each write also appends to the change feed."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import validate
from .changes import TOPIC_PLAN, record_change
from .engine import begin_write
from .errors import Conflict, InvalidInput, NotFound
from .models import Plan, Subscriber, utcnow
from .records import PlanRecord
from .snapshot import PLAN_SELECT


async def _fetch(conn: AsyncConnection, name: str) -> PlanRecord:
    row = (await conn.execute(PLAN_SELECT.where(Plan.name == name))).mappings().first()
    if row is None:
        raise NotFound(f"plan {name!r} does not exist")
    return PlanRecord.from_row(row)


def _optional_name(value: str | None, what: str) -> str | None:
    text = validate.blank_to_none(value)
    return None if text is None else validate.name(text, what)


async def add_plan(
    engine: AsyncEngine,
    name: str,
    *,
    pool: str | None = None,
    rate_limit: str | None = None,
    session_timeout: int | None = None,
    interim_interval: int | None = None,
    simultaneous_use: int | None = None,
    walled_garden_pool: str | None = None,
    reply_attributes: Iterable[tuple[str, str]] = (),
    description: str | None = None,
) -> PlanRecord:
    """Create a plan. Pool names are not checked: a plan may name a pool that is created later."""
    name = validate.name(name, "plan name")
    values = {
        "name": name,
        "description": description,
        "pool_name": _optional_name(pool, "pool name"),
        "walled_garden_pool": _optional_name(walled_garden_pool, "walled-garden pool name"),
        "rate_limit": validate.blank_to_none(rate_limit),
        "session_timeout": validate.positive_int(session_timeout, "session timeout"),
        "interim_interval": validate.positive_int(interim_interval, "interim interval"),
        "simultaneous_use": validate.positive_int(simultaneous_use, "simultaneous use"),
        "reply_attributes": validate.reply_attributes(reply_attributes),
    }
    if values["rate_limit"] is not None and len(str(values["rate_limit"])) > 255:
        raise InvalidInput(f"plan {name!r}: rate limit is longer than 255 characters")
    now = utcnow()
    try:
        async with begin_write(engine) as conn:
            if (await conn.execute(sa.select(Plan.id).where(Plan.name == name))).first() is not None:
                raise Conflict(f"plan {name!r} already exists")
            await conn.execute(sa.insert(Plan).values(**values, created_at=now, updated_at=now))
            await record_change(conn, TOPIC_PLAN, name)
            return await _fetch(conn, name)
    except IntegrityError:
        raise Conflict(f"plan {name!r} already exists") from None


async def list_plans(engine: AsyncEngine) -> list[PlanRecord]:
    async with engine.connect() as conn:
        return [PlanRecord.from_row(row) for row in (await conn.execute(PLAN_SELECT)).mappings()]


async def get_plan(engine: AsyncEngine, name: str) -> PlanRecord:
    async with engine.connect() as conn:
        return await _fetch(conn, name)


async def remove_plan(engine: AsyncEngine, name: str) -> None:
    """Remove a plan; Conflict while subscribers are on it (move them first)."""
    try:
        async with begin_write(engine) as conn:
            plan = await _fetch(conn, name)
            users = (
                await conn.execute(sa.select(sa.func.count()).where(Subscriber.plan_id == plan.id))
            ).scalar_one()
            if users:
                raise Conflict(f"plan {name!r} is used by {users} subscriber(s)")
            await conn.execute(sa.delete(Plan).where(Plan.id == plan.id))
            await record_change(conn, TOPIC_PLAN, name)
    except IntegrityError:
        raise Conflict(f"plan {name!r} is still used by subscribers") from None
