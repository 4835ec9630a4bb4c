"""Pool groups: the pool an operator names, stored as up to three rows, one per family.

A pool may hand out IPv4 addresses (row ``NAME``, kind ``ipv4``, always present, possibly with
no range), IPv6 WAN prefixes for Framed-IPv6-Prefix (row ``NAME:wan``, kind ``ipv6-wan``) and
delegated prefixes for Delegated-IPv6-Prefix (row ``NAME:pd``, kind ``ipv6-pd``); pool names
therefore never contain ``:``. The NAS scope, the fallback pool and the warning threshold are
kept on every row of a group.

:class:`PoolConfig` is one row as the allocator needs it (the store reads them), and
:func:`load_allocator` is the one way an :class:`~ipam.Allocator` is rebuilt from stored rows:
by the daemon at start-up and on every pool change, by the store before each pool write, by
the importer and by the inventory's actions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ipam.allocator import Allocator
from ipam.lease import Lease
from ipam.pool import Pool

#: Row-name suffix of each family of a pool group.
SUFFIX = {"ipv4": "", "ipv6-wan": ":wan", "ipv6-pd": ":pd"}
#: Item prefix length of an IPv6 family when none is given.
DEFAULT_PLEN = {"ipv6-wan": 64, "ipv6-pd": 56}


def group_of(row_name: str) -> str:
    """Operator pool name of a row name (``NAME:wan`` -> ``NAME``)."""
    return row_name.rsplit(":", 1)[0] if ":" in row_name else row_name


@dataclass(slots=True)
class PoolConfig:
    """One stored pool row as the allocator needs it (``name`` is the row name)."""

    id: int
    name: str
    kind: str
    router_id: int | None
    nas: str | None
    fallback: str | None  # operator pool name
    warning_pct: float | None
    item_prefixlen: int | None
    ranges: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)

    @property
    def group(self) -> str:
        return group_of(self.name)


def rows_of(configs: Mapping[str, PoolConfig], name: str) -> list[PoolConfig]:
    """The rows of operator pool ``name``, IPv4 first (empty when there is no such pool)."""
    return [configs[name + s] for s in SUFFIX.values() if name + s in configs]


def threshold_of(cfg: PoolConfig | None, default: float | None) -> float | None:
    """The warning threshold in force for a pool row: its own, else the daemon's default."""
    return cfg.warning_pct if cfg is not None and cfg.warning_pct is not None else default


_ROW_NAME = re.compile(r"'([^':]+):(wan|pd)'")
_ROW_SIDE = {"wan": "IPv6 WAN prefixes", "pd": "delegated prefixes"}


def operator_text(text: str) -> str:
    """A message of the IPAM core in the operator's words: ``pool 'home:wan'`` (a row name)
    becomes ``pool 'home' (IPv6 WAN prefixes)``, the pool the operator made."""
    return _ROW_NAME.sub(lambda m: f"'{m[1]}' ({_ROW_SIDE[m[2]]})", text)


def build_allocator(
    configs: Iterable[PoolConfig], *, offer_ttl: float = 60.0, sticky_ttl: float = 3600.0
) -> Allocator:
    """An allocator with one :class:`~ipam.Pool` per row and no lease; fallbacks point at the
    same kind's row of the fallback pool (none if that pool has no such kind). Raises
    PoolError (overlaps, bad text, fallback cycles): the check of a pool edit."""
    cfgs = list(configs)
    names = {c.name for c in cfgs}
    alloc = Allocator()
    for c in cfgs:
        fb = None
        if c.fallback is not None and c.fallback + SUFFIX[c.kind] in names:
            fb = c.fallback + SUFFIX[c.kind]
        alloc.add_pool(
            Pool(
                c.name,
                c.kind,
                c.ranges,
                exclude=c.exclude,
                item_prefixlen=c.item_prefixlen,
                offer_ttl=offer_ttl,
                sticky_ttl=sticky_ttl,
                fallback=fb,
            )
        )
    for c in cfgs:
        alloc.chain(c.name)  # fallback cycles and kind mismatches refused here
    return alloc


def load_allocator(
    configs: Iterable[PoolConfig],
    leases: Iterable[Lease],
    *,
    offer_ttl: float = 60.0,
    sticky_ttl: float = 3600.0,
    region: tuple[int, int] | None = None,
) -> tuple[Allocator, list[Lease]]:
    """The allocator of stored pool rows holding stored ``leases`` (or a running allocator's
    ``dump()``), and the leases outside every range (orphans, for the caller to report).
    ``region``: this node's ``(rank, count)`` among the live nodes (:meth:`Allocator.prefer`),
    set before the leases go in. Raises PoolError as :func:`build_allocator`."""
    alloc = build_allocator(configs, offer_ttl=offer_ttl, sticky_ttl=sticky_ttl)
    if region is not None:
        alloc.prefer(*region)
    return alloc, alloc.load(leases)
