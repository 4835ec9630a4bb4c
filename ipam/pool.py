"""One pool: its ranges, the per-item state machine and O(1) allocation.

Data structures (Kea's free-lease-queue idea, adapted so huge IPv6 spaces cost nothing):

- per range a *cursor*: every index at or past it that is not in the item table has never
  been used. Handing out a fresh item is ``cursor += 1`` (skipping exclusions and items
  touched out of order by ``adopt``/``reserve``), so a /32 split into /64s is never listed.
  The cursor counts from a per-range *start* and wraps around (:meth:`Pool.prefer`): several
  nodes sharing one pool each begin in a region of their own, so they rarely offer the same
  fresh item at the same moment (the database's conditional claim is what makes a collision
  harmless; the regions only make it rare);
- ``_items``: a state record only for items that have ever been touched;
- ``_free``: FIFO of touched items that are free again (oldest-freed handed out first, which
  keeps a returning subscriber's old item available as long as possible);
- ``_held``: FIFO of released items sticky-held for their last owner: the last resort;
- ``_owners``: owner -> its current or last item, for idempotent re-offers and stickiness;
- ``_nas``: NAS -> its live items, for Accounting-On/Off;
- ``_heap``: (expires, value) for every timed state, with lazy deletion (a renewal pushes a
  new entry; stale ones are skipped when popped and compacted when they pile up).

Allocation order: the owner's live item (idempotent) > the owner's static reservation > the
owner's last item if still free or held for it (sticky) > a never-used item > the oldest
freed item > the oldest sticky hold of another owner. ``None`` when nothing is left.

Owners are opaque strings chosen by the caller. Because an owner's live item is returned
again (so a retransmitted Access-Request gets the same address), a subscriber allowed several
simultaneous sessions needs one owner key per session slot (e.g. ``alice#2``).

Every mutation returns a :class:`~ipam.pool_items.Change` that must be settled with
:meth:`Pool.commit` or :meth:`Pool.rollback` (see there). Nothing here reads a clock: ``now``
is passed in, so tests and the daemon drive time explicitly.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Iterator, Sequence

from ipam.errors import LeaseError, PoolError
from ipam.lease import LIVE, TIMED, AdoptStatus, Lease, LeaseState
from ipam.pool_items import _RANK, FREE, LEASED, OFFERED, RELEASED, RESERVED, Adoption, Change, _Item
from ipam.pool_state import PoolState
from ipam.ranges import AddressLike, check_overlaps
from ipam.utilisation import Usage, combine


class Pool(PoolState):
    """A named pool of one kind (``ipv4``, ``ipv6-wan`` or ``ipv6-pd``) with several ranges.

    ``exclude`` lists addresses, prefixes or IPv4 ``a-b`` spans never handed out (gateways,
    infrastructure); each must fall inside a range. ``offer_ttl`` is how long an offer waits
    for Accounting-Start; ``sticky_ttl`` how long a released item is kept for its last owner
    (0: freed at once). ``fallback`` names a pool of the same kind that the
    :class:`~ipam.allocator.Allocator` tries when this one is exhausted.

    A pool used inside an Allocator must be changed through the Allocator (ranges and pools
    are checked for overlap there, across pools).
    """

    # ------------------------------------------------------------- changes

    def _change(
        self,
        item: _Item,
        state: LeaseState,
        owner: str | None,
        expires: float | None,
        nas: str | None,
        session: str | None,
        reserved: bool | None = None,
    ) -> Change:
        before = item.last or self._snap(item)
        slot = item.owner is not None and self._owners.get(item.owner) is item
        if reserved is not None:
            self._set_reserved(item, reserved, owner)
        self._set(item, state, owner, expires, nas, session)
        item.version += 1
        item.pending += 1
        after = item.last = self._snap(item)
        return Change(self, item, before, after, slot)

    def _end(self, item: _Item, now: float) -> Change:
        """A session on ``item`` ended: back to reserved, sticky hold, or free."""
        if item.reserved:
            return self._change(item, RESERVED, item.owner, None, None, None)
        if self.sticky_ttl > 0:
            return self._change(item, RELEASED, item.owner, now + self.sticky_ttl, item.nas, item.session)
        return self._change(item, FREE, item.owner, None, None, None)

    # ----------------------------------------------------------- allocation

    def live(self, owner: str) -> Lease | None:
        """The owner's offered or leased item, if any."""
        item = self._owners.get(owner)
        if item is not None and item.owner == owner and item.state in LIVE:
            return self._snap(item)
        return None

    def allocate(
        self,
        owner: str,
        now: float,
        *,
        nas: str | None = None,
        session: str | None = None,
        ttl: float | None = None,
    ) -> Change | None:
        """Offer an item to ``owner`` (Access-Accept); None when the pool is exhausted.

        Idempotent: an owner holding a live item gets that same item again (an offer's
        hold is extended; a lease is left as it is). Otherwise, in order: its static
        reservation, its last item if free or held for it (sticky), a fresh item.
        """
        expires = now + (self.offer_ttl if ttl is None else ttl)
        item = self._owners.get(owner)
        if item is not None and item.owner == owner:
            state = item.state
            if state is LEASED:
                return self._change(item, LEASED, owner, item.expires, item.nas, item.session)
            if state is OFFERED:
                keep = item.expires if item.expires is not None and item.expires > expires else expires
                return self._change(item, OFFERED, owner, keep, nas or item.nas, session or item.session)
        static = self._static.get(owner)
        if static is not None and static.state is RESERVED:
            return self._change(static, OFFERED, owner, expires, nas, session)
        if item is not None and item.owner == owner and not item.reserved and item.state in (FREE, RELEASED):
            return self._change(item, OFFERED, owner, expires, nas, session)
        item = self._fresh()
        if item is None:
            return None
        return self._change(item, OFFERED, owner, expires, nas, session)

    def _fresh(self) -> _Item | None:
        blocks = self._blocks
        items = self._items
        while self._scan < len(blocks):
            block = blocks[self._scan]
            rng = block.rng
            cursor = block.cursor
            count = rng.count
            excluded = rng.excluded
            step = rng.step
            start = block.start
            while cursor < count:
                index = cursor + start
                if index >= count:
                    index -= count
                value = rng.first + index * step
                if index in excluded or value in items:
                    cursor += 1
                    continue
                block.cursor = cursor + 1
                item = items[value] = _Item(value, block)
                return item
            block.cursor = cursor
            self._scan += 1
        if self._free:
            return next(iter(self._free.values()))
        if self._held:
            return next(iter(self._held.values()))
        return None

    def prefer(self, index: int, count: int) -> None:
        """Begin handing out never-used items at region ``index`` of ``count`` in every range
        (this node's rank among the nodes sharing the pool). Items already touched are
        skipped as always, so changing the region costs one rescan, and a region that is
        used up simply runs on into the next one."""
        if count < 1 or not 0 <= index < count:
            raise PoolError(f"region {index} of {count} does not exist")
        for block in self._blocks:
            start = block.rng.count * index // count
            if start != block.start:
                block.start = start
                block.cursor = 0
        self._scan = 0

    def apply(self, row: Lease) -> bool:
        """Take the stored state of one item, written by another node (the database is the
        arbiter, memory the fast guess). Skipped, returning False, while a change of this node
        to that item is pending: its own commit settles it, and a lost claim is reread."""
        found = self._locate(row.address)
        if found is None:
            return False
        item = self._item(found[1], create=True)
        assert item is not None
        if item.pending:
            return False
        state = LeaseState(row.state)
        reserved = state is RESERVED or bool(row.reserved) or (item.reserved and item.owner == row.owner)
        self._set_reserved(item, reserved, row.owner)
        self._set(item, state, row.owner, row.expires, row.nas, row.session)
        item.version += 1
        return True

    # ------------------------------------------------------------ lifecycle

    def _owned_live(self, address: AddressLike | int, owner: str, what: str) -> _Item:
        item = self._item(address)
        if item is None or item.owner != owner or item.state not in LIVE:
            held = "untouched" if item is None else f"{item.state} for {item.owner}"
            shown = self._shown(address)
            raise LeaseError(f"cannot {what} {shown} for {owner} in pool {self.name!r}: it is {held}")
        return item

    def confirm(
        self,
        address: AddressLike | int,
        owner: str,
        now: float,
        expires: float | None,
        *,
        nas: str | None = None,
        session: str | None = None,
    ) -> Change:
        """Accounting-Start: the owner's offered (or leased) item becomes leased until ``expires``.

        Raises :class:`LeaseError` if the item is not live for ``owner`` (use :meth:`adopt`
        for an address the NAS chose by itself).
        """
        item = self._owned_live(address, owner, "confirm")
        return self._change(item, LEASED, owner, expires, nas or item.nas, session or item.session)

    def renew(self, address: AddressLike | int, owner: str, now: float, expires: float | None) -> Change:
        """Interim-Update: push the lease's expiry to ``expires`` (an offer becomes leased)."""
        item = self._owned_live(address, owner, "renew")
        return self._change(item, LEASED, owner, expires, item.nas, item.session)

    def release(self, address: AddressLike | int, owner: str, now: float) -> Change | None:
        """Accounting-Stop: the session ended; the item is sticky-held for ``owner``.

        None (nothing changed) if the item is not live for ``owner``: a retransmitted or late
        Stop must not end somebody else's lease.
        """
        item = self._item(address)
        if item is None or item.owner != owner or item.state not in LIVE:
            return None
        return self._end(item, now)

    def release_all_for_nas(
        self, nas: str, now: float, sessions: Collection[str] | None = None, spared: Collection[str] = ()
    ) -> list[Change]:
        """Accounting-On/Off: end every offered or leased item recorded for that NAS but those
        of the ``spared`` sessions (the NAS's new life, started after it sent the reset); with
        ``sessions``, only the items of those sessions (a NAS entry shared by several NASes,
        one of which rebooted)."""
        on_nas = self._nas.get(nas)
        if not on_nas:
            return []
        ended = [
            item
            for item in on_nas.values()
            if item.session not in spared and (sessions is None or item.session in sessions)
        ]
        return [self._end(item, now) for item in ended]

    def expire(self, now: float) -> list[Change]:
        """Sweep: offers and leases past ``expires`` end (-> sticky hold or reserved), sticky
        holds past ``expires`` become free (keeping the last owner). Pending items wait."""
        heap = self._heap
        items = self._items
        out: list[Change] = []
        deferred: list[tuple[float, int]] = []
        while heap and heap[0][0] <= now:
            entry = heapq.heappop(heap)
            item = items.get(entry[1])
            if item is None or item.expires != entry[0] or item.state not in TIMED:
                continue
            if item.pending:
                deferred.append(entry)
            elif item.state is RELEASED:
                out.append(self._change(item, FREE, item.owner, None, None, None))
            else:
                out.append(self._end(item, now))
        for entry in deferred:
            heapq.heappush(heap, entry)
        if len(heap) > 1024 and len(heap) > 4 * len(items):
            self._compact_heap()
        return out

    def _compact_heap(self) -> None:
        self._heap = [
            (it.expires, v) for v, it in self._items.items() if it.state in TIMED and it.expires is not None
        ]
        heapq.heapify(self._heap)

    def shift(self, seconds: float) -> None:
        """Move every expiry by ``seconds`` (the wall clock stepped: each offer, lease and hold
        keeps the time it had left)."""
        for item in self._items.values():
            if item.expires is not None:
                item.expires += seconds
                item.last = None
        self._compact_heap()

    def next_deadline(self) -> float | None:
        """Earliest time at which :meth:`expire` may have work (a hint: may be early)."""
        return self._heap[0][0] if self._heap else None

    def adopt(
        self,
        address: AddressLike | int,
        owner: str,
        now: float,
        expires: float | None,
        *,
        nas: str | None = None,
        session: str | None = None,
    ) -> Adoption:
        """A NAS reports ``owner`` using ``address`` (accounting is authoritative).

        OWN if it was already live for ``owner`` (confirmed as by :meth:`confirm`); ADOPTED if
        it was not in use (free, never used, or only sticky-held: a hold is a preference, the
        session is a fact), ending the owner's other live item if any (``replaced``);
        CONFLICT, with the holder, if it is live for or reserved for someone else;
        UNMANAGED if it is not an allocatable item of this pool.
        """
        if self._locate(address) is None:
            return Adoption(AdoptStatus.UNMANAGED)
        item = self._item(address, create=True)
        assert item is not None
        if item.owner == owner and item.state in LIVE:
            return Adoption(
                AdoptStatus.OWN,
                self._change(item, LEASED, owner, expires, nas or item.nas, session or item.session),
            )
        if item.state in LIVE or (item.reserved and item.owner != owner):
            return Adoption(AdoptStatus.CONFLICT, holder=self._snap(item))
        previous = self._owners.get(owner)
        replaced = None
        if previous is not None and previous.owner == owner and previous.state in LIVE:
            replaced = self._end(previous, now)  # one live item per owner and pool
        change = self._change(item, LEASED, owner, expires, nas, session)
        return Adoption(AdoptStatus.ADOPTED, change, replaced=replaced)

    # ---------------------------------------------------------- reservations

    def reserve(self, address: AddressLike | int, owner: str | None = None) -> Change:
        """Reserve an item: a static address of ``owner``, or (owner None) for the operator.

        Refused (PoolError) if it is live for, or reserved for, someone else, or if ``owner``
        already has another static item in this pool. A released or free item is taken even
        if sticky-held for another owner.
        """
        item = self._item(address, create=True)
        if item is None:
            raise PoolError(f"{self._shown(address)} is not an allocatable item of pool {self.name!r}")
        if (item.state in LIVE or item.reserved) and item.owner != owner:
            holder = "the operator" if item.owner is None else item.owner
            raise PoolError(f"{item.text} in pool {self.name!r} is {item.state} for {holder}")
        if owner is not None:
            other = self._static.get(owner)
            if other is not None and other is not item:
                raise PoolError(f"{owner} already has static {other.text} in pool {self.name!r}")
        if item.state in LIVE:
            return self._change(item, item.state, owner, item.expires, item.nas, item.session, reserved=True)
        return self._change(item, RESERVED, owner, None, None, None, reserved=True)

    def unreserve(self, address: AddressLike | int) -> Change | None:
        """Lift a reservation (None if there was none). An idle item becomes free, remembering
        its owner for stickiness; one in use stays in use and ends like any other."""
        item = self._item(address)
        if item is None or not item.reserved:
            return None
        if item.state is RESERVED:
            return self._change(item, FREE, item.owner, None, None, None, reserved=False)
        return self._change(
            item, item.state, item.owner, item.expires, item.nas, item.session, reserved=False
        )

    # ------------------------------------------------------ commit/rollback

    def commit(self, change: Change) -> None:
        """The writer persisted ``change``: the item stops being pending on its account."""
        self._settle(change)
        change._item.pending -= 1

    def rollback(self, change: Change) -> bool:
        """The transaction that carried ``change`` failed: restore the item to ``before``.

        Roll a batch back in reverse order. Returns False (and changes nothing) when the item
        has changed again since and that later change is not rolled back first: it is settled
        on its own, by its own commit or rollback (if it fails too, the item keeps this
        change's state until it expires: a short leak, never a duplicate). A restored free
        item goes to the front of the free queue (after never-used items, as always).
        """
        self._settle(change)
        item = change._item
        item.pending -= 1
        if item.version != change._version:
            return False
        b = change.before
        self._set_reserved(item, b.reserved, b.owner)
        self._set(item, b.state, b.owner, b.expires, b.nas, b.session, front=True, claim=False)
        if change._slot and b.owner is not None:
            self._owners[b.owner] = item
        item.version = change._version - 1  # as before the change: an older change can unwind next
        return True

    def _settle(self, change: Change) -> None:
        if change._pool is not self:
            raise LeaseError(f"{change!r} belongs to pool {change.pool!r}, not {self.name!r}")
        if change._settled:
            raise LeaseError(f"{change!r} was already committed or rolled back")
        change._settled = True

    # --------------------------------------------------------------- lookups

    def lookup(self, address: AddressLike | int) -> Lease | None:
        """State of the item containing ``address``; None if it is not in this pool. A
        never-used item is reported as free with no owner."""
        found = self._locate(address)
        if found is None:
            return None
        block, value = found
        item = self._items.get(value)
        if item is None:
            return Lease(self.name, block.rng.format(value), FREE)
        return self._snap(item)

    def by_owner(self, owner: str) -> list[Lease]:
        """Every item whose owner (holder, reservation or last holder) is ``owner``: the live
        one first. O(1): uses the owner and static indexes, not a scan."""
        out: list[Lease] = []
        for item in (self._owners.get(owner), self._static.get(owner)):
            if item is not None and item.owner == owner and all(x.address != item.text for x in out):
                out.append(self._snap(item))
        return out

    def leases(self) -> Iterator[Lease]:
        """Every touched item except plain free ones with no remembered owner."""
        for item in self._items.values():
            if item.state is not FREE or item.owner is not None:
                yield self._snap(item)

    def usage(self) -> Usage:
        return combine(b.usage() for b in self._blocks)

    def range_usage(self) -> dict[str, Usage]:
        return {b.rng.spec: b.usage() for b in self._blocks}

    # --------------------------------------------------------- dump/restore

    def dump(self) -> list[Lease]:
        """Every touched item as a row, in an order that :meth:`restore` turns back into the
        same state (free and held queues keep their order)."""
        rows = [self._snap(it) for it in self._items.values() if it.state not in (FREE, RELEASED)]
        rows += [self._snap(it) for it in self._free.values()]
        rows += [self._snap(it) for it in self._held.values()]
        return rows

    def restore(self, rows: Iterable[Lease]) -> None:
        """Rebuild state from stored rows (start-up after a crash). Rows are committed state,
        so nothing is pending. Past-due rows are kept as stored: the next :meth:`expire`
        ends them. Raises PoolError for an address outside the pool or given twice.

        Rows do not say which of an owner's remembered items it got last, so stickiness
        after a restart prefers its live item, then a sticky hold, then a free or reserved
        one (later rows win ties): best effort, like any stickiness; never a duplicate."""
        for row in rows:
            found = self._locate(row.address)
            if found is None:
                raise PoolError(f"{row.address} is not an allocatable item of pool {self.name!r}")
            block, value = found
            if value in self._items:
                raise PoolError(f"{row.address} appears twice in the rows for pool {self.name!r}")
            item = self._items[value] = _Item(value, block)
            self._free[value] = item
            state = LeaseState(row.state)
            self._set_reserved(item, bool(row.reserved) or state is RESERVED, row.owner)
            self._set(item, state, row.owner, row.expires, row.nas, row.session, claim=False)
            current = self._owners.get(row.owner) if row.owner is not None else None
            if row.owner is not None and current is not None and _RANK[state] >= _RANK[current.state]:
                self._owners[row.owner] = item
        self._scan = 0


def pools_overlap_check(pools: Sequence[Pool]) -> None:
    """Refuse (PoolError naming both) if ranges of different pools overlap."""
    check_overlaps([(f"pool {p.name!r} range {r.spec}", r) for p in pools for r in p.ranges])
