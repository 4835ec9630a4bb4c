"""Address arithmetic for pools: range text -> integer item ranges, exclusions, overlap checks.

A pool hands out *items*: single IPv4 addresses (``ipv4``), or IPv6 prefixes of a fixed length
(``ipv6-wan``: /64 for Framed-IPv6-Prefix; ``ipv6-pd``: e.g. /56 for Delegated-IPv6-Prefix).
An :class:`ItemRange` describes a contiguous run of items as ``first`` (int value of item 0),
``step`` (2 ** (bits - item prefix length)) and ``count``: item *i* is ``first + i * step``.
Nothing here ever enumerates a range, so a /32 split into /64s (4 billion items) costs the
same few integers as a /30. Values are ints everywhere inside ipam/; text only at the edges.

Parsing uses :mod:`ipaddress` (validation, prefix maths); the hot conversions int <-> text use
``socket.inet_pton/inet_ntop`` which are several times faster and equally strict.
"""

from __future__ import annotations

import ipaddress
import itertools
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from ipam.errors import PoolError

PoolKind = Literal["ipv4", "ipv6-wan", "ipv6-pd"]
KINDS: tuple[PoolKind, ...] = ("ipv4", "ipv6-wan", "ipv6-pd")
DEFAULT_ITEM_PREFIXLEN: dict[str, int] = {"ipv4": 32, "ipv6-wan": 64, "ipv6-pd": 56}

#: An exclusion may remove at most this many items (a guard against enumerating a huge span:
#: to drop more, configure smaller ranges instead).
MAX_EXCLUDED_ITEMS = 65536

AddressLike = (
    str | ipaddress.IPv4Address | ipaddress.IPv6Address | ipaddress.IPv4Network | ipaddress.IPv6Network
)


def family_of_kind(kind: str) -> int:
    if kind not in KINDS:
        raise PoolError(f"unknown pool kind {kind!r}; expected one of {', '.join(KINDS)}")
    return 4 if kind == "ipv4" else 6


def format_value(family: int, value: int, prefixlen: int) -> str:
    """Text of an item: ``10.0.0.5`` for IPv4 addresses, ``2001:db8:0:100::/56`` for prefixes."""
    if family == 4:
        text = socket.inet_ntop(socket.AF_INET, value.to_bytes(4, "big"))
        return text if prefixlen == 32 else f"{text}/{prefixlen}"
    return f"{socket.inet_ntop(socket.AF_INET6, value.to_bytes(16, 'big'))}/{prefixlen}"


def parse_value(address: AddressLike) -> tuple[int, int, int | None]:
    """``(family, int value, prefix length or None)`` of an address or prefix.

    A prefix yields its first address. Raises :class:`PoolError` on malformed text.
    """
    if isinstance(address, str):
        text, _, plen = address.partition("/")
        try:
            if ":" in text:
                family, value = 6, int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
            else:
                family, value = 4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
        except OSError:
            raise PoolError(f"not an IP address: {address!r}") from None
        if not plen:
            return family, value, None
        if not plen.isdigit() or int(plen) > (32 if family == 4 else 128):
            raise PoolError(f"bad prefix length in {address!r}")
        return family, value, int(plen)
    if isinstance(address, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return address.version, int(address.network_address), address.prefixlen
    return address.version, int(address), None


@dataclass(frozen=True, slots=True)
class ItemRange:
    """One configured range of a pool, as immutable integer arithmetic.

    ``lo``/``hi`` bound the *declared* span (the whole prefix, network and broadcast included)
    and are what overlap checks compare; ``first``/``count`` cover the allocatable items.
    ``excluded`` holds item indices that are never handed out (gateway, operator exclusions).
    """

    spec: str
    family: int
    item_prefixlen: int
    lo: int
    hi: int
    first: int
    count: int
    excluded: frozenset[int] = frozenset()

    @property
    def step(self) -> int:
        return 1 << ((32 if self.family == 4 else 128) - self.item_prefixlen)

    @property
    def size(self) -> int:
        """Number of allocatable items (exclusions removed)."""
        return self.count - len(self.excluded)

    def index_of(self, value: int) -> int | None:
        """Index of the item containing ``value``, or None when outside or excluded."""
        offset = value - self.first
        if offset < 0:
            return None
        index = offset >> ((32 if self.family == 4 else 128) - self.item_prefixlen)
        if index >= self.count or index in self.excluded:
            return None
        return index

    def value_at(self, index: int) -> int:
        return self.first + index * self.step

    def format(self, value: int) -> str:
        return format_value(self.family, value, self.item_prefixlen)

    def with_exclusions(self, spans: Iterable[tuple[int, int]]) -> ItemRange:
        """A copy with every item touching one of the ``(lo, hi)`` value spans excluded."""
        excluded = set(self.excluded)
        step = self.step
        last = self.first + self.count * step - 1
        for lo, hi in spans:
            if hi < self.first or lo > last:
                continue
            i0 = max(0, (lo - self.first) // step)
            i1 = min(self.count - 1, (hi - self.first) // step)
            if i1 - i0 + 1 > MAX_EXCLUDED_ITEMS:
                raise PoolError(
                    f"exclusion removes {i1 - i0 + 1} items of range {self.spec}; "
                    f"configure smaller ranges instead (limit {MAX_EXCLUDED_ITEMS})"
                )
            excluded.update(range(i0, i1 + 1))
        return ItemRange(
            self.spec,
            self.family,
            self.item_prefixlen,
            self.lo,
            self.hi,
            self.first,
            self.count,
            frozenset(excluded),
        )


def parse_range(spec: str, kind: str, item_prefixlen: int | None = None) -> ItemRange:
    """Parse one range of a pool of ``kind``.

    ipv4: ``10.0.0.0/24`` (network and broadcast dropped; /31 and /32 fully usable as in
    RFC 3021), ``10.0.0.10-10.0.0.50`` (inclusive, taken literally) or a single address.
    ipv6-wan / ipv6-pd: ``2001:db8::/48`` split into items of the pool's prefix length, or
    ``2001:db8::/48/64`` naming the item length explicitly (it must then match the pool's).
    """
    family = family_of_kind(kind)
    spec = spec.strip()
    plen = item_prefixlen if item_prefixlen is not None else DEFAULT_ITEM_PREFIXLEN[kind]
    try:
        if family == 4:
            if plen != 32:
                raise PoolError(f"ipv4 pools hand out single addresses, not /{plen}")
            if "-" in spec:
                a, b = (ipaddress.IPv4Address(part.strip()) for part in spec.split("-", 1))
                if int(b) < int(a):
                    raise PoolError(f"range {spec!r} ends before it starts")
                return ItemRange(f"{a}-{b}", 4, 32, int(a), int(b), int(a), int(b) - int(a) + 1)
            net4 = ipaddress.IPv4Network(spec, strict=True)
            lo, hi = int(net4.network_address), int(net4.broadcast_address)
            if net4.prefixlen <= 30:
                return ItemRange(str(net4), 4, 32, lo, hi, lo + 1, hi - lo - 1)
            return ItemRange(str(net4), 4, 32, lo, hi, lo, hi - lo + 1)
        parts = spec.split("/")
        if len(parts) == 3:
            given = int(parts[2])
            if item_prefixlen is not None and given != item_prefixlen:
                raise PoolError(
                    f"range {spec!r} names /{given} items but the pool hands out /{item_prefixlen}"
                )
            plen = given
            spec = "/".join(parts[:2])
        net6 = ipaddress.IPv6Network(spec, strict=True)
    except ValueError as exc:
        raise PoolError(f"bad {kind} range {spec!r}: {exc}") from None
    if not net6.prefixlen <= plen <= 128:
        raise PoolError(f"cannot split {net6} into /{plen} prefixes")
    lo, hi = int(net6.network_address), int(net6.broadcast_address)
    return ItemRange(f"{net6}/{plen}", 6, plen, lo, hi, lo, 1 << (plen - net6.prefixlen))


def parse_span(spec: str, family: int) -> tuple[int, int]:
    """``(lo, hi)`` values of an exclusion: an address, a prefix or (IPv4) ``a-b``."""
    try:
        if "-" in spec:
            a, b = (ipaddress.ip_address(part.strip()) for part in spec.split("-", 1))
            if a.version != family or b.version != family or int(b) < int(a):
                raise ValueError("wrong family or reversed")
            return int(a), int(b)
        net = ipaddress.ip_network(spec.strip(), strict=False)
    except ValueError as exc:
        raise PoolError(f"bad exclusion {spec!r}: {exc}") from None
    if net.version != family:
        raise PoolError(f"exclusion {spec!r} is not IPv{family}")
    return int(net.network_address), int(net.broadcast_address)


def check_overlaps(labelled: Sequence[tuple[str, ItemRange]]) -> None:
    """Raise :class:`PoolError` naming both sides if any two declared spans overlap.

    ``labelled`` pairs a human label (e.g. ``pool 'a' range 10.0.0.0/24``) with its range;
    sorting makes it O(n log n) instead of comparing every pair.
    """
    ordered = sorted(labelled, key=lambda lr: (lr[1].family, lr[1].lo))
    for (label_a, a), (label_b, b) in itertools.pairwise(ordered):
        if a.family == b.family and b.lo <= a.hi:
            raise PoolError(f"{label_b} overlaps {label_a}")
