"""Demo data for ``radiusd serve --demo``: a NAS on 127.0.0.1, a plan and a subscriber.

Seeding is idempotent: what already exists is left as it is, so ``serve --demo`` can be run
again and again on the same database. The demo NAS does not require Message-Authenticator
because ``radtest`` does not send one by default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

DEMO_NAS = "demo-nas"
DEMO_NAS_ADDRESS = "127.0.0.1"
DEMO_SECRET = "testing123"
DEMO_PLAN = "demo-10M"
DEMO_POOL = "demo-pool"
DEMO_POOL_RANGE = "100.64.0.0/24"
DEMO_USER = "demo"
DEMO_PASSWORD = "demo-password"
RADTEST_LINE = f"radtest {DEMO_USER} {DEMO_PASSWORD} {DEMO_NAS_ADDRESS} 0 {DEMO_SECRET}"


async def seed_demo_pool(engine: AsyncEngine) -> str | None:
    """Create the demo address pool (100.64.0.0/24, RFC 6598 space) when missing; its name."""
    from radiusd.store.errors import NotFound
    from radiusd.store.pools import add_pool, get_pool

    try:
        await get_pool(engine, DEMO_POOL)
    except NotFound:
        await add_pool(engine, DEMO_POOL, ranges=[DEMO_POOL_RANGE])
    return DEMO_POOL


async def seed_demo(engine: AsyncEngine) -> None:
    """Create the demo NAS, plan and subscriber when missing, then print the radtest line."""
    from radiusd.store.errors import NotFound
    from radiusd.store.nas import add_nas, list_nas
    from radiusd.store.plans import add_plan, get_plan
    from radiusd.store.subscribers import add_subscriber, get_subscriber

    pool = await seed_demo_pool(engine)

    if not any(str(n.address) == DEMO_NAS_ADDRESS for n in await list_nas(engine)):
        await add_nas(
            engine,
            DEMO_NAS,
            DEMO_NAS_ADDRESS,
            DEMO_SECRET,
            vendor="mikrotik",
            require_message_authenticator=False,
            description="demo NAS (radtest on this machine)",
        )
    try:
        await get_plan(engine, DEMO_PLAN)
    except NotFound:
        await add_plan(engine, DEMO_PLAN, rate_limit="10M/10M", interim_interval=300, pool=pool)
    try:
        await get_subscriber(engine, DEMO_USER)
    except NotFound:
        await add_subscriber(engine, DEMO_USER, DEMO_PASSWORD, plan=DEMO_PLAN)
    click.echo(RADTEST_LINE)
