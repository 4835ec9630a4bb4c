"""``radiusd cluster status``: the daemons (and worker processes) registered on this database.

Read from ``radiusd_nodes``: each node's state is judged on the database's clock (alive while
its heartbeat is within 3 of its intervals, stopped after a clean exit, else dead).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from radiusd.cli.context import run_store
from radiusd.cli.listing import render
from radiusd.cli.output import json_option

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

COLUMNS = ("id", "host", "pid", "worker", "state", "started", "heartbeat", "requests_per_second", "version")


@click.group()
def cluster() -> None:
    """The nodes sharing this database."""


@cluster.command("status")
@json_option
def cluster_status(as_json: bool) -> None:
    """List every node: id, host, pid, worker, state (alive/stopped/dead), last heartbeat.

    JSON: an array of objects with id, host, pid, worker, started_at, heartbeat_at, stopped_at,
    heartbeat_interval, heartbeat_age (seconds), state, schema_revision, protocol, version,
    auth_requests, acct_requests, requests_per_second.
    """
    from radiusd.store.nodes import list_nodes

    async def go(engine: AsyncEngine) -> list[dict[str, Any]]:
        async with engine.connect() as conn:
            return [n.to_json() for n in await list_nodes(conn)]

    nodes = run_store(go)
    if not as_json:
        for n in nodes:
            n["started"] = n["started_at"][:19].replace("T", " ")
            n["heartbeat"] = f"{n['heartbeat_age']:.1f}s ago"
    render(nodes, COLUMNS, as_json=as_json, empty="no nodes have run on this database")
