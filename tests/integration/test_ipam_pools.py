"""Pool and lease CRUD (radiusd.store.pools) on SQLite and PostgreSQL: refusals,
change feed, utilisation, lease history."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ipam.groups import PoolConfig
from radiusd.store import pools as P
from radiusd.store.changes import changes_since
from radiusd.store.errors import Conflict, InvalidInput, NotFound
from radiusd.store.lease_ops import HISTORY, LeaseOp
from radiusd.store.nas import add_nas


async def test_add_show_list_with_all_kinds(store_engine: AsyncEngine) -> None:
    await add_nas(store_engine, "bras1", "192.0.2.1", "s3cret")
    info = await P.add_pool(
        store_engine,
        "res",
        ranges=["10.64.0.0/29"],
        ipv6_prefixes=["2001:db8::/48"],
        delegated=["2001:db8:100::/40/56"],
        nas="bras1",
        warning_pct=50,
    )
    assert info.nas == "bras1" and info.warning_pct == 50
    kinds = {(r.kind, r.range, r.total) for r in info.ranges}
    assert kinds == {
        ("ipv4", "10.64.0.0/29", 6),
        ("ipv6-wan", "2001:db8::/48/64", 2**16),
        ("ipv6-pd", "2001:db8:100::/40/56", 2**16),
    }
    assert [p.name for p in await P.list_pools(store_engine)] == ["res"]
    async with store_engine.connect() as conn:
        _, changes = await changes_since(conn, 0)
    assert ("pool", "res") in changes


@pytest.mark.parametrize(
    ("ranges", "message"),
    [(["10.0.0.4/30"], "overlaps"), (["10.0.0.0/8"], "overlaps"), (["10.0.0.1/24"], "bad IPv4 range")],
)
async def test_overlapping_or_bad_ranges_refused(
    store_engine: AsyncEngine, ranges: list[str], message: str
) -> None:
    await P.add_pool(store_engine, "a", ranges=["10.0.0.0/29"])
    with pytest.raises((Conflict, InvalidInput), match=message):
        await P.add_pool(store_engine, "b", ranges=ranges)
    with pytest.raises(NotFound):
        await P.get_pool(store_engine, "b")  # nothing of the refused pool was written


async def test_duplicate_name_colon_and_unknown_refused(store_engine: AsyncEngine) -> None:
    await P.add_pool(store_engine, "a", ranges=["10.0.0.0/29"])
    with pytest.raises(Conflict, match="already exists"):
        await P.add_pool(store_engine, "a", ranges=["10.1.0.0/29"])
    with pytest.raises(InvalidInput, match="':'"):
        await P.add_pool(store_engine, "a:wan")
    with pytest.raises(InvalidInput, match="NAS"):
        await P.add_pool(store_engine, "c", nas="nope")
    with pytest.raises(InvalidInput, match="fallback"):
        await P.add_pool(store_engine, "c", fallback="nope")
    with pytest.raises(Conflict, match="overlaps"):
        await P.add_range(store_engine, "a", "10.0.0.0/28")


async def test_range_with_live_lease_cannot_be_removed(store_engine: AsyncEngine) -> None:
    await P.add_pool(store_engine, "a", ranges=["10.0.0.0/29", "10.0.1.0/29"])
    configs = await _configs(store_engine)
    row = {
        "address": "10.0.0.2",
        "pool_id": configs["a"].id,
        "state": "leased",
        "owner": "alice",
        "router_id": None,
        "session_key": "s1",
        "expires_at": dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
        "updated_at": dt.datetime.now(dt.UTC),
    }
    async with store_engine.begin() as conn:
        await LeaseOp.apply_batch(conn, [LeaseOp(v4=[row])])
    with pytest.raises(Conflict, match="live or reserved"):
        await P.remove_range(store_engine, "a", "10.0.0.0/29")
    with pytest.raises(Conflict, match="live"):
        await P.remove_pool(store_engine, "a")
    info = await P.remove_range(store_engine, "a", "10.0.1.0/29")  # the other range is idle
    assert [r.range for r in info.ranges] == ["10.0.0.0/29"]
    leases = await P.list_leases(store_engine, user="alice")
    assert [(x.address, x.state, x.pool) for x in leases] == [("10.0.0.2", "leased", "a")]
    released = await P.release_lease(store_engine, "10.0.0.2")
    assert released.state == "released"
    await P.remove_range(store_engine, "a", "10.0.0.0/29")
    with pytest.raises(NotFound):
        await P.release_lease(store_engine, "10.0.0.2")


async def test_reserve_unreserve_and_utilisation(store_engine: AsyncEngine) -> None:
    await P.add_pool(store_engine, "a", ranges=["10.0.0.0/30"], warning_pct=50)  # 2 addresses
    r = await P.reserve_address(store_engine, "10.0.0.1", "alice")
    assert (r.state, r.username) == ("reserved", "alice")
    with pytest.raises(Conflict):
        await P.reserve_address(store_engine, "10.0.0.1", "bob")
    with pytest.raises(Conflict, match="not in any pool"):
        await P.reserve_address(store_engine, "10.9.9.9")
    info = await P.get_pool(store_engine, "a")
    assert (info.total, info.reserved, info.free, info.percent_used, info.warning) == (2, 1, 1, 50.0, True)
    u = await P.unreserve_address(store_engine, "10.0.0.1")
    assert u.state == "free"
    with pytest.raises(NotFound):
        await P.unreserve_address(store_engine, "10.0.0.1")
    assert (await P.get_pool(store_engine, "a")).reserved == 0


async def test_fallback_must_be_removed_last(store_engine: AsyncEngine) -> None:
    await P.add_pool(store_engine, "spare", ranges=["10.9.0.0/29"])
    await P.add_pool(store_engine, "main", ranges=["10.0.0.0/29"], fallback="spare")
    with pytest.raises(Conflict, match="fallback"):
        await P.remove_pool(store_engine, "spare")
    await P.remove_pool(store_engine, "main")
    await P.remove_pool(store_engine, "spare")
    assert await P.list_pools(store_engine) == []


async def test_lease_history_at_time(store_engine: AsyncEngine) -> None:
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rows = [
        ("alice", t0, t0 + dt.timedelta(hours=1)),
        ("bob", t0 + dt.timedelta(hours=2), None),
    ]
    async with store_engine.begin() as conn:
        await conn.execute(
            sa.insert(HISTORY),
            [
                {
                    "username": u,
                    "subscriber_id": None,
                    "address": "10.0.0.5",
                    "family": 4,
                    "pool_name": "a",
                    "router_id": None,
                    "session_key": None,
                    "assigned_at": a,
                    "released_at": r,
                }
                for u, a, r in rows
            ],
        )
    every = await P.lease_history(store_engine, "10.0.0.5")
    assert [e.username for e in every] == ["bob", "alice"]
    at = await P.lease_history(store_engine, "10.0.0.5", at=t0 + dt.timedelta(minutes=30))
    assert [e.username for e in at] == ["alice"]
    assert await P.lease_history(store_engine, "10.0.0.5", at=t0 + dt.timedelta(minutes=90)) == []
    with pytest.raises(InvalidInput):
        await P.lease_history(store_engine, "10.0.0.5", at=dt.datetime(2026, 1, 1))


async def _configs(engine: AsyncEngine) -> dict[str, PoolConfig]:
    async with engine.connect() as conn:
        return await P.load_configs(conn)
