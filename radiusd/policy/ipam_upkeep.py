"""The IPAM service's upkeep: the sweep, the utilisation log, other nodes' writes, pool edits.

- The sweep (:meth:`IpamUpkeep.sweep_once`, every ``sweep_interval``): offers not confirmed
  within ``offer_ttl`` and leases without accounting within k x interval + grace end; sticky
  holds end after ``sticky_ttl``; all written through the writer. Addresses whose hook write
  failed are written again. A pool family at or above its threshold (the one rule:
  :func:`ipam.utilisation.is_warning` with :func:`ipam.groups.threshold_of`) is logged when it
  crosses it.
- Other nodes' lease writes (PostgreSQL): announced through LISTEN/NOTIFY (the lease feed),
  read through the writer and taken into memory.
- Change feed topic ``pool`` (:meth:`IpamUpkeep.apply_changes`): pools are rebuilt from the
  database with the in-memory lease state carried over; ``lease:ADDR`` keys (CLI reserve,
  unreserve, release) are applied to memory and the result written back, so memory stays the
  authority.

A mixin of :class:`~radiusd.policy.ipam_service.IpamService`, whose state it uses.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from ipam import Change, LeaseState, PoolError
from ipam.groups import group_of, threshold_of
from ipam.lease import LIVE
from ipam.utilisation import is_warning
from radiusd.logs import get_logger
from radiusd.model.writes import WriterBusy, WriterClosed
from radiusd.store.lease_feed import LeaseFeed, LeaseReadOp, asyncpg_dsn
from radiusd.store.lease_ops import LeaseOp
from radiusd.store.leases import lease_row
from radiusd.store.pool_rows import load_configs, load_lease_rows
from radiusd.tasks import reraise_if_cancelled

from .ipam_base import IpamBase

log = get_logger("radiusd.ipam")


class IpamUpkeep(IpamBase):
    """Sweep, utilisation log, other nodes' writes and pool edits of
    :class:`~radiusd.policy.ipam_service.IpamService`."""

    async def sweep_once(self) -> int:
        """Expire what is due, re-write addresses whose hook write failed, warn on utilisation.
        A step of the wall clock since the last sweep moves every expiry with it first, so
        that nothing expires because of the step."""
        step = self.watch.look()
        if step:
            self.alloc.shift(step)
            log.warning("clock.jump", seconds=round(step, 1), action="lease expiries moved with it")
        changes = self.alloc.expire(self.clock())
        if changes and await self._write_settled(changes, end="expire"):
            log.info("ipam.expired", changes=len(changes))
        if self._dirty:
            await self._resync()
        self.check_utilisation()
        return len(changes)

    async def _resync(self) -> None:
        addresses, self._dirty = self._dirty, set()
        await self._write_current(addresses, dirty_on_failure=True)

    async def _write_current(self, addresses: Iterable[str], *, dirty_on_failure: bool) -> None:
        when = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        v4: list[dict[str, Any]] = []
        v6: list[dict[str, Any]] = []
        done: list[str] = []
        for address in addresses:
            lease = self.alloc.lookup(address)
            if lease is None or lease.pool not in self.configs:
                continue
            which, row = lease_row(lease, self.configs[lease.pool], when)
            row["guard"] = "hold" if lease.state in LIVE or lease.state is LeaseState.RESERVED else "release"
            (v4 if which == "v4" else v6).append(row)
            done.append(address)
        if not done:
            return
        undo = (lambda: self._dirty.update(done)) if dirty_on_failure else None
        op = LeaseOp(v4, v6, undo=undo, node=self.node)
        op.on_lost = self.take_rows_of
        try:
            await self.writer.submit(op)
        except Exception as exc:
            if dirty_on_failure:
                self._dirty.update(done)
            log.warning("ipam.resync-failed", addresses=len(done), error=f"{type(exc).__name__}: {exc}"[:300])

    def check_utilisation(self) -> list[str]:
        """Log pools at or above their warning threshold (once per crossing); their names."""
        default = self.settings.utilisation_warning_pct
        over: list[str] = []
        for name, usage in self.alloc.usage().items():
            cfg = self.configs.get(name)
            threshold = threshold_of(cfg, default)
            if is_warning(usage, threshold):
                over.append(name)
                if name not in self._warned:
                    self._warned.add(name)
                    log.warning(
                        "ipam.utilisation-high",
                        pool=group_of(name),  # the operator's pool, with the family apart
                        kind=cfg.kind if cfg is not None else None,
                        percent_used=round(usage.percent_used, 1),
                        threshold=threshold,
                        allocated=usage.allocated,
                        reserved=usage.reserved,
                        total=usage.total,
                    )
            elif name in self._warned:
                self._warned.discard(name)
                log.info(
                    "ipam.utilisation-ok",
                    pool=group_of(name),
                    kind=cfg.kind if cfg is not None else None,
                    percent_used=round(usage.percent_used, 1),
                )
        return over

    async def run_sweeper(self, interval: float | None = None) -> None:
        every = interval if interval is not None else self.settings.sweep_interval
        while True:
            await asyncio.sleep(every)
            try:
                await self.sweep_once()
            except Exception as exc:  # keep sweeping; the next round retries
                reraise_if_cancelled(exc)
                log.exception("ipam.sweep-error")

    # -- other nodes' writes ----------------------------------------------------------------

    async def run_feed(self) -> None:
        """Take other nodes' lease writes into memory as they are announced (PostgreSQL only;
        returns at once on SQLite, which serves one node)."""
        if self.engine.dialect.name != "postgresql":
            return
        self.feed = LeaseFeed(
            asyncpg_dsn(self.engine.url),
            self.node,
            self._written_elsewhere,
            self._catch_up,
            poll_interval=self.settings.lease_feed_poll,
        )
        await self.feed.run()

    def _written_elsewhere(self, items: list[str]) -> None:
        self._sync_items.update(items)
        self._sync()

    def _catch_up(self, since: dt.datetime) -> None:
        self._read_since(since)
        self._sync()

    def _read_since(self, since: dt.datetime) -> None:
        """Ask the next read for every row changed at or after ``since`` (the earliest asked)."""
        if self._sync_since is None or since < self._sync_since:
            self._sync_since = since

    def _sync(self) -> None:
        """Read what other nodes wrote, one read through the writer at a time."""
        if self._syncing or not (self._sync_items or self._sync_since):
            return
        items, self._sync_items = self._sync_items, set()
        since, self._sync_since = self._sync_since, None
        op = LeaseReadOp(items, since)
        try:
            read = self.writer.submit(op)
        except (WriterBusy, WriterClosed):
            self._sync_later(items, since)
            return
        self._syncing = True

        def done(fut: asyncio.Future[None]) -> None:
            self._syncing = False
            if fut.cancelled() or fut.exception() is not None:
                self._sync_later(items, since)
                return
            self.take_rows(op.rows.values())
            self._sync()

        read.add_done_callback(done)

    def _sync_later(self, items: set[str], since: dt.datetime | None) -> None:
        self._sync_items |= items
        if since is not None:
            self._read_since(since)
        asyncio.get_running_loop().call_later(0.5, self._sync)

    # -- change feed ----------------------------------------------------------------------

    async def apply_changes(self, keys: Sequence[str | None]) -> None:
        """Change feed topic ``pool``: rebuild pools (lease state carried over from memory),
        then apply CLI lease edits (``lease:ADDR``) and write the result back."""
        lease_keys = [k[6:] for k in keys if k is not None and k.startswith("lease:")]
        if len(lease_keys) != len(keys):
            await self.reload_pools()
        if lease_keys:
            await self._apply_lease_edits(lease_keys)

    async def reload_pools(self) -> None:
        """Rebuild the pools from the database, keeping every in-memory lease (memory is the
        authority while the daemon runs). A change still pending in the old pools settles
        there: at worst an address stays offered until its offer expires, never twice."""
        async with self.engine.connect() as conn:
            configs = await load_configs(conn)
        try:
            alloc, orphans = self._build(configs, self.alloc.dump())
        except PoolError as exc:
            log.error("ipam.reload-refused", error=str(exc))
            return
        for row in orphans:
            if row.state in LIVE or row.state is LeaseState.RESERVED:
                log.warning("ipam.orphan-lease", address=row.address, state=str(row.state), owner=row.owner)
        self.alloc = alloc
        self._set_configs(configs)
        log.info("ipam.pools-reloaded", pools=len(configs))
        await self.reserve_statics()

    async def _apply_lease_edits(self, addresses: list[str]) -> None:
        now = self.clock()
        changes: list[Change] = []
        stored = await load_lease_rows(self.engine, addresses)
        for address, row in stored.items():
            current = self.alloc.lookup(address)
            if current is None:
                continue
            try:
                if row.state is LeaseState.RESERVED:
                    if not (current.reserved and current.owner == row.owner):
                        changes.append(self.alloc.reserve(address, row.owner))
                elif current.state is LeaseState.RESERVED:
                    ch = self.alloc.unreserve(address)
                    changes += [ch] if ch is not None else []
                elif row.state not in LIVE and current.state in LIVE and current.owner is not None:
                    ch = self.alloc.release(address, current.owner, now)
                    changes += [ch] if ch is not None else []
            except PoolError as exc:
                log.warning("ipam.lease-edit-refused", address=address, error=str(exc))
        await self._write_settled(changes)
        await self._write_current(addresses, dirty_on_failure=True)  # memory is the authority
