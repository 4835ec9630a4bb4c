"""Plan CRUD for the CLI and admin API; each write also appends to the change feed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import validate
from .changes import TOPIC_PLAN, TOPIC_SUBSCRIBER, record_change
from .engine import begin_write
from .errors import Conflict, InvalidInput, NotFound
from .models import Plan, Subscriber, utcnow
from .records import PlanRecord
from .refs import require_pool
from .snapshot import PLAN_SELECT
from .validate import UNSET, Unset, given


async def _fetch(conn: AsyncConnection, name: str) -> PlanRecord:
    row = (await conn.execute(PLAN_SELECT.where(Plan.name == name))).mappings().first()
    if row is None:
        raise NotFound(f"plan {name!r} does not exist")
    return PlanRecord.from_row(row)


def _optional_name(value: str | None, what: str) -> str | None:
    text = validate.blank_to_none(value)
    return None if text is None else validate.name(text, what)


def _rate_limit(name: str, value: str | None) -> str | None:
    text = validate.blank_to_none(value)
    if text is not None and len(text) > 255:
        raise InvalidInput(f"plan {name!r}: rate limit is longer than 255 characters")
    return text


#: plan field -> (column, check); each check returns the normalised column value
_FIELDS: dict[str, tuple[str, Any]] = {
    "description": ("description", validate.blank_to_none),
    "pool": ("pool_name", lambda v: _optional_name(v, "pool name")),
    "walled_garden_pool": ("walled_garden_pool", lambda v: _optional_name(v, "walled-garden pool name")),
    "session_timeout": ("session_timeout", lambda v: validate.positive_int(v, "session timeout")),
    "interim_interval": ("interim_interval", lambda v: validate.positive_int(v, "interim interval")),
    "simultaneous_use": ("simultaneous_use", lambda v: validate.positive_int(v, "simultaneous use")),
    "reply_attributes": ("reply_attributes", lambda v: validate.known_reply_attributes(v or ())),
}


def _columns(name: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Column values of the plan fields given (checked; InvalidInput names the bad one)."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key == "rate_limit":
            out["rate_limit"] = _rate_limit(name, value)
        else:
            column, check = _FIELDS[key]
            out[column] = check(value)
    return out


async def _check_pools(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await require_pool(conn, values.get("pool_name"))
    await require_pool(conn, values.get("walled_garden_pool"), "walled-garden pool")


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
    """Create a plan; its pools must exist and its reply attributes must be in the dictionary
    with values of their type (InvalidInput otherwise)."""
    name = validate.name(name, "plan name")
    values = _columns(
        name,
        {
            "description": description, "pool": pool, "walled_garden_pool": walled_garden_pool,
            "rate_limit": rate_limit, "session_timeout": session_timeout,
            "interim_interval": interim_interval, "simultaneous_use": simultaneous_use,
            "reply_attributes": reply_attributes,
        },
    )  # fmt: skip
    now = utcnow()
    try:
        async with begin_write(engine) as conn:
            if (await conn.execute(sa.select(Plan.id).where(Plan.name == name))).first() is not None:
                raise Conflict(f"plan {name!r} already exists")
            await _check_pools(conn, values)
            await conn.execute(sa.insert(Plan).values(name=name, **values, created_at=now, updated_at=now))
            await record_change(conn, TOPIC_PLAN, name)
            return await _fetch(conn, name)
    except IntegrityError:
        raise Conflict(f"plan {name!r} already exists") from None


async def update_plan(
    engine: AsyncEngine,
    name: str,
    *,
    new_name: str | Unset = UNSET,
    pool: str | Unset | None = UNSET,
    rate_limit: str | Unset | None = UNSET,
    session_timeout: int | Unset | None = UNSET,
    interim_interval: int | Unset | None = UNSET,
    simultaneous_use: int | Unset | None = UNSET,
    walled_garden_pool: str | Unset | None = UNSET,
    reply_attributes: Iterable[tuple[str, str]] | Unset = UNSET,
    description: str | Unset | None = UNSET,
) -> PlanRecord:
    """Change the fields given (None clears one, ``reply_attributes`` replaces the list) and
    rename to ``new_name``; the same checks as :func:`add_plan`. Subscribers keep the plan."""
    given_fields = {
        "pool": pool, "rate_limit": rate_limit, "session_timeout": session_timeout,
        "interim_interval": interim_interval, "simultaneous_use": simultaneous_use,
        "walled_garden_pool": walled_garden_pool, "reply_attributes": reply_attributes,
        "description": description,
    }  # fmt: skip
    values = _columns(name, {k: v for k, v in given_fields.items() if given(v)})
    target = name
    if isinstance(new_name, str):
        target = validate.name(new_name, "plan name")
        values["name"] = target
    try:
        async with begin_write(engine) as conn:
            plan = await _fetch(conn, name)
            if target != name and await conn.scalar(sa.select(Plan.id).where(Plan.name == target)):
                raise Conflict(f"plan {target!r} already exists")
            await _check_pools(conn, values)
            if values:
                await conn.execute(
                    sa.update(Plan).where(Plan.id == plan.id).values(**values, updated_at=utcnow())
                )
                await record_change(conn, TOPIC_PLAN, name)
                if target != name:
                    await record_change(conn, TOPIC_PLAN, target)
            return await _fetch(conn, target)
    except IntegrityError:
        raise Conflict(f"plan {target!r} already exists") from None


async def list_plans(engine: AsyncEngine) -> list[PlanRecord]:
    async with engine.connect() as conn:
        return [PlanRecord.from_row(row) for row in (await conn.execute(PLAN_SELECT)).mappings()]


async def page_plans(
    engine: AsyncEngine, *, limit: int, offset: int = 0, pool: str | None = None
) -> list[PlanRecord]:
    """One page of plans by name (LIMIT/OFFSET in SQL), optionally only those using ``pool``."""
    query = PLAN_SELECT
    if pool is not None:
        query = query.where(sa.or_(Plan.pool_name == pool, Plan.walled_garden_pool == pool))
    async with engine.connect() as conn:
        rows = await conn.execute(query.offset(offset).limit(limit))
        return [PlanRecord.from_row(row) for row in rows.mappings()]


async def get_plan(engine: AsyncEngine, name: str) -> PlanRecord:
    async with engine.connect() as conn:
        return await _fetch(conn, name)


async def remove_plan(
    engine: AsyncEngine, name: str, *, replace: str | None = None, force: bool = False
) -> int:
    """Remove a plan. While subscribers are on it: Conflict naming how many, unless
    ``replace`` (they move to that plan) or ``force`` (they are left without a plan).
    Returns how many subscribers were moved."""
    replace = validate.blank_to_none(replace)
    try:
        async with begin_write(engine) as conn:
            plan = await _fetch(conn, name)
            target_id = None
            if replace is not None:
                if replace == name:
                    raise InvalidInput(f"plan {name!r} cannot be replaced by itself")
                target_id = await conn.scalar(sa.select(Plan.id).where(Plan.name == replace))
                if target_id is None:
                    raise InvalidInput(f"replacement plan {replace!r} does not exist")
            users = (
                await conn.execute(sa.select(sa.func.count()).where(Subscriber.plan_id == plan.id))
            ).scalar_one()
            if users and replace is None and not force:
                raise Conflict(
                    f"plan {name!r} is used by {users} subscriber(s): move them first, "
                    "or give a replacement plan (--replace) or --force"
                )
            if users:
                await conn.execute(
                    sa.update(Subscriber)
                    .where(Subscriber.plan_id == plan.id)
                    .values(plan_id=target_id, updated_at=utcnow())
                )
                await record_change(conn, TOPIC_SUBSCRIBER, None)
            await conn.execute(sa.delete(Plan).where(Plan.id == plan.id))
            await record_change(conn, TOPIC_PLAN, name)
            return int(users)
    except IntegrityError:
        raise Conflict(f"plan {name!r} is still used by subscribers") from None
