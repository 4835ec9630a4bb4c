"""Alembic 0010 widens the routers.vendor CHECK: NAS rows, their ids and the rows that point at
them survive (SQLite rebuilds the table), the new vendors are accepted, unknown ones still are
not, and a downgrade turns new-vendor rows back into generic ones."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.store.engine import create_engine, upgrade_database
from tests.integration.schema_helpers import downgrade_schema

NOW = "'2026-01-01 00:00:00+00:00'"


async def _sql(engine: AsyncEngine, statement: str) -> list[tuple[object, ...]]:
    async with engine.begin() as conn:
        result = await conn.execute(sa.text(statement))
        return [tuple(r) for r in result.all()] if result.returns_rows else []


def _router(i: int, vendor: str) -> str:
    return (
        "INSERT INTO routers (id, name, nas_address, secret, vendor, require_message_authenticator,"
        " coa_port, api_tls, created_at, updated_at)"
        f" VALUES ({i}, 'nas{i}', '10.0.0.{i}', 's{i}', '{vendor}', TRUE, 3799, FALSE, {NOW}, {NOW})"
    )


async def test_new_vendors_after_0010_and_back(db_url: str) -> None:
    upgrade_database(db_url, "0009")
    engine = create_engine(db_url)
    try:
        await _sql(engine, _router(7, "mikrotik"))
        await _sql(
            engine,
            "INSERT INTO ip_pools (id, name, kind, router_id, created_at, updated_at)"
            f" VALUES (1, 'p', 'ipv4', 7, {NOW}, {NOW})",
        )
        with pytest.raises(sa.exc.IntegrityError):
            await _sql(engine, _router(8, "huawei"))
        upgrade_database(db_url, "0010")
        await _sql(engine, _router(8, "huawei"))
        await _sql(engine, _router(9, "accel-ppp"))
        with pytest.raises(sa.exc.IntegrityError):
            await _sql(engine, _router(10, "acme"))
        assert await _sql(engine, "SELECT id, vendor FROM routers ORDER BY id") == [
            (7, "mikrotik"), (8, "huawei"), (9, "accel-ppp"),
        ]  # fmt: skip
        assert await _sql(engine, "SELECT router_id FROM ip_pools") == [(7,)]
        await downgrade_schema(engine, "0009")
        assert await _sql(engine, "SELECT id, vendor FROM routers ORDER BY id") == [
            (7, "mikrotik"), (8, "generic"), (9, "generic"),
        ]  # fmt: skip
        assert await _sql(engine, "SELECT router_id FROM ip_pools") == [(7,)]
    finally:
        await engine.dispose()
