"""Lease states and the immutable records the allocator hands to the rest of the daemon.

:class:`Lease` is both the snapshot returned by lookups and the row format the store keeps
(``Allocator.dump()`` produces them, ``Allocator.load()`` consumes them), so one type crosses
the ipam <-> storage seam. :class:`Change` is what every mutating call returns: the state
before and after, so the group-commit writer can persist ``change.lease`` and, if its
transaction fails, hand the change back to ``rollback()`` to restore ``change.before``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from ipam.pool import Pool
    from ipam.pool_items import _Item


class LeaseState(StrEnum):
    """State of one item (address or prefix). The string values are what the store keeps.

    - ``free``: allocatable. ``owner`` is the *last* holder (kept for stickiness) or None.
    - ``offered``: sent in an Access-Accept, held until ``expires`` (now + offer TTL).
    - ``leased``: confirmed by Accounting-Start (or adopted), renewed by interim updates.
    - ``released``: session ended; held for ``owner`` until ``expires`` (sticky hold). Given
      to someone else only when the pool has nothing free at all (last resort, oldest first).
    - ``reserved``: never handed to anyone but ``owner`` (a subscriber's static address), or
      to anyone at all when ``owner`` is None (operator reservation). A reserved item in use
      by its owner is ``offered``/``leased`` with ``reserved=True`` and returns to
      ``reserved`` when the session ends.
    """

    FREE = "free"
    OFFERED = "offered"
    LEASED = "leased"
    RELEASED = "released"
    RESERVED = "reserved"


#: States in which an item is in use by a session ("allocated" in utilisation).
LIVE = frozenset({LeaseState.OFFERED, LeaseState.LEASED})
#: States that end by themselves at ``expires``.
TIMED = frozenset({LeaseState.OFFERED, LeaseState.LEASED, LeaseState.RELEASED})


class Lease(NamedTuple):
    """Snapshot of one item; also the storage row format. Times are the caller's clock
    (floats, e.g. ``time.time()``), ``expires`` None means "does not expire by itself"."""

    pool: str
    address: str
    state: LeaseState
    owner: str | None = None
    expires: float | None = None
    nas: str | None = None
    session: str | None = None
    reserved: bool = False


class Change:
    """One in-memory state change, pending until the writer settles it.

    Every Change must be passed exactly once to ``commit()`` (the transaction that persisted
    ``lease`` succeeded) or ``rollback()`` (it failed: restore ``before``). While any change
    of an item is unsettled the item is *pending*: the expiry sweep skips it, so an address
    whose offer has not reached the database is never handed to anyone else.
    """

    __slots__ = ("_item", "_pool", "_settled", "_slot", "_version", "before", "lease")

    def __init__(self, pool: Pool, item: _Item, before: Lease, lease: Lease, slot: bool = False) -> None:
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


class AdoptStatus(StrEnum):
    """Outcome of adopting an address a NAS reported in accounting."""

    ADOPTED = "adopted"  # it was not in use: now leased to the reporting owner
    OWN = "own"  # it was already offered/leased to that owner: confirmed
    CONFLICT = "conflict"  # in use by, or reserved for, someone else: nothing changed
    UNMANAGED = "unmanaged"  # not an allocatable item of any pool (or an excluded one)


class Adoption(NamedTuple):
    status: AdoptStatus
    change: Change | None = None  # set for ADOPTED and OWN
    holder: Lease | None = None  # for CONFLICT: who holds it
    #: ADOPTED while the owner had another live item in the pool (an offer the NAS did not
    #: use): that item was ended, and this change must be persisted and settled too.
    replaced: Change | None = None
