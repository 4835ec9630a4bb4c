"""The daemon's snapshot loaders and change feed return what the CLI wrote (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.store import inventory, nas, plans, subscribers
from radiusd.store.changes import prune_changes
from radiusd.store.pools import add_pool
from radiusd.store.snapshot import (
    changes_since,
    current_change_id,
    load_nas_all,
    load_plans,
    load_subscribers,
)


async def test_loaders_return_what_was_written(store_engine: AsyncEngine) -> None:
    core = await nas.add_nas(store_engine, "core", "192.0.2.1", "s1", vendor="cisco")
    edge = await nas.add_nas(store_engine, "edge", "2001:db8::1", "s2", require_message_authenticator=False)
    await add_pool(store_engine, "main", ranges=["10.0.0.0/24"])
    gold = await plans.add_plan(
        store_engine, "gold", pool="main", reply_attributes=[("Session-Timeout", "60")]
    )
    alice = await subscribers.add_subscriber(store_engine, "alice", "pw", plan="gold", static_ip="10.0.0.9")
    bob = await subscribers.add_subscriber(store_engine, "bob", "pw2", status="suspended")

    async with store_engine.connect() as conn:
        assert await load_nas_all(conn) == {"192.0.2.1": core, "2001:db8::1": edge}
        assert await load_plans(conn) == {"gold": gold}
        everyone = await load_subscribers(conn)
        some = await load_subscribers(conn, ["bob", "ghost", "bob"])
    assert everyone == {"alice": alice, "bob": bob}
    assert everyone["alice"].credential == "cleartext:pw"  # the daemon gets the credential
    assert some == {"bob": bob}  # a missing name means: removed


async def test_partial_load_beyond_one_chunk(store_engine: AsyncEngine) -> None:
    rows = [{"username": f"u{i:04d}", "password": "p"} for i in range(1200)]
    await subscribers.import_subscribers(store_engine, rows)
    async with store_engine.connect() as conn:
        loaded = await load_subscribers(conn, [f"u{i:04d}" for i in range(0, 1200, 2)])
    assert len(loaded) == 600 and "u1198" in loaded and "u1199" not in loaded


async def test_change_feed_start_poll_and_prune(store_engine: AsyncEngine) -> None:
    await nas.add_nas(store_engine, "core", "192.0.2.1", "s1")
    async with store_engine.connect() as conn:
        start = await current_change_id(conn)  # the daemon reads this before loading its snapshot
    assert start > 0
    await plans.add_plan(store_engine, "gold")
    await subscribers.add_subscriber(store_engine, "alice", "pw", plan="gold")
    await subscribers.set_subscriber_status(store_engine, "alice", "disabled")
    await subscribers.import_subscribers(store_engine, [{"username": "bob", "password": "x"}])
    await subscribers.remove_subscriber(store_engine, "alice")
    await inventory.remove_nas(store_engine, "core")
    async with store_engine.connect() as conn:
        last, changes = await changes_since(conn, start)
        assert changes == [
            ("plan", "gold"),
            ("subscriber", "alice"),
            ("subscriber", "alice"),
            ("subscriber", None),
            ("subscriber", "alice"),
            ("nas", "core"),
        ]
        assert await changes_since(conn, last) == (last, [])
    async with store_engine.begin() as conn:
        assert await prune_changes(conn, last) == 6
    async with store_engine.connect() as conn:
        assert await changes_since(conn, 0) == (last, [("nas", "core")])
        assert await current_change_id(conn) == last
