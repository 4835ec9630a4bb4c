"""Alembic 0015 on a database with pools: every pool range becomes a ``pool`` prefix linked to
its pool (with the pool's site); the pools, their leases and their figures do not change; a
container added afterwards adopts them; downgrade and upgrade again."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.store.engine import create_engine, upgrade_database
from radiusd.store.pools import list_pools
from radiusd.store.prefixes import add_prefix, list_prefixes
from tests.integration.schema_helpers import downgrade_schema
from tests.integration.test_router_vendor_migration import NOW

BEFORE = "0014"


async def _sql(engine: AsyncEngine, statement: str) -> list[tuple[object, ...]]:
    async with engine.begin() as conn:
        result = await conn.execute(sa.text(statement))
        return [tuple(r) for r in result.all()] if result.returns_rows else []


async def test_existing_pools_join_the_tree(db_url: str) -> None:
    upgrade_database(db_url, BEFORE)
    engine = create_engine(db_url)
    try:
        await _sql(
            engine,
            "INSERT INTO network_sites (id, name, kind, created_at, updated_at)"
            f" VALUES (3, 'north', 'tower', {NOW}, {NOW})",
        )
        for pid, name, kind, plen, site in (
            (1, "cgnat", "ipv4", "NULL", "3"),
            (2, "v6:pd", "ipv6-pd", "56", "NULL"),
        ):
            await _sql(
                engine,
                "INSERT INTO ip_pools (id, name, kind, prefix_length, site_id, created_at, updated_at)"
                f" VALUES ({pid}, '{name}', '{kind}', {plen}, {site}, {NOW}, {NOW})",
            )
        await _sql(
            engine,
            "INSERT INTO ip_pools (id, name, kind, created_at, updated_at) VALUES (3, 'v6', 'ipv4', "
            f"{NOW}, {NOW})",
        )
        await _sql(
            engine,
            "INSERT INTO ipv4_networks (id, pool_id, cidr, excluded)"
            " VALUES (1, 1, '100.64.0.0/16', '[]'), (2, 1, '100.65.0.0/24', '[]')",
        )
        await _sql(
            engine,
            "INSERT INTO ipv6_networks (id, pool_id, prefix, assign_length)"
            " VALUES (1, 2, '2001:db8:100::/40', 56)",
        )
        await _sql(
            engine,
            "INSERT INTO ipv4_ips (pool_id, address, state, owner, updated_at)"
            f" VALUES (1, '100.64.0.7', 'reserved', 'alice', {NOW})",
        )
        figures_before = [p.to_json() for p in await list_pools(engine)]

        upgrade_database(db_url)
        rows = await _sql(
            engine, "SELECT prefix, family, role, pool_id, site_id, parent_id FROM prefixes ORDER BY prefix"
        )
        assert rows == [
            ("100.64.0.0/16", 4, "pool", 1, 3, None),
            ("100.65.0.0/24", 4, "pool", 1, 3, None),
            ("2001:db8:100::/40", 6, "pool", 2, None, None),
        ]
        assert [p.to_json() for p in await list_pools(engine)] == figures_before  # pools unchanged

        await add_prefix(engine, "100.64.0.0/10")
        infos = {i.prefix: i for i in await list_prefixes(engine)}
        assert infos["100.64.0.0/10"].children == ("100.64.0.0/16", "100.65.0.0/24")
        assert infos["100.64.0.0/16"].pool == "cgnat" and infos["100.64.0.0/16"].figures.used == 1
        assert infos["100.64.0.0/10"].figures.used == 1  # the reservation, rolled up
        assert infos["2001:db8:100::/40"].pool == "v6"

        await downgrade_schema(engine, BEFORE)
        assert await _sql(engine, "SELECT count(*) FROM ip_pools") == [(3,)]
        upgrade_database(db_url)
        assert len(await _sql(engine, "SELECT id FROM prefixes")) == 3
    finally:
        await engine.dispose()
