"""A pool's utilisation report: figures per family and per range, with the warning of each.

:func:`pool_info` is what the CLI (``pool list/show``, from the store's allocator), the admin
API (``/ipam/pools``, from the daemon's live one) and the metrics show; every warning in it
comes from :func:`ipam.utilisation.is_warning` with the threshold of
:func:`ipam.groups.threshold_of`, as does the daemon's ``ipam.utilisation-high`` log line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ipam.allocator import Allocator
from ipam.errors import PoolError
from ipam.groups import PoolConfig, rows_of, threshold_of
from ipam.utilisation import Usage, combine, is_warning, utilisation, worst


class _Report:
    __slots__ = ()

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields (ranges stay records: their own ``to_json``)."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in fields(self)  # type: ignore[arg-type]
        }


@dataclass(frozen=True, slots=True)
class RangeInfo(_Report):
    kind: str
    range: str
    total: int
    allocated: int
    reserved: int
    free: int
    percent_used: float
    warning: bool = False


@dataclass(frozen=True, slots=True)
class PoolInfo(_Report):
    """A pool with its ranges and utilisation, per family (``ipv4``, ``ipv6_wan``, ``ipv6_pd``:
    ``{total, allocated, reserved, free, held, used, percent_used, warning}`` or None when the
    pool has no such items). ``total``..``held`` add up items of every family (kept for old
    readers); ``percent_used`` and ``warning`` are those of the fullest family."""

    name: str
    nas: str | None
    fallback: str | None
    warning_pct: float | None
    ranges: tuple[RangeInfo, ...]
    total: int
    allocated: int
    reserved: int
    free: int
    held: int
    percent_used: float
    warning: bool
    warn_at: float | None = None
    ipv4: dict[str, Any] | None = None
    ipv6_wan: dict[str, Any] | None = None
    ipv6_pd: dict[str, Any] | None = None


def pool_info(
    configs: Mapping[str, PoolConfig], alloc: Allocator, name: str, default_pct: float | None
) -> PoolInfo:
    """Operator pool ``name`` with its figures per family and per range, from ``alloc`` (the
    store's own, or the daemon's live one). PoolError when there is no such pool."""
    rows = rows_of(configs, name)
    if not rows:
        raise PoolError(f"pool {name!r} does not exist")
    base = rows[0]
    threshold = threshold_of(base, default_pct)
    ranges: list[RangeInfo] = []
    usages: list[tuple[str, Usage]] = []
    for cfg in rows:
        pool = alloc.pool(cfg.name)
        for spec, u in pool.range_usage().items():
            pct_r = round(u.percent_used, 2)
            warning = is_warning(u, threshold)
            ranges.append(RangeInfo(cfg.kind, spec, u.total, u.allocated, u.reserved, u.free, pct_r, warning))
        if pool.ranges:
            usages.append((cfg.kind, pool.usage()))
    per_family = utilisation(usages, threshold)
    pct, warning = worst(per_family)
    every = combine(u for _, u in usages)
    return PoolInfo(
        name=name,
        nas=base.nas,
        fallback=base.fallback,
        warning_pct=base.warning_pct,
        ranges=tuple(ranges),
        total=every.total,
        allocated=every.allocated,
        reserved=every.reserved,
        free=every.free,
        held=every.held,
        percent_used=pct,
        warning=warning,
        warn_at=threshold,
        ipv4=per_family.get("ipv4"),
        ipv6_wan=per_family.get("ipv6-wan"),
        ipv6_pd=per_family.get("ipv6-pd"),
    )
