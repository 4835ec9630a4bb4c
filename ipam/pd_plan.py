"""The IPv6 prefix-delegation planner: an aggregate carved into one block per site.

Pure: the store passes what exists, the CLI and API show the plan, ``--apply`` writes it.

The layout, on nibble boundaries (a length that is a multiple of 4, so every block is a
whole hex digit of the address and reads cleanly in reverse DNS and in logs, as RIPE-690
§4.2 advises):

* the aggregate (e.g. ``2001:db8::/32``) is cut into per-site blocks (``/40``); each site's
  block is its delegated-prefix (PD) pool, handing out ``/56`` (Delegated-IPv6-Prefix);
* the *last* per-site block of the aggregate is kept for WAN links: it is cut into one WAN
  prefix per site block (``/48`` for 256 blocks), the site's pool of ``/64`` WAN prefixes
  (Framed-IPv6-Prefix), at the same index as the site's block;
* sites already planned (a block of theirs, a container or a pool's range) keep it; new
  sites take the lowest free blocks.

Refused, with the reason: a length not on a nibble boundary, lengths out of order, more
sites than free blocks, an aggregate inside a prefix that is not a container, a WAN prefix
that overlaps something already there.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ipam.prefixes import Network, PrefixError, contains, overlaps, parse_prefix


class PlanRefused(PrefixError):
    """The plan is well formed but cannot be carried out: it does not fit, or it overlaps
    what exists (the message says what)."""


WAN_ITEM = 64
#: at most 2**16 site blocks in one aggregate (the plan is a list a person reads)
MAX_INDEX_BITS = 16


@dataclass(frozen=True, slots=True)
class Existing:
    """A stored prefix or pool range the plan must respect."""

    prefix: Network
    role: str
    site: str | None = None
    what: str = ""  # for messages: "pool 'x'", "prefix"


@dataclass(frozen=True, slots=True)
class SitePlan:
    site: str
    block: ipaddress.IPv6Network
    delegated: int  # number of delegated prefixes in the block
    wan: ipaddress.IPv6Network
    wan_prefixes: int  # number of /64 WAN prefixes
    status: str  # "new" | "exists"

    def to_json(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "block": str(self.block),
            "delegated": self.delegated,
            "wan": str(self.wan),
            "wan_prefixes": self.wan_prefixes,
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class PdPlan:
    aggregate: ipaddress.IPv6Network
    per_site: int
    delegate: int
    wan_block: ipaddress.IPv6Network
    wan_length: int
    sites: tuple[SitePlan, ...]
    free_blocks: int  # site blocks left after this plan

    def to_json(self) -> dict[str, Any]:
        return {
            "aggregate": str(self.aggregate),
            "per_site": self.per_site,
            "delegate": self.delegate,
            "wan_block": str(self.wan_block),
            "wan_length": self.wan_length,
            "free_blocks": self.free_blocks,
            "sites": [s.to_json() for s in self.sites],
        }


def _length(text: str | int, what: str) -> int:
    raw = str(text).strip().lstrip("/")
    if not raw.isdigit():
        raise PrefixError(f"{what} {text!r} is not a prefix length such as /40")
    return int(raw)


def nibble_rounded(bits: int) -> int:
    return -(-bits // 4) * 4


def plan_pd(  # noqa: C901  (one refusal per rule of a plan, each with its own message)
    aggregate: str,
    per_site: str | int,
    delegate: str | int,
    sites: Sequence[str],
    existing: Sequence[Existing] = (),
) -> PdPlan:
    """The plan for ``sites`` in ``aggregate``, or PrefixError with the reason."""
    agg = parse_prefix(aggregate, "aggregate")
    if not isinstance(agg, ipaddress.IPv6Network):
        raise PrefixError(f"aggregate {agg} is not IPv6")
    site_len = _length(per_site, "--per-site")
    pd_len = _length(delegate, "--delegate")
    for what, value in (("--per-site", site_len), ("--delegate", pd_len)):
        if value % 4:
            raise PrefixError(
                f"{what} /{value} is not on a nibble boundary (use a multiple of 4: "
                f"/{value - value % 4} or /{value - value % 4 + 4})"
            )
    if not agg.prefixlen < site_len < pd_len <= WAN_ITEM:
        raise PrefixError(
            f"lengths out of order: need /{agg.prefixlen} (aggregate) < /{site_len} (per site) "
            f"< /{pd_len} (delegated) <= /{WAN_ITEM}"
        )
    if len(set(sites)) != len(sites):
        raise PrefixError("a site is named twice")
    index_bits = site_len - agg.prefixlen
    wan_len = site_len + nibble_rounded(index_bits)
    if wan_len > WAN_ITEM:
        raise PrefixError(
            f"a /{site_len} per site leaves {2**index_bits} site blocks: their WAN prefixes "
            f"would be /{wan_len}, longer than /{WAN_ITEM}"
        )
    if index_bits > MAX_INDEX_BITS:
        raise PrefixError(
            f"a /{site_len} per site cuts {agg} into {2**index_bits} blocks; plan at most "
            f"{2**MAX_INDEX_BITS} (a /{agg.prefixlen + MAX_INDEX_BITS} per site or shorter)"
        )
    blocks = list(agg.subnets(new_prefix=site_len))
    wan_block = blocks[-1]
    for e in existing:
        if not overlaps(e.prefix, agg):
            continue
        if contains(e.prefix, agg) and e.role != "container":
            raise PlanRefused(f"aggregate {agg} lies inside {e.what or e.role} {e.prefix}, not a container")
    planned: dict[str, int] = {}
    taken: set[int] = set()
    inside = [e for e in existing if overlaps(e.prefix, agg) and not contains(e.prefix, agg)]
    for e in inside:
        mine = e.role in ("container", "pool") and e.prefix.prefixlen == site_len
        if mine and e.site is not None and e.site in sites and isinstance(e.prefix, ipaddress.IPv6Network):
            planned[e.site] = blocks.index(e.prefix)
        if contains(wan_block, e.prefix) or (e.role == "container" and e.prefix.prefixlen < site_len):
            continue  # WAN prefixes are checked per site below; a wider container only groups blocks
        taken.update(i for i, b in enumerate(blocks) if overlaps(b, e.prefix))
    wan_base = int(wan_block.network_address)
    free = [i for i in range(len(blocks) - 1) if i not in taken]
    new_sites = [s for s in sites if s not in planned]
    if len(new_sites) > len(free):
        raise PlanRefused(
            f"the plan does not fit: {len(new_sites)} new site(s) need as many /{site_len} blocks, "
            f"{agg} has {len(free)} free (of {len(blocks) - 1}; the last /{site_len}, {wan_block}, "
            "is kept for WAN /64 prefixes)"
        )
    out: list[SitePlan] = []
    free_iter = iter(free)
    for site in sites:
        status = "exists" if site in planned else "new"
        idx = planned[site] if site in planned else next(free_iter)
        wan = ipaddress.IPv6Network((wan_base + (idx << (128 - wan_len)), wan_len))
        if status == "new":
            for e in inside:
                if overlaps(e.prefix, wan) and not (e.prefix == wan_block and e.role == "container"):
                    raise PlanRefused(
                        f"site {site!r}: its WAN prefix {wan} overlaps {e.what or e.role} {e.prefix}"
                    )
        out.append(
            SitePlan(
                site,
                blocks[idx],
                2 ** (pd_len - site_len),
                wan,
                2 ** (WAN_ITEM - wan_len),
                status,
            )
        )
    return PdPlan(agg, site_len, pd_len, wan_block, wan_len, tuple(out), len(free) - len(new_sites))
