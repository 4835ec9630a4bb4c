"""Many pools behind one object: routing by address, fallback pools, cross-pool checks.

The policy layer talks to an :class:`Allocator` only; it names a pool to allocate from and an
address for everything else (the allocator finds the pool by binary search over every range).
Each mutating call returns :class:`~ipam.pool_items.Change` objects for the group-commit writer,
which persists ``change.lease`` and then calls :meth:`Allocator.commit` or
:meth:`Allocator.rollback` (in reverse order for a failed batch).

Several daemons on one database: every node keeps a whole copy of every pool. The database
decides who holds an item (the daemon's claim of a row is conditional); :meth:`Allocator.apply`
takes in what other nodes wrote, and :meth:`Allocator.prefer` starts each node's never-used
items in a region of its own so that nodes rarely reach for the same item at once.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable

from ipam.errors import PoolError
from ipam.lease import AdoptStatus, Lease
from ipam.pool import Pool, pools_overlap_check
from ipam.pool_items import Adoption, Change
from ipam.ranges import AddressLike, ItemRange, check_overlaps, parse_value
from ipam.utilisation import Usage, over_threshold


class Allocator:
    """A set of pools with disjoint ranges. See :class:`~ipam.pool.Pool` for the semantics
    of each operation; the methods here only route them."""

    def __init__(self, pools: Iterable[Pool] = ()) -> None:
        self._pools: dict[str, Pool] = {}
        # per family: sorted range starts, and the (range, pool) at each start
        self._index: dict[int, tuple[list[int], list[tuple[ItemRange, Pool]]]] = {4: ([], []), 6: ([], [])}
        self._chains: dict[str, list[Pool]] = {}
        for pool in pools:
            self.add_pool(pool)

    # ---------------------------------------------------------------- pools

    @property
    def pools(self) -> dict[str, Pool]:
        return dict(self._pools)

    def has_pools(self) -> bool:
        """Whether any pool is configured (without one, no address is managed here)."""
        return bool(self._pools)

    def pool(self, name: str) -> Pool:
        try:
            return self._pools[name]
        except KeyError:
            raise PoolError(f"no pool named {name!r}") from None

    def add_pool(self, pool: Pool) -> Pool:
        """Add a pool; refused if its name exists or a range overlaps another pool's."""
        if pool.name in self._pools:
            raise PoolError(f"pool {pool.name!r} already exists")
        pools_overlap_check([*self._pools.values(), pool])
        self._pools[pool.name] = pool
        self._reindex()
        return pool

    def remove_pool(self, name: str) -> None:
        """Remove a pool; refused while it has live or reserved items, or is a fallback."""
        pool = self.pool(name)
        for other in self._pools.values():
            if other.fallback == name and other is not pool:
                raise PoolError(f"pool {name!r} is the fallback of pool {other.name!r}")
        busy = pool.usage()
        if busy.allocated or busy.reserved:
            raise PoolError(
                f"pool {name!r} still has {busy.allocated} allocated and {busy.reserved} reserved item(s)"
            )
        del self._pools[name]
        self._reindex()

    def add_range(self, name: str, spec: str) -> ItemRange:
        """Add a range to a pool; refused if it overlaps any range of any pool."""
        pool = self.pool(name)
        rng = pool.parse(spec)
        check_overlaps(
            [(f"pool {p.name!r} range {r.spec}", r) for p in self._pools.values() for r in p.ranges]
            + [(f"pool {name!r} range {rng.spec}", rng)]
        )
        pool.add_range(rng)
        self._reindex()
        return rng

    def remove_range(self, name: str, spec: str) -> None:
        """Remove a range; refused while any of its items is live or reserved."""
        self.pool(name).remove_range(spec)
        self._reindex()

    def _reindex(self) -> None:
        for family in (4, 6):
            entries = sorted(
                ((r, p) for p in self._pools.values() if p.family == family for r in p.ranges),
                key=lambda rp: rp[0].lo,
            )
            self._index[family] = ([r.lo for r, _ in entries], entries)
        self._chains.clear()

    def find(self, address: AddressLike) -> Pool | None:
        """The pool whose ranges contain ``address`` (an address or prefix), or None."""
        found = self._route(address)
        return found[0] if found else None

    def _route(self, address: AddressLike) -> tuple[Pool, int] | None:
        family, value, _ = parse_value(address)
        starts, entries = self._index[family]
        i = bisect.bisect(starts, value) - 1
        if i < 0:
            return None
        rng, pool = entries[i]
        if value > rng.hi:
            return None
        return pool, value

    def _routed(self, address: AddressLike) -> tuple[Pool, int]:
        found = self._route(address)
        if found is None:
            raise PoolError(f"{address} is not in any pool")
        return found

    def chain(self, name: str) -> list[Pool]:
        """The pool and its fallbacks, in the order tried (cycles and kind mismatches refused)."""
        cached = self._chains.get(name)
        if cached is not None:
            return cached
        chain = [self.pool(name)]
        while chain[-1].fallback is not None:
            nxt = self.pool(chain[-1].fallback)
            if nxt in chain:
                raise PoolError(f"fallback cycle: {' -> '.join(p.name for p in chain)} -> {nxt.name}")
            if nxt.kind != chain[0].kind:
                raise PoolError(
                    f"fallback {nxt.name!r} ({nxt.kind}) of {chain[-1].name!r} is not {chain[0].kind}"
                )
            chain.append(nxt)
        self._chains[name] = chain
        return chain

    # ------------------------------------------------------------ lifecycle

    def allocate(
        self,
        pool: str,
        owner: str,
        now: float,
        *,
        nas: str | None = None,
        session: str | None = None,
        ttl: float | None = None,
    ) -> Change | None:
        """Offer an item from ``pool`` or, when exhausted, its fallbacks; None if all are.

        An owner already holding a live item anywhere in the chain gets that item again.
        """
        chain = self.chain(pool)
        if len(chain) > 1:
            for p in chain:
                if p.live(owner) is not None:
                    return p.allocate(owner, now, nas=nas, session=session, ttl=ttl)
        for p in chain:
            change = p.allocate(owner, now, nas=nas, session=session, ttl=ttl)
            if change is not None:
                return change
        return None

    def confirm(
        self,
        address: AddressLike,
        owner: str,
        now: float,
        expires: float | None,
        *,
        nas: str | None = None,
        session: str | None = None,
    ) -> Change:
        pool, value = self._routed(address)
        return pool.confirm(value, owner, now, expires, nas=nas, session=session)

    def renew(self, address: AddressLike, owner: str, now: float, expires: float | None) -> Change:
        pool, value = self._routed(address)
        return pool.renew(value, owner, now, expires)

    def release(self, address: AddressLike, owner: str, now: float) -> Change | None:
        found = self._route(address)
        return found[0].release(found[1], owner, now) if found else None

    def release_all_for_nas(
        self, nas: str, now: float, sessions: Collection[str] | None = None, spared: Collection[str] = ()
    ) -> list[Change]:
        return [c for p in self._pools.values() for c in p.release_all_for_nas(nas, now, sessions, spared)]

    def expire(self, now: float) -> list[Change]:
        return [c for p in self._pools.values() for c in p.expire(now)]

    def shift(self, seconds: float) -> None:
        """Move every expiry of every pool by ``seconds`` (see :meth:`Pool.shift`)."""
        for pool in self._pools.values():
            pool.shift(seconds)

    def next_deadline(self) -> float | None:
        deadlines = [d for p in self._pools.values() if (d := p.next_deadline()) is not None]
        return min(deadlines, default=None)

    def adopt(
        self,
        address: AddressLike,
        owner: str,
        now: float,
        expires: float | None,
        *,
        nas: str | None = None,
        session: str | None = None,
    ) -> Adoption:
        found = self._route(address)
        if found is None:
            return Adoption(AdoptStatus.UNMANAGED)
        return found[0].adopt(found[1], owner, now, expires, nas=nas, session=session)

    def reserve(self, address: AddressLike, owner: str | None = None) -> Change:
        pool, value = self._routed(address)
        return pool.reserve(value, owner)

    def unreserve(self, address: AddressLike) -> Change | None:
        found = self._route(address)
        return found[0].unreserve(found[1]) if found else None

    def apply(self, row: Lease) -> bool:
        """Take the stored state of one item written by another node (see :meth:`Pool.apply`);
        False when it is in no pool here or has a change of this node pending."""
        found = self._route(row.address)
        return found[0].apply(row) if found else False

    def prefer(self, index: int, count: int) -> None:
        """Every pool begins its never-used items at region ``index`` of ``count``."""
        for pool in self._pools.values():
            pool.prefer(index, count)

    def commit(self, change: Change) -> None:
        """The writer persisted ``change`` (see :meth:`Pool.commit`)."""
        change._pool.commit(change)

    def rollback(self, change: Change) -> bool:
        """The writer's transaction failed (see :meth:`Pool.rollback`)."""
        return change._pool.rollback(change)

    def commit_all(self, changes: Iterable[Change]) -> None:
        for change in changes:
            self.commit(change)

    def rollback_all(self, changes: Iterable[Change]) -> None:
        """Roll back a failed batch (in reverse order, so stacked changes unwind correctly)."""
        for change in reversed(list(changes)):
            self.rollback(change)

    # --------------------------------------------------------------- lookups

    def lookup(self, address: AddressLike) -> Lease | None:
        found = self._route(address)
        return found[0].lookup(found[1]) if found else None

    def by_owner(self, owner: str) -> list[Lease]:
        return [lease for p in self._pools.values() for lease in p.by_owner(owner)]

    def usage(self) -> dict[str, Usage]:
        return {name: p.usage() for name, p in self._pools.items()}

    def over_threshold(self, pct: float) -> list[tuple[str, Usage]]:
        """Pools at or above ``pct`` percent used, fullest first."""
        return over_threshold(self.usage(), pct)

    # --------------------------------------------------------- dump/restore

    def dump(self) -> list[Lease]:
        return [row for p in self._pools.values() for row in p.dump()]

    def load(self, rows: Iterable[Lease]) -> list[Lease]:
        """Rebuild every pool from stored rows, routed by address (the configured ranges are
        the truth, ``row.pool`` is ignored). Returns the rows that fit no pool (a range was
        removed from the configuration) so the daemon can log them; raises PoolError on an
        address given twice."""
        per_pool: dict[str, list[Lease]] = {}
        orphans: list[Lease] = []
        for row in rows:
            found = self._route(row.address)
            if found is None or not found[0].contains(found[1]):
                orphans.append(row)
            else:
                per_pool.setdefault(found[0].name, []).append(row)
        for name, pool_rows in per_pool.items():
            self._pools[name].restore(pool_rows)
        return orphans
