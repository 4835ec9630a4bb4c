"""The stored pools as the allocator needs them: the rows, a consistent read under the pool lock.

What :mod:`radiusd.store.pools` (pool writes and reports) and :mod:`radiusd.store.leases`
(lease writes and history) share, so neither imports the other: :func:`load_configs` and
:func:`load_leases` (also the daemon's start-up read), the allocator of the stored state
(:func:`ipam.groups.load_allocator`) and the lock that serialises pool writes.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ipam import Allocator, Lease, PoolError
from ipam.groups import PoolConfig, load_allocator, operator_text, rows_of

from .errors import Conflict, NotFound
from .lease_ops import V4, V6, lease_of, lease_select, read_leases
from .models import IPPool, IPv4Network, IPv6Network, Router
from .tables import core_table

TOPIC_POOL = "pool"
_POOL_LOCK = 0x72697061  # "ripa": serialises pool writes on PostgreSQL
_POOLS = core_table(IPPool)
_NETS4 = core_table(IPv4Network)
_NETS6 = core_table(IPv6Network)


def refusal(exc: Exception) -> Conflict:
    """A Conflict carrying an IPAM refusal in the operator's words."""
    return Conflict(operator_text(str(exc)))


async def load_configs(conn: AsyncConnection) -> dict[str, PoolConfig]:
    """Every ``ip_pools`` row with its ranges, keyed by row name."""
    q = sa.select(_POOLS, Router.name.label("nas_name")).outerjoin(Router, Router.id == _POOLS.c.router_id)
    out: dict[str, PoolConfig] = {}
    by_id: dict[int, PoolConfig] = {}
    for r in (await conn.execute(q.order_by(_POOLS.c.name))).mappings():
        cfg = PoolConfig(
            r["id"],
            r["name"],
            r["kind"],
            r["router_id"],
            r["nas_name"],
            r["fallback_pool"],
            r["utilisation_warning_pct"],
            r["prefix_length"],
        )
        out[cfg.name] = by_id[cfg.id] = cfg
    for r in (await conn.execute(sa.select(_NETS4).order_by(_NETS4.c.id))).mappings():
        cfg = by_id[r["pool_id"]]
        cfg.ranges.append(r["cidr"])
        cfg.exclude += [x for x in [r["gateway"], *(r["excluded"] or [])] if x]
    for r in (await conn.execute(sa.select(_NETS6).order_by(_NETS6.c.id))).mappings():
        by_id[r["pool_id"]].ranges.append(f"{r['prefix']}/{r['assign_length']}")
    return out


async def load_leases(conn: AsyncConnection) -> list[Lease]:
    """Every stored lease row as an ipam Lease (``nas`` is the router id as text)."""
    out: list[Lease] = []
    for table, key in ((V4, "address"), (V6, "prefix")):
        rows = await conn.execute(lease_select(table).order_by(table.c.updated_at, table.c.id))
        out.extend(lease_of(r, key) for r in rows.mappings())
    return out


async def load_lease_rows(engine: AsyncEngine, addresses: Iterable[str]) -> dict[str, Lease]:
    """The stored lease rows of ``addresses`` (IPv4 addresses or IPv6 prefixes), by address."""
    async with engine.connect() as conn:
        return await read_leases(conn, addresses)


async def _state(conn: AsyncConnection) -> tuple[dict[str, PoolConfig], Allocator]:
    configs = await load_configs(conn)
    try:
        alloc, _orphans = load_allocator(configs.values(), await load_leases(conn))
    except PoolError as exc:
        raise refusal(exc) from None
    # orphans (rows outside every range) are reported by the daemon, ignored here
    return configs, alloc


async def _lock(conn: AsyncConnection) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_POOL_LOCK)))


def _group(configs: dict[str, PoolConfig], name: str) -> list[PoolConfig]:
    rows = rows_of(configs, name)
    if not rows:
        raise NotFound(f"pool {name!r} does not exist")
    return rows
