"""The state of the IPAM service and how it loads and writes it (see :mod:`.ipam_service`).

:class:`IpamBase` holds the in-memory :class:`ipam.Allocator` and the pool rows it was built
from (:func:`ipam.groups.load_allocator`: start-up, pool edits), and turns allocator changes
into writer operations (:class:`~radiusd.store.lease_ops.LeaseOp`), settling them in memory
once their transaction is known: committed, rolled back, or lost to a row another node holds.
The assigner (:mod:`.ipam_service`), the accounting hooks (:mod:`.ipam_hooks`) and the upkeep
(:mod:`.ipam_upkeep`) are built on it.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ipam import Allocator, Change, Lease, LeaseState, PoolError
from ipam.groups import PoolConfig, load_allocator
from ipam.lease import LIVE
from ipam.owners import username_of
from radiusd.clock import ClockWatch
from radiusd.config import Settings
from radiusd.logs import get_logger
from radiusd.model.writes import WriterBusy, WriterClosed
from radiusd.store.lease_feed import LeaseFeed
from radiusd.store.lease_ops import LeaseOp
from radiusd.store.leases import lease_row
from radiusd.store.pool_rows import load_configs, load_leases

from .directory import Directory

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from radiusd.model.writes import Operation
    from radiusd.store.writer import Writer

log = get_logger("radiusd.ipam")


class IpamBase:
    """The allocator, its pool rows, this node's identity and figures; loading and writing."""

    def __init__(
        self,
        engine: AsyncEngine,
        writer: Writer,
        settings: Settings,
        directory: Directory | None = None,
        *,
        clock: Callable[[], float] = time.time,
        node: str | None = None,
        watch: ClockWatch | None = None,
    ) -> None:
        self.engine = engine
        self.writer = writer
        self.settings = settings
        self.directory = directory
        self.clock = clock
        #: wall-clock steps, noticed by the sweep (a step is not time passing: see radiusd.clock)
        self.watch = watch if watch is not None else ClockWatch.for_clock(settings.sweep_interval, clock)
        self.alloc = Allocator()
        self.region = (0, 1)  # this node's rank among the live nodes, and their number
        self.configs: dict[str, PoolConfig] = {}
        self._nas_pool: dict[int, str] = {}  # router id -> its NAS-scoped pool (operator name)
        self._dirty: set[str] = set()  # addresses whose row must be written again (hook failed)
        self._warned: set[str] = set()
        self._rows_cache: dict[str, list[str]] = {}  # group -> its usable pool rows, for _rows_of
        self._rows_of: Allocator | None = None
        #: this node's name in lease announcements to the other nodes (PostgreSQL)
        self.node = node or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        # figures for metrics and tests
        self.allocated = 0
        self.exhausted = 0
        self.ipv6_exhausted = 0  # logins given IPv4 only: their pool's IPv6 side was exhausted
        self._v6_exhausted_logged: dict[str, float] = {}
        self.conflicts = 0
        self.claims_lost = 0  # items another node held when this one claimed them (claimed again)
        # other nodes' writes on their way into memory (see run_feed)
        self.feed: LeaseFeed | None = None
        self._sync_items: set[str] = set()
        self._sync_since: dt.datetime | None = None
        self._syncing = False

    # -- loading --------------------------------------------------------------------------

    def _build(
        self, configs: dict[str, PoolConfig], leases: Iterable[Lease]
    ) -> tuple[Allocator, list[Lease]]:
        """The allocator of ``configs`` holding ``leases`` (stored rows, or the running
        allocator's dump), this node's region set; and the leases outside every range."""
        s = self.settings
        return load_allocator(
            configs.values(), leases, offer_ttl=s.offer_ttl, sticky_ttl=s.sticky_ttl, region=self.region
        )

    def prefer(self, rank: int, count: int) -> None:
        """This node is number ``rank`` of ``count`` live nodes: begin handing out never-used
        items in a region of every range of its own (nodes then rarely reach for the same
        item at once; the database's guard makes it harmless when they do)."""
        if (rank, count) == self.region:
            return
        self.alloc.prefer(rank, count)
        self.region = (rank, count)
        log.info("ipam.region", rank=rank, nodes=count)

    def _set_configs(self, configs: dict[str, PoolConfig]) -> None:
        self.configs = configs
        self._nas_pool = {
            c.router_id: c.group for c in configs.values() if c.router_id is not None and c.kind == "ipv4"
        }

    async def load(self) -> None:
        """Build the allocator from the pool tables and every lease row (start-up)."""
        async with self.engine.connect() as conn:
            configs = await load_configs(conn)
            rows = await load_leases(conn)
        alloc, orphans = self._build(configs, rows)
        self.alloc = alloc
        self._set_configs(configs)
        for row in orphans:
            log.warning("ipam.orphan-lease", address=row.address, state=str(row.state), owner=row.owner)
        usage = alloc.usage()
        log.info(
            "ipam.loaded",
            pools=len(configs),
            leases=sum(1 for r in rows if r.state in LIVE),
            allocated=sum(u.allocated for u in usage.values()),
        )

    async def start(self) -> None:
        """Load, then reserve the static addresses of subscribers (the writer must run)."""
        await self.load()
        await self.reserve_statics()

    async def reserve_statics(self) -> int:
        """Reserve every subscriber's static IPv4 address that lies in a pool; returns how many
        reservations changed. A static address held by someone else is logged as a conflict."""
        if self.directory is None:
            return 0
        changes: list[Change] = []
        for sub in self.directory.subscribers.values():
            ip = sub.static_ip
            pool = self.alloc.find(ip) if ip else None
            if not ip or pool is None or not pool.contains(ip):
                continue  # outside every pool, or excluded from one: sent as configured, never leased
            current = self.alloc.lookup(ip)
            if current is not None and current.reserved and current.owner == sub.username:
                continue
            try:
                changes.append(self.alloc.reserve(ip, sub.username))
            except PoolError as exc:
                self.conflicts += 1
                log.warning("ipam.static-conflict", user=sub.username, address=ip, error=str(exc))
        await self._write_settled(changes)
        return len(changes)

    # -- writing --------------------------------------------------------------------------

    def _op(
        self, changes: Sequence[Change], undo: Callable[[], None] | None, end: str = "release"
    ) -> LeaseOp:
        """The writer operation of ``changes``: an item taken into use (or reserved) is written
        under the ``hold`` guard, one that ends under ``end`` (``release`` or ``expire``)."""
        when = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        configs = self.configs
        v4: list[dict[str, Any]] = []
        v6: list[dict[str, Any]] = []
        started: list[dict[str, Any]] = []
        ended: list[dict[str, Any]] = []
        for ch in changes:
            lease, before = ch.lease, ch.before
            cfg = configs[lease.pool]
            which, row = lease_row(lease, cfg, when)
            held = lease.state in LIVE or LeaseState.RESERVED in (lease.state, before.state)
            row["guard"] = "hold" if held else end
            (v4 if which == "v4" else v6).append(row)
            live, was_live = lease.state in LIVE, before.state in LIVE
            same_holder = was_live and before.owner == lease.owner
            if was_live and not (live and same_holder):
                ended.append({"a": lease.address, "t": when})
            if live and not same_holder and lease.owner is not None:
                started.append(
                    {
                        "username": username_of(lease.owner),
                        "subscriber_id": None,
                        "address": lease.address,
                        "family": 4 if which == "v4" else 6,
                        "pool_name": cfg.group,
                        "router_id": row["router_id"],
                        "session_key": lease.session,
                        "assigned_at": when,
                        "released_at": None,
                    }
                )
        return LeaseOp(v4, v6, started, ended, undo, node=self.node)

    def _settle(self, changes: Sequence[Change], op: LeaseOp) -> list[Change]:
        """Settle committed ``changes``: those whose row another node holds (``op.lost``) are
        rolled back and the stored rows taken into memory; returns the lost changes."""
        lost = op.lost
        if not lost:
            self.alloc.commit_all(changes)
            return []
        gone = [ch for ch in changes if ch.address in lost]
        self.alloc.commit_all(ch for ch in changes if ch.address not in lost)
        self.alloc.rollback_all(gone)
        self.take_rows(lost.values())
        return gone

    def take_rows_of(self, rows: dict[str, Lease]) -> None:
        self.take_rows(rows.values())

    def take_rows(self, rows: Iterable[Lease]) -> None:
        """Take stored rows (written by another node) into memory."""
        for row in rows:
            if row.pool in self.configs:
                self.alloc.apply(row)

    async def _write_settled(self, changes: list[Change], end: str = "release") -> bool:
        """Write ``changes`` and settle them: commit after the transaction, rollback if it failed
        (or if another node held the row: see :meth:`_settle`)."""
        if not changes:
            return True
        op = self._op(changes, lambda: self.alloc.rollback_all(changes), end)
        try:
            await self.writer.submit(op)
        except (WriterBusy, WriterClosed):
            op.rolled_back()
            return False
        except Exception as exc:  # rolled back by the writer (op.rolled_back)
            log.warning("ipam.write-failed", changes=len(changes), error=f"{type(exc).__name__}: {exc}"[:300])
            return False
        for ch in self._settle(changes, op):
            log.info("ipam.held-elsewhere", address=ch.address, wanted=str(ch.lease.state))
        return True

    def _eager(self, changes: list[Change], end: str = "release") -> list[Operation]:
        """Operations for hook changes, settled in memory now (see the module docstring). A
        row another node holds is not written; the stored row is taken into memory when the
        transaction reads it (and a NAS that reports it is logged as a conflict)."""
        return [self._eager_op(changes, end)] if changes else []

    def _eager_op(self, changes: list[Change], end: str = "release") -> LeaseOp:
        """The one operation of :meth:`_eager` (``changes`` not empty)."""
        for ch in changes:
            self.alloc.commit(ch)
        addresses = [ch.address for ch in changes]
        op = self._op(changes, lambda: self._dirty.update(addresses), end)
        op.on_lost = self._hook_lost
        return op

    def _hook_lost(self, rows: dict[str, Lease]) -> None:
        for row in rows.values():
            self.conflicts += 1
            log.warning(
                "ipam.conflict",
                address=row.address,
                holder=username_of(row.owner),
                holder_state=str(row.state),
                source="database",
            )
        self.take_rows(rows.values())
