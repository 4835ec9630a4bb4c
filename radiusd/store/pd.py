"""The IPv6 prefix-delegation plan against the database: what exists, apply, growth.

The plan itself is pure (:mod:`ipam.pd_plan`). Applying it creates the aggregate and WAN-block
containers, then gives each new site's pool (the pool named after the site: created when
missing, else extended, so a site's CGNAT pool becomes dual-stack) the site's block as its
delegated range (``--delegated BLOCK/56``) and its WAN prefix cut into /64s
(``--ipv6-prefix WAN/64``), through :func:`radiusd.store.pools.add_pool` / ``add_range``,
exactly as ``radiusd pool add`` / ``add-range`` do, so the allocator hands them out like any
pool; the pool and its prefixes are linked to the site.
Each pool is its own transaction: a failure part-way leaves the sites done so far applied,
and running the same plan again skips them (they show as ``exists``).

Growth: new delegations per day over the last 30 days, from the assignment history (the rows
the allocator writes for every prefix it hands out), against the free prefixes of each site.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ipam.errors import IpamError
from ipam.groups import group_of
from ipam.pd_plan import Existing, PdPlan, PlanRefused, plan_pd
from ipam.prefixes import contains

from .engine import begin_write
from .errors import Conflict, InvalidInput
from .models import IPPool, NetworkSite, ServiceIPAssignment
from .pools import add_pool, add_range, list_pools
from .prefix_tree import P, _insert, _lock, _read

WINDOW_DAYS = 30


def pool_name(site: str) -> str:
    """The pool of a site's prefixes: the pool named after the site (its IPv4 CGNAT pool, when
    the operator named it so: the plan then makes that pool dual-stack)."""
    return site


async def _existing(conn: AsyncConnection) -> list[Existing]:
    sites = {
        int(i): str(n) for i, n in (await conn.execute(sa.select(NetworkSite.id, NetworkSite.name))).all()
    }
    pools = {int(i): str(n) for i, n in (await conn.execute(sa.select(IPPool.id, IPPool.name))).all()}
    out = []
    for r in (await conn.execute(sa.select(P))).mappings():
        what = f"pool {group_of(pools[r['pool_id']])!r}" if r["pool_id"] in pools else r["role"]
        site = sites.get(r["site_id"]) if r["site_id"] is not None else None
        out.append(Existing(ipaddress.ip_network(r["prefix"]), r["role"], site, what))
    return out


async def make_plan(
    engine: AsyncEngine, aggregate: str, per_site: str, delegate: str, sites: Sequence[str] | None = None
) -> PdPlan:
    """The plan for ``sites`` (default: every site of the inventory, by name)."""
    async with engine.connect() as conn:
        known = [
            str(n)
            for n in (await conn.execute(sa.select(NetworkSite.name).order_by(NetworkSite.name))).scalars()
        ]
        chosen = list(sites) if sites else known
        missing = [s for s in chosen if s not in known]
        if missing:
            raise InvalidInput(f"site {missing[0]!r} does not exist (add it with 'radiusd site add')")
        if not chosen:
            raise InvalidInput("no sites to plan: add sites first or give --sites")
        existing = await _existing(conn)
    try:
        return plan_pd(aggregate, per_site, delegate, chosen, existing)
    except PlanRefused as exc:
        raise Conflict(str(exc)) from None
    except IpamError as exc:
        raise InvalidInput(str(exc)) from None


async def apply_plan(engine: AsyncEngine, plan: PdPlan) -> PdPlan:
    """Create what ``plan`` says is new (see the module docstring); returns the plan."""
    async with begin_write(engine) as conn:
        await _lock(conn)
        tree = await _read(conn)
        for net, text in (
            (plan.aggregate, "IPv6 aggregate"),
            (plan.wan_block, "WAN /64 prefixes of the sites"),
        ):
            if str(net) not in tree.by_prefix:
                await _insert(conn, tree, net, "container", description=text)
    for site in plan.sites:
        if site.status != "new":
            continue
        name = pool_name(site.site)
        pd_range, wan_range = f"{site.block}/{plan.delegate}", f"{site.wan}/64"
        if name in {p.name for p in await list_pools(engine)}:
            await add_range(engine, name, pd_range, "ipv6-pd")
            await add_range(engine, name, wan_range, "ipv6-wan")
        else:
            await add_pool(engine, name, delegated=[pd_range], ipv6_prefixes=[wan_range])
        async with begin_write(engine) as conn:
            sid = (
                await conn.execute(sa.select(NetworkSite.id).where(NetworkSite.name == site.site))
            ).scalar_one()
            ids = [
                int(i)
                for i in (
                    await conn.execute(
                        sa.select(IPPool.id).where(IPPool.name.in_([name, f"{name}:wan", f"{name}:pd"]))
                    )
                ).scalars()
            ]
            await conn.execute(sa.update(IPPool).where(IPPool.id.in_(ids)).values(site_id=sid))
            await conn.execute(sa.update(P).where(P.c.pool_id.in_(ids)).values(site_id=sid))
    return plan


async def growth(engine: AsyncEngine, *, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Per site with a delegated-prefix pool: free prefixes, new delegations per day over the
    last 30 days, days until it runs out at that pace; ``first`` marks the site that runs out
    first. Sorted by days left (sites not growing last)."""
    now = now or dt.datetime.now(dt.UTC)
    since = now - dt.timedelta(days=WINDOW_DAYS)
    infos = {p.name: p for p in await list_pools(engine)}
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(IPPool.name, IPPool.kind, IPPool.prefix_length, NetworkSite.name.label("site"))
                .join(NetworkSite, NetworkSite.id == IPPool.site_id)
                .where(IPPool.kind == "ipv6-pd")
            )
        ).all()
        out: list[dict[str, Any]] = []
        for row in rows:
            group = group_of(row.name)
            info = infos.get(group)
            if info is None or info.ipv6_pd is None:
                continue
            pd_ranges = [
                ipaddress.ip_network(r.range.rsplit("/", 1)[0]) for r in info.ranges if r.kind == "ipv6-pd"
            ]
            h = ServiceIPAssignment
            recent = (
                await conn.execute(
                    sa.select(h.address).where(h.pool_name == group, h.family == 6, h.assigned_at >= since)
                )
            ).scalars()
            new = sum(
                1
                for a in recent
                if any(contains(r, ipaddress.ip_network(a, strict=False)) for r in pd_ranges)
            )
            free = int(info.ipv6_pd["free"])
            if info.ipv6_wan is not None:
                free = min(free, int(info.ipv6_wan["free"]))
            per_day = round(new / WINDOW_DAYS, 3)
            out.append(
                {
                    "site": row.site,
                    "pool": group,
                    "delegated": int(info.ipv6_pd["allocated"]),
                    "can_take": free,
                    "new_last_30_days": new,
                    "per_day": per_day,
                    "days_left": round(free / per_day, 1) if per_day else None,
                    "first": False,
                }
            )
    out.sort(key=lambda r: (r["days_left"] is None, r["days_left"] or 0, r["site"]))
    if out and out[0]["days_left"] is not None:
        out[0]["first"] = True
    return out
