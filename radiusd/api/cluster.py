"""``GET /cluster/nodes`` and the cluster metrics: the nodes sharing this database.

The route reads ``radiusd_nodes`` at request time. The metrics come from the registry as this
daemon's heartbeat last read it (at most one heartbeat interval old): a Prometheus collector
cannot wait on the database, and the heartbeat reads the table anyway.

=========================================  =======  ===========================================
radiusd_cluster_nodes                      gauge    state (alive, stopped, dead)
radiusd_cluster_node_requests_total        counter  node, worker, type (auth, acct)
radiusd_cluster_node_requests_per_second   gauge    node, worker (over its last interval)
radiusd_cluster_rank / radiusd_cluster_size gauge   this node's index among the live ones, how many
=========================================  =======  ===========================================
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.params import Depends
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from pydantic import BaseModel

from radiusd.store.nodes import STATES, list_nodes

if TYPE_CHECKING:
    from radiusd.server.cluster import NodeMembership

    from .state import LiveState


class NodeOut(BaseModel):
    id: str
    host: str
    pid: int
    worker: int
    state: str  # alive | stopped | dead
    started_at: dt.datetime
    heartbeat_at: dt.datetime
    heartbeat_age: float  # seconds, on the database's clock
    stopped_at: dt.datetime | None
    heartbeat_interval: float
    schema_revision: str
    protocol: int
    version: str
    auth_requests: int
    acct_requests: int
    requests_per_second: float


def _membership(state: LiveState) -> NodeMembership | None:
    return getattr(state, "membership", None)


class ClusterCollector(Collector):
    def __init__(self, state: LiveState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        membership = _membership(self.state)
        nodes = membership.nodes if membership is not None else []
        by_state = GaugeMetricFamily("radiusd_cluster_nodes", "Nodes in the registry", labels=["state"])
        for name in STATES:
            by_state.add_metric([name], sum(1 for n in nodes if n.state == name))
        yield by_state
        requests = CounterMetricFamily(
            "radiusd_cluster_node_requests", "Requests answered per node", labels=["node", "worker", "type"]
        )
        rate = GaugeMetricFamily(
            "radiusd_cluster_node_requests_per_second", "Requests/s per live node", labels=["node", "worker"]
        )
        for n in nodes:
            requests.add_metric([n.id, str(n.worker), "auth"], n.auth_requests)
            requests.add_metric([n.id, str(n.worker), "acct"], n.acct_requests)
            if n.alive:
                rate.add_metric([n.id, str(n.worker)], n.requests_per_second)
        yield requests
        yield rate
        if membership is not None:
            yield GaugeMetricFamily("radiusd_cluster_rank", "This node's index among the live nodes",
                                    value=membership.rank)  # fmt: skip
            yield GaugeMetricFamily("radiusd_cluster_size", "Live nodes", value=membership.count)


def install(app: FastAPI, state: LiveState, read: Sequence[Depends], registry: CollectorRegistry) -> None:
    """Add ``GET /cluster/nodes`` to ``app`` and the cluster metrics to ``registry``."""
    registry.register(ClusterCollector(state))

    @app.get("/cluster/nodes", tags=["cluster"], dependencies=list(read))
    async def cluster_nodes() -> list[NodeOut]:
        """Every node registered on this database (alive, stopped or dead), sorted by id."""
        async with state.engine.connect() as conn:
            nodes = await list_nodes(conn)
        return [NodeOut.model_validate(n.to_json()) for n in nodes]
