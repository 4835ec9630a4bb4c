"""The checks of a pool edit, made before anything is written (all or nothing).

One set of rules for ``radiusd pool add/add-range/remove-range/set``, ``lease``/``pool
reserve`` and ``PATCH /ipam/pools/{name}``: ranges parse and overlap neither any pool's range
nor each other, keep the item length the pool hands out, ranges to remove exist and hold no
live or reserved item, a gateway lies inside the pool, exclusions are few IPv4 addresses.
Pure: pools come as :class:`~ipam.report.PoolInfo` reports; a refusal is a
:class:`~ipam.errors.PoolError` (:class:`~ipam.errors.PoolInputError` for malformed text,
:class:`~ipam.errors.UnknownRange` for a range the pool does not have). The store re-checks
each write against the stored state under its lock; these checks only make the whole edit fail
before its first write.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from ipam.errors import PoolError, PoolInputError, UnknownRange
from ipam.ranges import ItemRange, check_overlaps, format_value, parse_range, parse_span
from ipam.report import PoolInfo, RangeInfo

#: at most this many addresses excluded by one ``--exclude`` (larger: leave them out of the ranges)
MAX_EXCLUDED = 4096


def _count(n: int, what: str) -> str:
    return f"{n} {what if n == 1 else what + 's'}"


def _parse(spec: str, kind: str, plen: int | None = None) -> ItemRange:
    try:
        return parse_range(spec, kind, plen)
    except PoolError as exc:
        raise PoolInputError(str(exc)) from None


def item_prefixlen(r: RangeInfo) -> int | None:
    """Item length of a stored range (``2001:db8::/48/64`` -> 64; IPv4 -> None)."""
    return None if r.kind == "ipv4" else int(r.range.rsplit("/", 1)[1])


def kind_of(spec: str) -> str:
    """The family of a range given without one: IPv6 text is a WAN prefix, else IPv4."""
    return "ipv6-wan" if ":" in spec else "ipv4"


def check_ranges(ranges: Sequence[str], ipv6_prefixes: Sequence[str], delegated: Sequence[str]) -> None:
    """Refuse a malformed range (PoolInputError) or two of the given ranges overlapping."""
    labelled: list[tuple[str, ItemRange]] = []
    for kind, specs in (("ipv6-wan", ipv6_prefixes), ("ipv6-pd", delegated)):
        labelled.extend((f"range {spec}", _parse(spec, kind)) for spec in specs)
    labelled.extend((f"range {spec}", _parse(spec, kind_of(spec))) for spec in ranges)
    check_overlaps(labelled)


def check_new_ranges(
    pools: Sequence[PoolInfo], name: str, specs: Sequence[tuple[str, str]], removing: Sequence[str] = ()
) -> None:
    """Refuse ``(kind, spec)`` ranges for pool ``name`` that are malformed (PoolInputError),
    overlap a range of any of ``pools`` (but the ``removing`` ones of ``name``) or each other,
    or differ from the item length the pool already hands out for that kind."""
    labelled: list[tuple[str, ItemRange]] = []
    lengths: dict[str, int] = {}
    for p in pools:
        for r in p.ranges:
            if p.name == name and r.range in removing:
                continue
            plen = item_prefixlen(r)
            labelled.append((f"pool {p.name!r} range {r.range}", parse_range(r.range, r.kind, plen)))
            if p.name == name and plen is not None:
                lengths[r.kind] = plen
    for kind, spec in specs:
        new = _parse(spec, kind)
        if kind in lengths and new.item_prefixlen != lengths[kind]:
            have, given = lengths[kind], new.item_prefixlen
            raise PoolError(f"pool {name!r} hands out /{have} {kind} prefixes, not /{given}")
        labelled.append((f"range {spec}", new))
    check_overlaps(labelled)


def find_range(pool: PoolInfo, spec: str) -> RangeInfo | None:
    """The pool's range that ``spec`` names, in any spelling ``pool show`` prints the same way."""
    for r in pool.ranges:
        try:
            same = parse_range(spec, r.kind, item_prefixlen(r)).spec == r.range
        except PoolError:
            same = spec.strip() == r.range
        if same:
            return r
    return None


def ranges_to_remove(pool: PoolInfo, specs: Sequence[str]) -> list[RangeInfo]:
    """The stored ranges ``specs`` name, in order; UnknownRange for one not in the pool,
    PoolError for one with offered, leased or reserved items."""
    found: list[RangeInfo] = []
    for spec in specs:
        r = find_range(pool, spec)
        if r is None:
            raise UnknownRange(f"pool {pool.name!r} has no range {spec}")
        if r.allocated or r.reserved:
            raise PoolError(
                f"range {r.range} of pool {pool.name!r} still has {_count(r.allocated, 'live lease')} "
                f"and {_count(r.reserved, 'reservation')}: release or unreserve them first"
            )
        found.append(r)
    return found


def gateway_address(gateway: str, ranges: Sequence[str], where: str) -> str:
    """The canonical text of ``gateway`` when it is one IPv4 address inside one of the IPv4
    ``ranges``; PoolInputError otherwise (``where`` names the ranges in the message)."""
    try:
        value = int(ipaddress.IPv4Address(gateway.strip()))
    except ValueError:
        raise PoolInputError(f"gateway {gateway!r} is not an IPv4 address") from None
    if not any(r.lo <= value <= r.hi for r in (_parse(spec, "ipv4") for spec in ranges)):
        raise PoolInputError(f"gateway {gateway.strip()} is not inside {where}")
    return str(ipaddress.IPv4Address(value))


def excluded_addresses(exclude: Sequence[str], gateway: str | None = None) -> list[str]:
    """The IPv4 addresses a new pool excludes: the gateway, then every address of each
    exclusion (an address, a prefix or an ``a-b`` span), without duplicates."""
    out: dict[str, None] = {}
    for spec in ([gateway] if gateway else []) + list(exclude):
        if ":" in spec:
            raise PoolInputError(f"exclusion {spec!r}: only IPv4 addresses can be excluded")
        try:
            lo, hi = parse_span(spec, 4)
        except PoolError as exc:
            raise PoolInputError(str(exc)) from None
        if hi - lo + 1 > MAX_EXCLUDED:
            raise PoolInputError(
                f"exclusion {spec!r} covers {hi - lo + 1} addresses (at most {MAX_EXCLUDED}); "
                "leave them out of the pool's ranges instead"
            )
        out.update(dict.fromkeys(format_value(4, v, 32) for v in range(lo, hi + 1)))
    return list(out)


def canonical_address(text: str) -> str:
    """Canonical text of one IPv4 address or IPv6 address/prefix (PoolInputError if malformed)."""
    text = text.strip()
    try:
        if "/" in text:
            return str(ipaddress.ip_network(text, strict=True))
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise PoolInputError(f"not an IP address or prefix: {text!r}") from None
