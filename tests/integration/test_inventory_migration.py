"""Alembic 0003 upgrades a database that already has NAS rows (and pools scoped to them)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.store import inventory as inv
from radiusd.store.engine import (
    create_engine,
    head_revision,
    schema_revision,
    upgrade_database,
)
from radiusd.store.errors import Conflict
from radiusd.store.nas import get_nas, list_nas
from tests.integration.schema_helpers import downgrade_schema

BEFORE = "0002"
NOW = "'2026-01-01 00:00:00+00:00'"


async def _sql(engine: AsyncEngine, *statements: str) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    async with engine.begin() as conn:
        for statement in statements:
            result = await conn.execute(sa.text(statement))
            if result.returns_rows:
                rows = [tuple(r) for r in result.all()]
    return rows


async def test_upgrade_keeps_nas_rows_and_pool_references(db_url: str) -> None:
    upgrade_database(db_url, BEFORE)
    engine = create_engine(db_url)
    try:
        for i, site_id in ((1, "NULL"), (2, "42")):  # 42: a dangling site id from before sites existed
            await _sql(
                engine,
                "INSERT INTO routers (id, name, nas_address, secret, vendor, require_message_authenticator,"
                " coa_port, api_tls, site_id, api_username, api_password, created_at, updated_at)"
                f" VALUES ({i}, 'nas{i}', '10.0.0.{i}', 'secret{i}', 'mikrotik', TRUE, 3799, FALSE,"
                f" {site_id}, 'admin', 'pw{i}', {NOW}, {NOW})",
            )
        await _sql(
            engine,
            "INSERT INTO ip_pools (id, name, kind, router_id, created_at, updated_at)"
            f" VALUES (7, 'pool-of-nas2', 'ipv4', 2, {NOW}, {NOW})",
            "INSERT INTO ipv4_networks (id, pool_id, cidr, excluded) VALUES (1, 7, '100.64.0.0/24', '[]')",
        )

        upgrade_database(db_url)
        assert await schema_revision(engine) == head_revision()
        routers = await list_nas(engine)
        assert [(r.id, r.name, r.address, r.secret, r.api_password, r.site_id) for r in routers] == [
            (1, "nas1", "10.0.0.1", "secret1", "pw1", None),
            (2, "nas2", "10.0.0.2", "secret2", "pw2", None),
        ]
        # routers with API credentials use API-SSL from 0012 on (they were on the plain API)
        api = [(r.api_tls, r.api_insecure_plain, r.api_fingerprint) for r in routers]
        assert api == [(True, False, None)] * 2
        assert await _sql(engine, "SELECT id, router_id FROM ip_pools") == [(7, 2)]
        assert await _sql(engine, "SELECT pool_id, cidr FROM ipv4_networks") == [(7, "100.64.0.0/24")]
        assert [r.name for r in await inv.list_routers(engine)] == ["nas1", "nas2"]

        # the foreign keys now hold: a pool still blocks its router, a site must exist
        with pytest.raises(Conflict):
            await inv.remove_router(engine, "nas2")
        with pytest.raises(sa.exc.IntegrityError):
            await _sql(engine, "UPDATE routers SET site_id = 99 WHERE id = 1")
        await inv.add_site(engine, "pop1")
        assert (await inv.update_router(engine, "nas1", site="pop1")).site == "pop1"
        with pytest.raises(Conflict, match=r"site 'pop1' still has router\(s\) nas1"):
            await inv.remove_site(engine, "pop1")

        # and back: the routers and the pool's reference survive a downgrade
        await downgrade_schema(engine, BEFORE)
        assert await _sql(engine, "SELECT id, name FROM routers ORDER BY id") == [(1, "nas1"), (2, "nas2")]
        assert await _sql(engine, "SELECT id, router_id FROM ip_pools") == [(7, 2)]
        upgrade_database(db_url)
        assert (await get_nas(engine, "nas2")).secret == "secret2"
    finally:
        await engine.dispose()
