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


#: Families of pool items, each reported on its own (IPv4 addresses and IPv6 prefixes are
#: never added together: a full IPv4 range must not hide behind a huge IPv6 one).
FAMILIES = ("ipv4", "ipv6-wan", "ipv6-pd")


def is_warning(usage: Usage, threshold: float | None) -> bool:
    """The warning rule: a non-empty pool, family or range used at or above ``threshold``."""
    return threshold is not None and usage.total > 0 and usage.percent_used >= threshold


def figures(usage: Usage, threshold: float | None) -> dict[str, int | float | bool]:
    """JSON-ready figures of one family or range: counts, ``used``, ``percent_used``, ``warning``."""
    return {
        "total": usage.total,
        "allocated": usage.allocated,
        "reserved": usage.reserved,
        "free": usage.free,
        "held": usage.held,
        "used": usage.used,
        "percent_used": round(usage.percent_used, 2),
        "warning": is_warning(usage, threshold),
    }


def utilisation(
    usages: Iterable[tuple[str, Usage]], threshold: float | None
) -> dict[str, dict[str, int | float | bool]]:
    """Figures per family (``ipv4``, ``ipv6-wan``, ``ipv6-pd``) of ``(family, usage)`` pairs,
    in that order, only the families present: the one rule the CLI, the API and metrics use."""
    by_family: dict[str, list[Usage]] = {}
    for family, usage in usages:
        by_family.setdefault(family, []).append(usage)
    return {f: figures(combine(by_family[f]), threshold) for f in FAMILIES if f in by_family}


def worst(per_family: Mapping[str, Mapping[str, int | float | bool]]) -> tuple[float, bool]:
    """``(percent_used, warning)`` of the fullest family (0, False without any)."""
    pct = max((float(f["percent_used"]) for f in per_family.values()), default=0.0)
    return pct, any(bool(f["warning"]) for f in per_family.values())
