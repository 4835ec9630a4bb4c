"""The ranges, the item table and the state core of a :class:`~ipam.pool.Pool` (its base class):
adding and removing ranges, locating an item, and the one transition every state change goes
through, keeping the free and held queues, owners, NAS index and expiry heap in step. The
allocation order and the lease lifecycle built on it are in :mod:`ipam.pool`.
"""

from __future__ import annotations

import bisect
import heapq
from collections import OrderedDict
from collections.abc import Iterable

from ipam.errors import PoolError
from ipam.lease import LIVE, TIMED, Lease, LeaseState
from ipam.pool_items import FREE, RELEASED, _Block, _Item
from ipam.ranges import (
    AddressLike,
    ItemRange,
    check_overlaps,
    family_of_kind,
    format_value,
    parse_range,
    parse_span,
    parse_value,
)


class PoolState:
    """A pool's ranges and item state; :class:`~ipam.pool.Pool` adds allocation, the lifecycle,
    reservations, commit/rollback, lookups and dump/restore."""

    def __init__(
        self,
        name: str,
        kind: str,
        ranges: Iterable[str] = (),
        *,
        exclude: Iterable[str] = (),
        item_prefixlen: int | None = None,
        offer_ttl: float = 30.0,
        sticky_ttl: float = 86400.0,
        fallback: str | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.family = family_of_kind(kind)
        self.item_prefixlen = item_prefixlen
        self.offer_ttl = offer_ttl
        self.sticky_ttl = sticky_ttl
        self.fallback = fallback
        self._exclude = [(spec, parse_span(spec, self.family)) for spec in exclude]
        self._blocks: list[_Block] = []
        self._starts: list[int] = []
        self._scan = 0  # index of the first block whose cursor may still have untouched items
        self._items: dict[int, _Item] = {}
        self._free: OrderedDict[int, _Item] = OrderedDict()
        self._held: OrderedDict[int, _Item] = OrderedDict()
        self._owners: dict[str, _Item] = {}
        self._static: dict[str, _Item] = {}
        self._nas: dict[str, dict[int, _Item]] = {}
        self._heap: list[tuple[float, int]] = []
        for spec in ranges:
            self.add_range(spec)
        for spec, (lo, hi) in self._exclude:
            if not any(b.rng.lo <= hi and lo <= b.rng.hi for b in self._blocks):
                raise PoolError(f"pool {name!r}: exclusion {spec} is outside every range")

    def __repr__(self) -> str:
        return f"<Pool {self.name} {self.kind} {[b.rng.spec for b in self._blocks]}>"

    # ---------------------------------------------------------------- ranges

    @property
    def ranges(self) -> tuple[ItemRange, ...]:
        return tuple(b.rng for b in self._blocks)

    def parse(self, spec: str) -> ItemRange:
        """Parse ``spec`` as a range of this pool, exclusions applied (nothing is changed)."""
        rng = parse_range(spec, self.kind, self.item_prefixlen)
        if self.item_prefixlen is None:
            self.item_prefixlen = rng.item_prefixlen
        return rng.with_exclusions(span for _, span in self._exclude)

    def add_range(self, spec: str | ItemRange) -> ItemRange:
        """Add a range; refused (PoolError) if it overlaps one of this pool's ranges."""
        rng = self.parse(spec) if isinstance(spec, str) else spec
        if rng.item_prefixlen != self.item_prefixlen:
            raise PoolError(f"pool {self.name!r} hands out /{self.item_prefixlen}, not /{rng.item_prefixlen}")
        check_overlaps(
            [(f"pool {self.name!r} range {b.rng.spec}", b.rng) for b in self._blocks]
            + [(f"pool {self.name!r} range {rng.spec}", rng)]
        )
        block = _Block(rng)
        i = bisect.bisect(self._starts, rng.first)
        self._blocks.insert(i, block)
        self._starts.insert(i, rng.first)
        self._scan = 0
        return rng

    def remove_range(self, spec: str) -> None:
        """Remove a range. Refused while any of its items is offered, leased or reserved."""
        block = self._block_by_spec(spec)
        items = [it for it in self._items.values() if it.block is block]
        busy = [it for it in items if it.state in LIVE or it.reserved]
        if busy:
            raise PoolError(
                f"pool {self.name!r} range {block.rng.spec} still has {len(busy)} live or reserved "
                f"item(s), e.g. {busy[0].text} ({busy[0].state}, {busy[0].owner}); release them first"
            )
        for it in items:
            self._set(it, FREE, None, None, None, None)
            del self._free[it.value]
            del self._items[it.value]
        i = self._blocks.index(block)
        del self._blocks[i]
        del self._starts[i]
        self._scan = 0

    def _block_by_spec(self, spec: str) -> _Block:
        try:
            wanted = parse_range(spec, self.kind, self.item_prefixlen).spec
        except PoolError:
            wanted = spec
        for b in self._blocks:
            if b.rng.spec in (spec, wanted):
                return b
        raise PoolError(f"pool {self.name!r} has no range {spec}")

    def _locate(self, address: AddressLike | int) -> tuple[_Block, int] | None:
        """Block and value of the item containing ``address`` (None: not an allocatable item)."""
        if isinstance(address, int):
            value = address
        else:
            family, value, plen = parse_value(address)
            if family != self.family or (plen is not None and plen < (self.item_prefixlen or 0)):
                return None
        i = bisect.bisect(self._starts, value) - 1
        if i < 0:
            return None
        block = self._blocks[i]
        index = block.rng.index_of(value)
        if index is None:
            return None
        return block, block.rng.value_at(index)

    def _item(self, address: AddressLike | int, create: bool = False) -> _Item | None:
        found = self._locate(address)
        if found is None:
            return None
        block, value = found
        item = self._items.get(value)
        if item is None and create:
            item = self._items[value] = _Item(value, block)
            self._free[value] = item
        return item

    def _shown(self, address: AddressLike | int) -> str:
        """Text of ``address`` for a message (an int as ``10.30.0.10``, never ``169738250``)."""
        if isinstance(address, int):
            return format_value(self.family, address, 32 if self.family == 4 else self.item_prefixlen or 128)
        return str(address)

    def contains(self, address: AddressLike | int) -> bool:
        """True when ``address`` lies in an allocatable item of this pool."""
        return self._locate(address) is not None

    # ------------------------------------------------------------ state core

    def _snap(self, item: _Item) -> Lease:
        return Lease(
            self.name, item.text, item.state, item.owner, item.expires, item.nas, item.session, item.reserved
        )

    def _set(
        self,
        item: _Item,
        state: LeaseState,
        owner: str | None,
        expires: float | None,
        nas: str | None,
        session: str | None,
        front: bool = False,
        claim: bool = True,
    ) -> None:
        """Move ``item`` to a state, keeping every index consistent. All transitions go here.

        ``front`` puts a free or held item at the head of its queue and ``claim=False`` keeps
        the owner slot of another item (both for rollback, which restores, not reassigns)."""
        value = item.value
        old = item.state
        claims = claim and (owner != item.owner or state in LIVE)
        item.last = None
        if old is FREE:
            self._free.pop(value, None)
        elif old is RELEASED:
            del self._held[value]
        if old in LIVE and item.nas is not None:
            on_nas = self._nas.get(item.nas)
            if on_nas is not None:
                on_nas.pop(value, None)
                if not on_nas:
                    del self._nas[item.nas]
        if item.owner is not None and item.owner != owner and self._owners.get(item.owner) is item:
            del self._owners[item.owner]
        counts = item.block.counts
        counts[old] -= 1
        counts[state] += 1
        item.state = state
        item.owner = owner
        item.expires = expires
        item.nas = nas
        item.session = session
        if state is FREE:
            self._free[value] = item
            if front:
                self._free.move_to_end(value, last=False)
        elif state is RELEASED:
            self._held[value] = item
            if front:
                self._held.move_to_end(value, last=False)
        if expires is not None and state in TIMED:
            heapq.heappush(self._heap, (expires, value))
        if state in LIVE and nas is not None:
            self._nas.setdefault(nas, {})[value] = item
        if owner is not None:
            # The owner's slot points at the item it was given last. An item that merely
            # changes state (release, expiry, unreserve) never takes the slot from another
            # item of the same owner, and only a live item takes it from a live one.
            current = self._owners.get(owner)
            if (
                current is None
                or current is item
                or current.owner != owner
                or (claim and state in LIVE)
                or (claims and current.state not in LIVE)
            ):
                self._owners[owner] = item

    def _set_reserved(self, item: _Item, reserved: bool, owner: str | None) -> None:
        if item.reserved and item.owner is not None and self._static.get(item.owner) is item:
            del self._static[item.owner]
        item.reserved = reserved
        if reserved and owner is not None:
            self._static[owner] = item
