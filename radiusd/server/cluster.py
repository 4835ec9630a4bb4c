"""This daemon's membership of the node registry: join (or refuse to), heartbeat, leave.

Several daemons and worker processes may share one PostgreSQL database. Each registers a row
in ``radiusd_nodes`` at start and refreshes it every ``node_heartbeat_interval`` seconds; from
the live rows every node derives the same picture: its ``rank`` (index among the live node ids,
sorted) and the ``count`` of live nodes, which the address allocator uses to spread its
candidates. Nothing correct depends on that picture: claims are conditional in the database.

A start is refused (:class:`StartRefused`, one line) when it would be unsafe: a second daemon on
a SQLite file, or a live node speaking another cluster protocol (they could hand out the same
address twice). A node killed with SIGKILL leaves its row behind; it counts as dead once its
heartbeat is older than 3 intervals (on SQLite, at once when its pid is gone on this host).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import os
import secrets
import socket
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.logs import get_logger
from radiusd.store.engine import begin_write, head_revision
from radiusd.store.errors import StoreError
from radiusd.store.models import ClusterNode
from radiusd.store.nodes import (
    ALIVE,
    Node,
    NodeInfo,
    heartbeat,
    list_nodes,
    mark_stopped,
    prune_nodes,
    register_node,
)
from radiusd.tasks import reraise_if_cancelled

from .stats import Stats

log = get_logger("radiusd.cluster")

#: Bumped whenever nodes must agree on something new to share a database safely (how addresses
#: are claimed, what a heartbeat means). A daemon refuses to start beside a live node whose
#: number differs: mixing them could double-allocate.
CLUSTER_PROTOCOL = 1

_JOIN_LOCK = 0x72646E64  # "rdnd": PostgreSQL advisory lock held while a node checks and joins
PRUNE_EVERY = 3600.0  # seconds between prunings of old rows (worker 0 only)

OnChange = Callable[[int, int], None]


class StartRefused(StoreError):
    """Starting here would be unsafe; the message says why and what to do (one line)."""


def software_version() -> str:
    try:
        return importlib.metadata.version("radiusd")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def new_node_id(host: str, pid: int) -> str:
    return f"{host[:100]}:{pid}:{secrets.token_hex(3)}"


def pid_running(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (one we may not signal exists too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def refusal(nodes: list[Node], me: NodeInfo, sqlite: bool) -> str | None:
    """Why ``me`` must not join beside ``nodes`` (the registry now), or None when it may."""
    for node in nodes:
        if node.state != ALIVE or node.id == me.id:
            continue
        if node.protocol != me.protocol:
            return (
                f"node {node.id} runs cluster protocol {node.protocol}, this daemon {me.protocol}: "
                "upgrade all nodes"
            )
        if sqlite and not (node.host == me.host and not pid_running(node.pid)):
            return (
                f"another radiusd (pid {node.pid} on {node.host}, heartbeat {node.heartbeat_age:.1f}s ago) "
                "uses this SQLite database; SQLite serves one daemon: use PostgreSQL to run several"
            )
    return None


class NodeMembership:
    """This process's row in the registry, kept fresh by a heartbeat task.

    ``rank`` and ``count`` are this node's index among the live nodes (sorted by id) and how
    many are live; ``on_change(rank, count)`` is called (in the event loop) when they change.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        stats: Stats,
        *,
        interval: float = 2.0,
        worker: int = 0,
        prune_after: float = 86_400.0,
        on_change: OnChange | None = None,
    ) -> None:
        self.engine = engine
        self.stats = stats
        self.interval = interval
        self.worker = worker
        self.prune_after = prune_after
        self.on_change = on_change
        host = socket.gethostname()
        pid = os.getpid()
        self.info = NodeInfo(
            id=new_node_id(host, pid),
            host=host[:255],
            pid=pid,
            worker=worker,
            heartbeat_interval=interval,
            schema_revision=head_revision(),
            protocol=CLUSTER_PROTOCOL,
            version=software_version(),
        )
        self.rank = 0
        self.count = 1
        self.nodes: list[Node] = []  # the registry as last read (metrics read this)
        self._task: asyncio.Task[None] | None = None
        self._last = (time.monotonic(), 0)

    @property
    def node_id(self) -> str:
        return self.info.id

    # -- joining and leaving --------------------------------------------------------------

    async def preflight(self) -> None:
        """Refuse before the schema is migrated, when the registry already tells (best effort:
        a table the code cannot read yet is left to :meth:`join`, after the migration)."""
        sqlite = self.engine.dialect.name == "sqlite"
        try:
            async with self.engine.connect() as conn:
                if not await conn.run_sync(lambda c: sa.inspect(c).has_table(ClusterNode.__tablename__)):
                    return
                nodes = await list_nodes(conn)
        except SQLAlchemyError:
            return
        why = refusal(nodes, self.info, sqlite)
        if why is not None:
            raise StartRefused(why)

    async def join(self) -> None:
        """Register, unless a live node makes this start unsafe (then :class:`StartRefused`)."""
        sqlite = self.engine.dialect.name == "sqlite"
        async with begin_write(self.engine) as conn:  # SQLite: BEGIN IMMEDIATE serialises joins
            if not sqlite:
                await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_JOIN_LOCK)))
            why = refusal(await list_nodes(conn), self.info, sqlite)
            if why is not None:
                raise StartRefused(why)
            await register_node(conn, self.info)
        async with self.engine.connect() as conn:
            self._update(await list_nodes(conn))
        log.info("cluster.joined", node=self.node_id, worker=self.worker, rank=self.rank, count=self.count)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="radiusd-heartbeat")

    async def leave(self) -> None:
        """Stop the heartbeat and mark the row stopped (a clean exit is not a death)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        auth, acct = self.counters()
        try:
            async with begin_write(self.engine) as conn:
                await mark_stopped(conn, self.node_id, auth, acct)
        except Exception as exc:  # the database may be away: the row then ages into "dead"
            log.warning("cluster.leave-failed", error=f"{type(exc).__name__}: {exc}"[:300])

    # -- the heartbeat --------------------------------------------------------------------

    def counters(self) -> tuple[int, int]:
        """(authentication, accounting) requests answered so far by this process."""
        auth = acct = 0
        for (kind, _result), n in self.stats.requests.items():
            if kind == "access":
                auth += n
            elif kind == "accounting":
                acct += n
        return auth, acct

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_prune = loop.time() + (60.0 if self.worker == 0 else float("inf"))
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.beat()
                if loop.time() >= next_prune:
                    next_prune = loop.time() + PRUNE_EVERY
                    await self.prune()
            except Exception as exc:  # the database may be away; RADIUS goes on from memory
                reraise_if_cancelled(exc)
                log.warning("cluster.heartbeat-failed", error=f"{type(exc).__name__}: {exc}"[:300])

    async def beat(self) -> None:
        """One heartbeat: counters and requests/s into our row, then re-read the live nodes."""
        now = time.monotonic()
        auth, acct = self.counters()
        then, before = self._last
        rate = (auth + acct - before) / (now - then) if now > then else 0.0
        self._last = (now, auth + acct)
        async with begin_write(self.engine) as conn:
            if not await heartbeat(conn, self.node_id, auth, acct, rate):
                # our row was pruned (we were silent for long): come back under the same id
                await register_node(conn, self.info)
                await heartbeat(conn, self.node_id, auth, acct, rate)
                log.warning("cluster.re-registered", node=self.node_id)
            nodes = await list_nodes(conn)
        self._update(nodes)

    async def prune(self) -> int:
        async with begin_write(self.engine) as conn:
            pruned = await prune_nodes(conn, self.prune_after)
        if pruned:
            log.info("cluster.nodes-pruned", rows=pruned)
        return pruned

    def _update(self, nodes: list[Node]) -> None:
        self.nodes = nodes
        live = sorted({n.id for n in nodes if n.state == ALIVE} | {self.node_id})
        rank, count = live.index(self.node_id), len(live)
        if (rank, count) == (self.rank, self.count):
            return
        log.info("cluster.changed", node=self.node_id, rank=rank, count=count, was=[self.rank, self.count])
        self.rank, self.count = rank, count
        if self.on_change is not None:
            self.on_change(rank, count)

    def snapshot(self) -> list[dict[str, Any]]:
        return [n.to_json() for n in self.nodes]
