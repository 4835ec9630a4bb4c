"""``GET /cluster/nodes`` and the cluster metrics, in process over a real Daemon's membership,
on SQLite and PostgreSQL; ``on_change`` when a second node joins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from radiusd.api.app import create_app
from radiusd.config import load_settings
from radiusd.daemon import Daemon
from radiusd.server.cluster import NodeMembership
from radiusd.store.api_tokens import create_token
from radiusd.store.engine import ensure_schema


@pytest.fixture
async def daemon(db_url: str, migrated_db: None, tmp_path: Path) -> AsyncIterator[Daemon]:
    d = Daemon(load_settings(database_url=db_url, data_dir=tmp_path))
    await ensure_schema(d.engine)
    await d.membership.join()
    yield d
    await d.membership.leave()
    await d.engine.dispose()


async def test_nodes_route_and_metrics(daemon: Daemon) -> None:
    _, token = await create_token(daemon.engine, "viewer", read_only=True)
    headers = {"Authorization": f"Bearer {token}"}
    daemon.stats.observe("access", "accept", 0.001)
    daemon.stats.observe("accounting", "ok", 0.001)
    await daemon.membership.beat()
    app = create_app(daemon)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as c:
        assert (await c.get("/cluster/nodes")).status_code == 401
        r = await c.get("/cluster/nodes", headers=headers)
        assert r.status_code == 200
        [node] = r.json()
        assert node["id"] == daemon.membership.node_id
        assert (node["state"], node["worker"], node["auth_requests"], node["acct_requests"]) == (
            "alive",
            0,
            1,
            1,
        )
        text = (await c.get("/metrics", headers=headers)).text
    nid = daemon.membership.node_id
    for line in (
        'radiusd_cluster_nodes{state="alive"} 1.0',
        'radiusd_cluster_nodes{state="dead"} 0.0',
        f'radiusd_cluster_node_requests_total{{node="{nid}",type="auth",worker="0"}} 1.0',
        f'radiusd_cluster_node_requests_total{{node="{nid}",type="acct",worker="0"}} 1.0',
        "radiusd_cluster_size 1.0",
        "radiusd_cluster_rank 0.0",
    ):
        assert line in text, line


async def test_rank_and_count_follow_the_live_nodes(daemon: Daemon, db_url: str) -> None:
    if daemon.engine.dialect.name == "sqlite":
        pytest.skip("one daemon per SQLite database")
    seen: list[tuple[int, int]] = []
    daemon.membership.on_change = lambda rank, count: seen.append((rank, count))
    other = NodeMembership(daemon.engine, daemon.stats, interval=0.2, worker=1)
    await other.join()
    await daemon.membership.beat()
    assert daemon.membership.count == other.count == 2
    assert sorted([daemon.membership.rank, other.rank]) == [0, 1]
    assert seen == [(daemon.membership.rank, 2)]
    await other.leave()
    await daemon.membership.beat()
    assert (daemon.membership.rank, daemon.membership.count) == (0, 1)
    assert seen[-1] == (0, 1)


async def test_a_pruned_row_comes_back_at_the_next_heartbeat(daemon: Daemon) -> None:
    import sqlalchemy as sa

    from radiusd.store.models import ClusterNode

    async with daemon.engine.begin() as conn:
        await conn.execute(sa.delete(ClusterNode))
    await daemon.membership.beat()
    nodes = daemon.membership.nodes
    assert [(n.id, n.state) for n in nodes] == [(daemon.membership.node_id, "alive")]
