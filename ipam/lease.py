"""Lease states and the immutable records the allocator hands to the rest of the daemon.

:class:`Lease` is both the snapshot returned by lookups and the row format the store keeps
(``Allocator.dump()`` produces them, ``Allocator.load()`` consumes them), so one type crosses
the ipam <-> storage seam. :class:`~ipam.pool_items.Change` is what every mutating call returns: the state
before and after, so the group-commit writer can persist ``change.lease`` and, if its
transaction fails, hand the change back to ``rollback()`` to restore ``change.before``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


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


class AdoptStatus(StrEnum):
    """Outcome of adopting an address a NAS reported in accounting."""

    ADOPTED = "adopted"  # it was not in use: now leased to the reporting owner
    OWN = "own"  # it was already offered/leased to that owner: confirmed
    CONFLICT = "conflict"  # in use by, or reserved for, someone else: nothing changed
    UNMANAGED = "unmanaged"  # not an allocatable item of any pool (or an excluded one)
