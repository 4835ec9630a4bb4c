"""The lease tables' guards on PostgreSQL decide as the Python model of them does.

tests/ipam_db_model.py stands in for the database in the stateful multi-node test; here every
guard is tried against every kind of stored row (absent, free, released, offered, leased,
reserved; this holder's or another's; expired or not) through the real statements of
radiusd.store.lease_ops, and the outcome compared with the model's.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.store.engine import begin_write, create_engine, ensure_schema
from radiusd.store.lease_ops import GUARDS, upsert_rows
from radiusd.store.pools import add_pool
from tests.conftest import _migrated_pg_url
from tests.ipam_db_model import Row, allowed

pytestmark = pytest.mark.postgres

STORED = [
    None,
    Row("released", "alice", None),  # free, remembering alice
    Row("released", "bob", 3600.0),  # sticky-held (expiries are seconds from now, see when())
    Row("released", "bob", -3600.0),
    Row("offered", "bob", 3600.0),
    Row("offered", "bob", -3600.0),
    Row("leased", "bob", 3600.0),
    Row("leased", "bob", -3600.0),
    Row("leased", "alice", 3600.0),
    Row("leased", "alice", -3600.0),
    Row("reserved", "alice", None),
    Row("reserved", None, None),
]
PROPOSED = [Row("offered", "alice", 30.0), Row("released", "alice", 60.0), Row("released", "alice", None)]


@pytest.fixture
async def engine(request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    made = create_engine(_migrated_pg_url(request))
    await ensure_schema(made)
    await add_pool(made, "p", ranges=["10.5.0.0/24"])
    yield made
    await made.dispose()


def when(now: dt.datetime, offset: float | None) -> dt.datetime | None:
    return None if offset is None else now + dt.timedelta(seconds=offset)


async def test_every_guard_on_every_stored_row(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        pool_id = (await conn.execute(sa.text("SELECT id FROM ip_pools WHERE name = 'p'"))).scalar_one()
    cases = list(itertools.product(sorted(GUARDS), STORED, PROPOSED))
    disagreements = []
    for n, (guard, stored, proposed) in enumerate(cases, 1):
        now = dt.datetime.now(dt.UTC)
        address = f"10.5.{n // 250}.{n % 250 + 1}"
        async with begin_write(engine) as conn:
            if stored is not None:
                await conn.execute(
                    sa.text("INSERT INTO ipv4_ips (address, pool_id, state, owner, expires_at, updated_at) "
                            "VALUES (:a, :p, :s, :o, :e, :t)"),
                    {"a": address, "p": pool_id, "s": stored.state, "o": stored.owner,
                     "e": when(now, stored.expires), "t": now},
                )  # fmt: skip
        row = {"address": address, "pool_id": pool_id, "state": proposed.state, "owner": proposed.owner,
               "router_id": None, "session_key": None, "expires_at": when(now, proposed.expires),
               "updated_at": now, "guard": guard}  # fmt: skip
        async with begin_write(engine) as conn:
            lost = await upsert_rows(conn, [row], [])
        written = address not in lost
        model_stored = None if stored is None else Row(stored.state, stored.owner, stored.expires)
        # the model's clock: 0 is now, as the stored expiries above are offsets from it
        expected = allowed(guard, model_stored, Row(proposed.state, proposed.owner, 0.0), 0.0)
        if written != expected:
            disagreements.append((guard, stored, proposed, written))
    assert not disagreements, disagreements
    assert len(cases) == len(GUARDS) * len(STORED) * len(PROPOSED)
