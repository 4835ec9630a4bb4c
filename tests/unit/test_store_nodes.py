"""The node registry on both backends: alive, dead after 3 missed heartbeats, stopped, pruned."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.store.nodes import (
    ALIVE,
    DEAD,
    STOPPED,
    NodeInfo,
    heartbeat,
    list_nodes,
    mark_stopped,
    prune_nodes,
    register_node,
)


def info(node_id: str, interval: float = 2.0, worker: int = 0) -> NodeInfo:
    return NodeInfo(
        id=node_id, host="h", pid=1, worker=worker, heartbeat_interval=interval,
        schema_revision="0010", protocol=1, version="0.1.0",
    )  # fmt: skip


async def test_states_follow_heartbeats_on_the_database_clock(store_engine: AsyncEngine) -> None:
    async with store_engine.begin() as conn:
        await register_node(conn, info("b", worker=1))
        await register_node(conn, info("a"))
        await register_node(conn, info("fast", interval=0.05))
    async with store_engine.begin() as conn:
        assert await heartbeat(conn, "a", auth=5, acct=7, rate=1.5)
    async with store_engine.connect() as conn:
        nodes = await list_nodes(conn)
    assert [n.id for n in nodes] == ["a", "b", "fast"]
    assert {n.id: n.state for n in nodes} == {"a": ALIVE, "b": ALIVE, "fast": ALIVE}
    a = nodes[0]
    assert (a.auth_requests, a.acct_requests, a.requests_per_second) == (5, 7, 1.5)
    assert 0 <= a.heartbeat_age < 2
    await asyncio.sleep(0.3)  # more than 3 x 0.05 s without a heartbeat: dead
    async with store_engine.begin() as conn:
        await mark_stopped(conn, "b", auth=1, acct=2)
        assert not await heartbeat(conn, "b", auth=1, acct=2, rate=0.0)  # stopped stays stopped
        assert not await heartbeat(conn, "gone", auth=0, acct=0, rate=0.0)
    async with store_engine.connect() as conn:
        states = {n.id: n.state for n in await list_nodes(conn)}
    assert states == {"a": ALIVE, "b": STOPPED, "fast": DEAD}
    assert nodes[0].to_json()["state"] == ALIVE


async def test_prune_removes_only_old_rows(store_engine: AsyncEngine) -> None:
    async with store_engine.begin() as conn:
        await register_node(conn, info("old"))
        await mark_stopped(conn, "old", auth=0, acct=0)
    await asyncio.sleep(0.3)
    async with store_engine.begin() as conn:
        await register_node(conn, info("new"))
        assert await prune_nodes(conn, older_than=0.2) == 1
    async with store_engine.connect() as conn:
        assert [n.id for n in await list_nodes(conn)] == ["new"]
