"""The database side of Accounting-On/Off with several nodes (radiusd.store.nas_reset), against
PostgreSQL: which sessions one statement closes, what it writes, what it announces."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.store.accounting_pg import SESSION_CHANNEL
from radiusd.store.engine import create_engine, ensure_schema
from radiusd.store.lease_feed import asyncpg_dsn
from radiusd.store.models import IPPool, IPv4IP, RadiusSession
from radiusd.store.nas_reset import NasSessionsOp, live_rows_of_router
from tests.conftest import _migrated_pg_url

pytestmark = pytest.mark.postgres

BOOT = dt.datetime(2031, 5, 4, 12, 0, tzinfo=dt.UTC)
NAS = "192.0.2.1"


@pytest.fixture
async def engine(request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    e = create_engine(_migrated_pg_url(request))
    await ensure_schema(e)
    yield e
    await e.dispose()


def row(
    uid: str, *, started: dt.datetime, status: str = "open", router: int = 1, nas: str = NAS
) -> dict[str, Any]:
    return {
        "acct_unique_id": uid, "acct_session_id": uid, "username": f"user-{uid}", "router_id": router,
        "nas_address": nas, "framed_ip": None, "started_at": started, "updated_at": started,
        "status": status, "stopped_at": None if status == "open" else started, "input_octets": 100,
        "output_octets": 200, "input_base": 50, "output_base": 0, "session_time": 60, "rev": 2,
    }  # fmt: skip


async def test_one_statement_closes_what_no_node_holds_and_announces_it(engine: AsyncEngine) -> None:
    hour = dt.timedelta(hours=1)
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(RadiusSession),
            [
                row("gone", started=BOOT - hour),  # another node's: closed
                row("here", started=BOOT - hour),  # open in this node's memory: its own to write
                row("after", started=BOOT + dt.timedelta(seconds=5)),  # a login after the reboot
                row("other-nas", started=BOOT - hour, router=2, nas="192.0.2.2"),
                row("closed", started=BOOT - hour, status="closed"),
            ],
        )
    heard: list[str] = []
    listener = await asyncpg.connect(asyncpg_dsn(engine.url))
    await listener.add_listener(SESSION_CHANNEL, lambda *args: heard.append(args[-1]))
    try:
        op = NasSessionsOp(NAS, 1, BOOT - dt.timedelta(seconds=2), BOOT, "node-a", lambda: ["here"])
        async with engine.begin() as conn:
            await NasSessionsOp.apply_batch(conn, [op])
        for _ in range(200):
            if heard:
                break
            await asyncio.sleep(0.01)
    finally:
        await listener.close()
    assert [(s.unique_id, s.status, s.terminate_cause, s.rev) for s in op.closed] == [
        ("gone", "closed", "NAS-Reboot", 3)
    ]
    assert op.closed[0].stopped_at == BOOT - dt.timedelta(seconds=2)
    assert heard == ["node-a|gone"]
    async with engine.connect() as conn:
        states: dict[str, str] = dict(
            (await conn.execute(sa.text("SELECT acct_unique_id, status FROM radius_sessions"))).all()
        )
        closed = (await conn.execute(sa.text(
            "SELECT acct_unique_id, terminate_cause, input_octets, output_octets, session_time "
            "FROM radius_accounting"))).all()  # fmt: skip
        usage = (await conn.execute(sa.text("SELECT count(*) FROM service_usage"))).scalar()
    assert states == {
        "gone": "closed",
        "here": "open",
        "after": "open",
        "other-nas": "open",
        "closed": "closed",
    }
    assert [tuple(r) for r in closed] == [("gone", "NAS-Reboot", 150, 200, 60)]  # base + counter
    assert usage == 0  # a closure adds no usage
    # again (a retransmission): nothing left to close
    again = NasSessionsOp(NAS, 1, BOOT, BOOT, "node-a", lambda: ["here"])
    async with engine.begin() as conn:
        await NasSessionsOp.apply_batch(conn, [again])
    assert again.closed == []


async def test_lease_rows_a_reset_reads(
    engine: AsyncEngine,
) -> None:
    """A subnet entry (router 1) shared by two BNGs: the live lease rows read for a reset of
    one of them are those whose session is open from its address, not the other BNG's, nor a
    row without a session; with no address given, every live row of the router. With the
    moment the NAS sent the reset, a session started later (a login since) keeps its row."""
    hour = dt.timedelta(hours=1)
    async with engine.begin() as conn:
        await conn.execute(sa.insert(RadiusSession), [
            row("a1", started=BOOT - hour), row("b1", started=BOOT - hour, nas="192.0.2.2"),
            row("a0", started=BOOT - hour, status="closed"),
            row("n1", started=BOOT + dt.timedelta(seconds=5)),  # a login after the reboot
        ])  # fmt: skip
        new_pool = sa.insert(IPPool).values(name="p", kind="ipv4").returning(IPPool.id)
        pool = (await conn.execute(new_pool)).scalar()
        for address, session, state in (
            ("10.0.0.1", "a1", "leased"),
            ("10.0.0.2", "b1", "leased"),
            ("10.0.0.3", None, "offered"),
            ("10.0.0.4", "a0", "leased"),
            ("10.0.0.5", "n1", "leased"),
        ):
            lease = {"pool_id": pool, "state": state, "owner": "u", "router_id": 1, "session_key": session}
            await conn.execute(sa.insert(IPv4IP).values(address=address, **lease))
    async with engine.begin() as conn:
        mine = [lease.address for lease in await live_rows_of_router(conn, 1, NAS)]
        mine_before = [lease.address for lease in await live_rows_of_router(conn, 1, NAS, BOOT)]
        every = [lease.address for lease in await live_rows_of_router(conn, 1)]
        before = [lease.address for lease in await live_rows_of_router(conn, 1, since=BOOT)]
    assert mine == ["10.0.0.1", "10.0.0.5"] and mine_before == ["10.0.0.1"]
    assert every == ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"]
    assert before == ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]
