"""Utilisation figures of pools and ranges.

Counts are kept incrementally by the pool (a counter per state and range), so reading them
is O(ranges) whatever the size of the pool: safe to call from a metrics scrape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple


class Usage(NamedTuple):
    """``total = allocated + reserved + free``.

    ``allocated`` counts offered and leased items (a static address in use included),
    ``reserved`` idle reserved ones. ``free`` includes ``held``: released items sticky-held
    for their last owner, which are still handed out when nothing else is left.
    """

    total: int
    allocated: int
    reserved: int
    free: int
    held: int = 0

    @property
    def used(self) -> int:
        return self.allocated + self.reserved

    @property
    def percent_used(self) -> float:
        """Percentage of items that cannot be handed to a new subscriber (0 for an empty pool)."""
        return 100.0 * self.used / self.total if self.total else 0.0


def combine(usages: Iterable[Usage]) -> Usage:
    total = allocated = reserved = free = held = 0
    for u in usages:
        total += u.total
        allocated += u.allocated
        reserved += u.reserved
        free += u.free
        held += u.held
    return Usage(total, allocated, reserved, free, held)


def over_threshold(usages: Mapping[str, Usage], pct: float) -> list[tuple[str, Usage]]:
    """Entries whose ``percent_used`` is at or above ``pct``, fullest first."""
    hits = [(name, u) for name, u in usages.items() if u.percent_used >= pct]
    hits.sort(key=lambda nu: nu[1].percent_used, reverse=True)
    return hits
