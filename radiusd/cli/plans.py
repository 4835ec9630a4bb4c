"""``radiusd plan``: service plans (reply attributes, rate limits, pools)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import click

from radiusd.cli.context import run_store
from radiusd.cli.output import json_option, pick_columns, print_json, print_record, render

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
def plan_remove(name: str) -> None:
    """Remove a plan (refused while subscribers are on it)."""
    from radiusd.store.plans import remove_plan

    async def go(engine: AsyncEngine) -> None:
        await remove_plan(engine, name)

    run_store(go)
    click.echo(f"removed plan {name!r}")
