"""``radiusd plan``: service plans (reply attributes, rate limits, pools)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import click

from radiusd.cli.context import run_store
from radiusd.cli.listing import render
from radiusd.cli.output import json_option, pick_columns, print_json, print_record

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

COLUMNS = (
    "name",
    "rate_limit",
    "session_timeout",
    "interim_interval",
    "simultaneous_use",
    "pool",
    "walled_garden_pool",
    "reply_attributes",
)


def parse_reply(
    ctx: click.Context | None, param: click.Parameter | None, values: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    """``ATTR=VALUE`` strings as (attribute, value) pairs, in the order given."""
    pairs: list[tuple[str, str]] = []
    for item in values:
        attr, sep, value = item.partition("=")
        attr = attr.strip()
        if not sep or not attr:
            raise click.BadParameter(f"expected ATTR=VALUE, got {item!r}", ctx=ctx, param=param)
        pairs.append((attr, value))
    return tuple(pairs)


RATE = r"\d+(\.\d+)?[kKmMgG]?"
RATE_LIMIT = re.compile(rf"{RATE}/{RATE}(\s+\S+)*")


def check_rate_limit(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``RX/TX`` (e.g. 10M/20M), optionally followed by the vendor's burst/priority fields."""
    if value is None:
        return None
    value = value.strip()
    if not RATE_LIMIT.fullmatch(value):
        raise click.BadParameter(f"{value!r} is not RX/TX like 10M/20M", ctx, param)
    return value


@click.group()
def plan() -> None:
    """Service plans: what a subscriber gets in the Access-Accept."""


@plan.command("add")
@click.argument("name")
@click.option("--rate-limit", metavar="RX/TX", callback=check_rate_limit, help='Rate limit, e.g. "10M/20M".')
@click.option("--session-timeout", type=click.IntRange(min=1), metavar="S", help="Session-Timeout (s).")
@click.option(
    "--interim-interval", type=click.IntRange(min=1), metavar="S", help="Acct-Interim-Interval (s)."
)
@click.option("--simultaneous-use", type=click.IntRange(min=1), metavar="N", help="Sessions allowed at once.")
@click.option("--pool", metavar="P", help="Address pool for subscribers of this plan.")
@click.option(
    "--walled-garden-pool", metavar="P", help="Pool for suspended subscribers (accepted, not rejected)."
)
@click.option(
    "--reply",
    "reply",
    multiple=True,
    metavar="ATTR=VALUE",
    callback=parse_reply,
    help="Extra reply attribute (repeatable), e.g. --reply Cisco-AVPair=ip:addr-pool=x.",
)
@click.option("--description", help="Free text.")
@json_option
def plan_add(
    name: str,
    rate_limit: str | None,
    session_timeout: int | None,
    interim_interval: int | None,
    simultaneous_use: int | None,
    pool: str | None,
    walled_garden_pool: str | None,
    reply: tuple[tuple[str, str], ...],
    description: str | None,
    as_json: bool,
) -> None:
    """Add a plan NAME."""
    from radiusd.store.plans import add_plan

    async def go(engine: AsyncEngine) -> Any:
        return await add_plan(
            engine,
            name,
            pool=pool,
            rate_limit=rate_limit,
            session_timeout=session_timeout,
            interim_interval=interim_interval,
            simultaneous_use=simultaneous_use,
            walled_garden_pool=walled_garden_pool,
            reply_attributes=reply,
            description=description,
        )

    record = run_store(go)
    if as_json:
        print_json(record.to_json())
    else:
        click.echo(f"added plan {record.name!r}")


@plan.command("list")
@json_option
def plan_list(as_json: bool) -> None:
    """List the plans."""
    from radiusd.store.plans import list_plans

    records = [r.to_json() for r in run_store(list_plans)]
    render(records, pick_columns(records, COLUMNS), as_json=as_json, empty="no plans")


@plan.command("show")
@click.argument("name")
@json_option
def plan_show(name: str, as_json: bool) -> None:
    """Show one plan."""
    from radiusd.store.plans import get_plan

    async def go(engine: AsyncEngine) -> Any:
        return await get_plan(engine, name)

    data = run_store(go).to_json()
    if as_json:
        print_json(data)
    else:
        print_record(data)


@plan.command("remove")
@click.argument("name")
@click.option("--replace", metavar="PLAN", help="Move the plan's subscribers to PLAN first.")
@click.option("--force", is_flag=True, help="Leave the plan's subscribers without a plan.")
def plan_remove(name: str, replace: str | None, force: bool) -> None:
    """Remove a plan (refused while subscribers are on it, unless --replace or --force)."""
    from radiusd.store.plans import remove_plan

    if replace is not None and force:
        raise click.UsageError("--replace and --force exclude each other")

    async def go(engine: AsyncEngine) -> int:
        return await remove_plan(engine, name, replace=replace, force=force)

    moved = run_store(go)
    click.echo(f"removed plan {name!r}")
    if moved:
        where = f"moved to plan {replace!r}" if replace else "left without a plan"
        click.echo(f"{moved} subscriber(s) {where}")


CLEARABLE = (
    "rate-limit", "session-timeout", "interim-interval", "simultaneous-use", "pool",
    "walled-garden-pool", "reply", "description",
)  # fmt: skip


@plan.command("set")
@click.argument("name")
@click.option("--rate-limit", metavar="RX/TX", callback=check_rate_limit, help='Rate limit, e.g. "10M/20M".')
@click.option("--session-timeout", type=click.IntRange(min=1), metavar="S", help="Session-Timeout (s).")
@click.option(
    "--interim-interval", type=click.IntRange(min=1), metavar="S", help="Acct-Interim-Interval (s)."
)
@click.option("--simultaneous-use", type=click.IntRange(min=1), metavar="N", help="Sessions allowed at once.")
@click.option("--pool", metavar="P", help="Address pool (must exist).")
@click.option("--walled-garden-pool", metavar="P", help="Pool for suspended subscribers (must exist).")
@click.option(
    "--reply",
    "reply",
    multiple=True,
    metavar="ATTR=VALUE",
    callback=parse_reply,
    help="Reply attribute (repeatable); the given list replaces the plan's.",
)
@click.option("--description", help="Free text.")
@click.option(
    "--clear", "clear", multiple=True, type=click.Choice(CLEARABLE), help="Clear this field (repeatable)."
)
@json_option
def plan_set(
    name: str,
    rate_limit: str | None,
    session_timeout: int | None,
    interim_interval: int | None,
    simultaneous_use: int | None,
    pool: str | None,
    walled_garden_pool: str | None,
    reply: tuple[tuple[str, str], ...],
    description: str | None,
    clear: tuple[str, ...],
    as_json: bool,
) -> None:
    """Change plan NAME; its subscribers get it at their next login (the daemon reloads it)."""
    changes: dict[str, Any] = {
        "rate_limit": rate_limit, "session_timeout": session_timeout, "interim_interval": interim_interval,
        "simultaneous_use": simultaneous_use, "pool": pool, "walled_garden_pool": walled_garden_pool,
        "description": description, "reply_attributes": reply or None,
    }  # fmt: skip
    changes = {key: value for key, value in changes.items() if value is not None}
    for field in clear:
        key = "reply_attributes" if field == "reply" else field.replace("-", "_")
        if key in changes:
            raise click.UsageError(f"--clear {field} and --{field} exclude each other")
        changes[key] = () if key == "reply_attributes" else None
    if not changes:
        raise click.UsageError("nothing to change: give at least one option")
    _update(name, changes, as_json)


@plan.command("rename")
@click.argument("name")
@click.argument("new_name")
@json_option
def plan_rename(name: str, new_name: str, as_json: bool) -> None:
    """Rename plan NAME to NEW_NAME (its subscribers stay on it)."""
    _update(name, {"new_name": new_name}, as_json)


def _update(name: str, changes: dict[str, Any], as_json: bool) -> None:
    from radiusd.store.plans import update_plan

    async def go(engine: AsyncEngine) -> Any:
        return await update_plan(engine, name, **changes)

    record = run_store(go)
    if as_json:
        print_json(record.to_json())
    else:
        click.echo(f"updated plan {record.name!r}")
