"""Store CRUD on SQLite and PostgreSQL: what the CLI relies on (errors, atomic import, change feed)."""

from __future__ import annotations

import logging
import time

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.store import inventory, nas, plans, subscribers
from radiusd.store.changes import changes_since, current_change_id
from radiusd.store.errors import Conflict, InvalidInput, NotFound
from radiusd.store.pools import add_pool

log = logging.getLogger(__name__)


async def _changes(store_engine: AsyncEngine, since: int = 0) -> list[tuple[str, str | None]]:
    async with store_engine.connect() as conn:
        return (await changes_since(conn, since))[1]


async def test_nas_add_list_get_remove(store_engine: AsyncEngine) -> None:
    added = await nas.add_nas(store_engine, "core-1", " ::ffff:192.0.2.1 ", "s3cret", vendor="mikrotik")
    assert (added.name, added.address, added.vendor) == ("core-1", "192.0.2.1", "mikrotik")
    assert added.coa_port == 3799
    assert added.require_message_authenticator is True
    assert added.created_at is not None and added.created_at.tzinfo is not None
    await nas.add_nas(store_engine, "edge-6", "2001:DB8::0001", "x", require_message_authenticator=False)
    assert [n.name for n in await nas.list_nas(store_engine)] == ["core-1", "edge-6"]
    got = await nas.get_nas(store_engine, "edge-6")
    assert (got.address, got.require_message_authenticator) == ("2001:db8::1", False)
    await inventory.remove_nas(store_engine, "core-1")
    with pytest.raises(NotFound, match="core-1"):
        await nas.get_nas(store_engine, "core-1")
    with pytest.raises(NotFound, match="core-1"):
        await inventory.remove_nas(store_engine, "core-1")
    assert await _changes(store_engine) == [("nas", "core-1"), ("nas", "edge-6"), ("nas", "core-1")]


async def test_nas_errors_name_the_value_and_write_nothing(store_engine: AsyncEngine) -> None:
    await nas.add_nas(store_engine, "core-1", "192.0.2.1", "s3cret")
    with pytest.raises(Conflict, match="'core-1'"):
        await nas.add_nas(store_engine, "core-1", "192.0.2.2", "other")
    with pytest.raises(Conflict, match=r"192\.0\.2\.1.*'core-1'"):
        await nas.add_nas(store_engine, "core-2", "192.0.2.1", "other")
    with pytest.raises(InvalidInput, match=r"192\.0\.2\.300"):
        await nas.add_nas(store_engine, "core-3", "192.0.2.300", "other")
    with pytest.raises(InvalidInput, match="vendor 'acme'"):
        await nas.add_nas(store_engine, "core-4", "192.0.2.4", "other", vendor="acme")
    with pytest.raises(InvalidInput, match="secret"):
        await nas.add_nas(store_engine, "core-5", "192.0.2.5", "")
    with pytest.raises(InvalidInput, match="CoA port"):
        await nas.add_nas(store_engine, "core-6", "192.0.2.6", "x", coa_port=70000)
    assert [n.name for n in await nas.list_nas(store_engine)] == ["core-1"]
    assert len(await _changes(store_engine)) == 1


async def test_error_messages_never_carry_the_secret(store_engine: AsyncEngine) -> None:
    await nas.add_nas(store_engine, "core-1", "192.0.2.1", "TOPSECRET")
    with pytest.raises(Conflict) as exc:
        await nas.add_nas(store_engine, "core-1", "192.0.2.1", "TOPSECRET")
    assert "TOPSECRET" not in str(exc.value)
    with pytest.raises(InvalidInput) as exc2:
        await subscribers.add_subscriber(store_engine, "eve", None, credential="nt:HUNTER2notahash")
    assert "HUNTER2" not in str(exc2.value)


async def test_plan_crud_and_in_use(store_engine: AsyncEngine) -> None:
    await add_pool(store_engine, "main", ranges=["10.0.0.0/24"])
    await add_pool(store_engine, "garden", ranges=["10.1.0.0/24"])
    gold = await plans.add_plan(
        store_engine,
        "gold",
        pool="main",
        rate_limit="20M/100M",
        session_timeout=86400,
        interim_interval=300,
        simultaneous_use=1,
        walled_garden_pool="garden",
        reply_attributes=[("Cisco-AVPair", "ip:addr-pool=main")],
    )
    assert gold.reply_attributes == (("Cisco-AVPair", "ip:addr-pool=main"),)
    assert (await plans.get_plan(store_engine, "gold")) == gold
    with pytest.raises(Conflict, match="'gold'"):
        await plans.add_plan(store_engine, "gold")
    with pytest.raises(InvalidInput, match="interim interval"):
        await plans.add_plan(store_engine, "bad", interim_interval=0)
    with pytest.raises(InvalidInput, match="pair"):
        await plans.add_plan(store_engine, "bad", reply_attributes=["Session-Timeout"])  # type: ignore[list-item]
    await subscribers.add_subscriber(store_engine, "alice", "pw", plan="gold")
    with pytest.raises(Conflict, match=r"'gold' is used by 1 subscriber"):
        await plans.remove_plan(store_engine, "gold")
    await subscribers.set_subscriber_plan(store_engine, "alice", None)
    await plans.remove_plan(store_engine, "gold")
    assert await plans.list_plans(store_engine) == []


async def test_subscriber_crud(store_engine: AsyncEngine) -> None:
    await add_pool(store_engine, "main", ranges=["10.0.0.0/24"])
    await plans.add_plan(store_engine, "gold")
    await plans.add_plan(store_engine, "silver")
    alice = await subscribers.add_subscriber(
        store_engine, "alice", "pa55", plan="gold", pool="main", static_ip="10.0.0.5", simultaneous_use=2
    )
    assert (alice.plan, alice.pool, alice.static_ip, alice.status) == ("gold", "main", "10.0.0.5", "active")
    assert alice.credential == "cleartext:pa55"
    with pytest.raises(Conflict, match="'alice'"):
        await subscribers.add_subscriber(store_engine, "alice", "x")
    with pytest.raises(Conflict, match=r"10\.0\.0\.5.*'alice'"):
        await subscribers.add_subscriber(store_engine, "bob", "x", static_ip="10.0.0.5")
    with pytest.raises(InvalidInput, match="unknown plan 'platinum'"):
        await subscribers.add_subscriber(store_engine, "bob", "x", plan="platinum")
    with pytest.raises(InvalidInput, match=r"10\.0\.0\.256"):
        await subscribers.add_subscriber(store_engine, "bob", "x", static_ip="10.0.0.256")
    with pytest.raises(InvalidInput, match="status 'gone'"):
        await subscribers.add_subscriber(store_engine, "bob", "x", status="gone")
    nt = await subscribers.add_subscriber(
        store_engine, "carol", None, credential="nt:" + "00" * 16, plan="silver"
    )
    assert nt.credential.startswith("nt:")

    suspended = await subscribers.set_subscriber_status(store_engine, "alice", "suspended")
    assert suspended.status == "suspended"
    assert suspended.updated_at is not None and alice.updated_at is not None
    assert suspended.updated_at >= alice.updated_at
    with pytest.raises(InvalidInput):
        await subscribers.set_subscriber_status(store_engine, "alice", "frozen")
    moved = await subscribers.set_subscriber_plan(store_engine, "alice", "silver")
    assert moved.plan == "silver"
    with pytest.raises(InvalidInput, match="'bronze'"):
        await subscribers.set_subscriber_plan(store_engine, "alice", "bronze")
    with pytest.raises(NotFound, match="'zed'"):
        await subscribers.set_subscriber_status(store_engine, "zed", "active")

    silver = await subscribers.list_subscribers(store_engine, plan="silver")
    assert [s.username for s in silver] == ["alice", "carol"]
    suspended_only = await subscribers.list_subscribers(store_engine, status="suspended")
    assert [s.username for s in suspended_only] == ["alice"]
    await subscribers.remove_subscriber(store_engine, "alice")
    with pytest.raises(NotFound):
        await subscribers.get_subscriber(store_engine, "alice")
    assert ("subscriber", "alice") in await _changes(store_engine)


def _rows(n: int, **extra: str) -> list[dict[str, str]]:
    return [{"username": f"user{i:06d}", "password": f"pw{i}", **extra} for i in range(1, n + 1)]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"static_ip": "10.0.0.999"}, "row 3: malformed IPv4 address '10.0.0.999'"),
        ({"plan": "nope"}, "row 3: unknown plan 'nope'"),
        ({"status": "gone"}, "row 3: status 'gone'"),
        ({"username": "user000001"}, "row 3: username 'user000001' repeats row 1"),
        ({"password": ""}, "row 3: the password must not be empty"),
        ({"colour": "red"}, "row 3: unknown column 'colour'"),
    ],
)
async def test_import_is_all_or_nothing_and_names_the_row(
    store_engine: AsyncEngine, bad: dict[str, str], message: str
) -> None:
    await plans.add_plan(store_engine, "gold")
    rows = _rows(5, plan="gold")
    rows[2] = {**rows[2], **bad}
    before = await _changes(store_engine)
    with pytest.raises(InvalidInput) as exc:
        await subscribers.import_subscribers(store_engine, rows)
    assert message in str(exc.value)
    assert await subscribers.list_subscribers(store_engine) == []
    assert await _changes(store_engine) == before


async def test_import_conflict_with_database_names_the_row(store_engine: AsyncEngine) -> None:
    await subscribers.add_subscriber(store_engine, "user000004", "x", static_ip="10.9.9.9")
    with pytest.raises(InvalidInput, match=r"row 4: subscriber 'user000004' already exists"):
        await subscribers.import_subscribers(store_engine, _rows(5))
    rows = _rows(5)
    rows[1]["username"] = "fresh"
    rows[1]["static_ip"] = "10.9.9.9"
    rows[3]["username"] = "other"
    clash = r"row 2: static IP 10\.9\.9\.9 is already assigned to 'user000004'"
    with pytest.raises(InvalidInput, match=clash):
        await subscribers.import_subscribers(store_engine, rows)
    assert [s.username for s in await subscribers.list_subscribers(store_engine)] == ["user000004"]


async def test_import_10000_rows_one_change(store_engine: AsyncEngine, db_url: str) -> None:
    await plans.add_plan(store_engine, "gold")
    async with store_engine.connect() as conn:
        mark = await current_change_id(conn)
    rows = _rows(10_000, plan="gold", status="active", pool="", static_ip="")
    rows[0]["static_ip"] = "100.64.0.1"
    started = time.perf_counter()
    count = await subscribers.import_subscribers(store_engine, rows)
    elapsed = time.perf_counter() - started
    log.info("import of %d subscribers on %s: %.0f rows/s", count, db_url.split(":")[0], count / elapsed)
    print(f"import of {count} subscribers on {db_url.split(':')[0]}: {count / elapsed:.0f} rows/s")
    assert count == 10_000
    listed = await subscribers.list_subscribers(store_engine, plan="gold")
    assert len(listed) == 10_000
    assert listed[0].static_ip == "100.64.0.1" and listed[1].static_ip is None and listed[1].pool is None
    assert await _changes(store_engine, mark) == [("subscriber", None)]
    assert await subscribers.import_subscribers(store_engine, []) == 0
