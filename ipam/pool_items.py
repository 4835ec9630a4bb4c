"""The per-item records of a :class:`~ipam.pool.Pool`: one block per range (cursor and counts)
and one state record per touched item; the states' short names.
"""

from __future__ import annotations

from ipam.lease import Lease, LeaseState
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
