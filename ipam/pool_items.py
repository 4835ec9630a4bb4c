"""The per-item records of a :class:`~ipam.pool.Pool`: one block per range (cursor and counts)
and one state record per touched item; the states' short names; the :class:`Change` of one
item that every mutating call returns (typed against :class:`_Settles`, not the pool, so that
this module and :mod:`ipam.lease` import nothing above them).
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from ipam.lease import AdoptStatus, Lease, LeaseState
from ipam.ranges import ItemRange
from ipam.utilisation import Usage

FREE = LeaseState.FREE
OFFERED = LeaseState.OFFERED
LEASED = LeaseState.LEASED
RELEASED = LeaseState.RELEASED
RESERVED = LeaseState.RESERVED


_RANK = {FREE: 0, RESERVED: 0, RELEASED: 1, OFFERED: 2, LEASED: 2}  # owner slot preference on restore


class _Block:
    """Mutable allocation state of one range: the never-used cursor and per-state counts."""

    __slots__ = ("counts", "cursor", "rng", "start")

    def __init__(self, rng: ItemRange) -> None:
        self.rng = rng
        self.cursor = 0  # scan position, counted from ``start`` (wrapping at ``rng.count``)
        self.start = 0
        self.counts = dict.fromkeys(LeaseState, 0)

    def usage(self) -> Usage:
        c = self.counts
        touched = sum(c.values())
        return Usage(
            total=self.rng.size,
            allocated=c[OFFERED] + c[LEASED],
            reserved=c[RESERVED],
            free=self.rng.size - touched + c[FREE] + c[RELEASED],
            held=c[RELEASED],
        )


class _Item:
    """State record of a touched item. ``version`` bumps on every change (rollback guard);
    ``pending`` counts unsettled changes (expiry skips pending items)."""

    __slots__ = (
        "block",
        "expires",
        "last",
        "nas",
        "owner",
        "pending",
        "reserved",
        "session",
        "state",
        "text",
        "value",
        "version",
    )

    def __init__(self, value: int, block: _Block) -> None:
        self.value = value
        self.block = block
        self.text = block.rng.format(value)
        self.state = FREE
        self.owner: str | None = None
        self.expires: float | None = None
        self.nas: str | None = None
        self.session: str | None = None
        self.reserved = False
        self.version = 0
        self.pending = 0
        self.last: Lease | None = None  # cached snapshot of the current state
        block.counts[FREE] += 1


class _Settles(Protocol):
    """What a :class:`Change` is settled with: its :class:`~ipam.pool.Pool`."""

    def commit(self, change: Change) -> None: ...

    def rollback(self, change: Change) -> bool: ...


class Change:
    """One in-memory state change, pending until the writer settles it.

    Every Change must be passed exactly once to ``commit()`` (the transaction that persisted
    ``lease`` succeeded) or ``rollback()`` (it failed: restore ``before``). While any change
    of an item is unsettled the item is *pending*: the expiry sweep skips it, so an address
    whose offer has not reached the database is never handed to anyone else.
    """

    __slots__ = ("_item", "_pool", "_settled", "_slot", "_version", "before", "lease")

    def __init__(self, pool: _Settles, item: _Item, before: Lease, lease: Lease, slot: bool = False) -> None:
        self._pool = pool
        self._item = item
        self._slot = slot  # the previous owner's slot pointed at this item: restore it on rollback
        self._version = item.version
        self._settled = False
        self.before = before
        self.lease = lease

    @property
    def address(self) -> str:
        return self.lease.address

    @property
    def pool(self) -> str:
        return self.lease.pool

    @property
    def settled(self) -> bool:
        return self._settled

    def __repr__(self) -> str:
        b, a = self.before, self.lease
        return f"<Change {a.pool} {a.address} {b.state}({b.owner}) -> {a.state}({a.owner})>"


class Adoption(NamedTuple):
    status: AdoptStatus
    change: Change | None = None  # set for ADOPTED and OWN
    holder: Lease | None = None  # for CONFLICT: who holds it
    #: ADOPTED while the owner had another live item in the pool (an offer the NAS did not
    #: use): that item was ended, and this change must be persisted and settled too.
    replaced: Change | None = None
