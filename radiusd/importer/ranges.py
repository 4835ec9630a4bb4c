"""Turn the address lists of FreeRADIUS pools (one ``radippool`` row per address) into our
pool ranges: CIDR blocks (what ``ipv4_networks.cidr`` stores) plus excluded spans.

A block /30 or larger never hands out its network and broadcast addresses (ipam.ranges), so
a block is accepted for a pool only when (1) every listed address inside it belongs to that
pool, (2) it does not overlap a range that already exists (``obstacles``), (3) it does not
need its network or broadcast address, and (4) the addresses it would hand out but the pool
did not list fit in a few excluded spans. Otherwise it is split in halves, down to single
addresses (a /32 range). A listed address that cannot be placed (it lies in an existing
range of another pool) is returned as ``unplaced``. The usual case, a pool listing
``10.64.0.1`` to ``10.64.255.254``, becomes one range ``10.64.0.0/16``. Limit: two pools
sharing one aligned block with no free address between them (``.1-.100`` and ``.101-.254``)
become /31 ranges: each boundary between two blocks inside a listed run needs the network
and broadcast address of its blocks (correct, only verbose; ranges are stored as CIDR text
of at most 18 characters, not as ``a-b``).
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

MAX_GAPS = 16  # excluded spans per block before splitting it instead
MAX_GAP_ITEMS = 65536  # ipam.ranges.MAX_EXCLUDED_ITEMS


@dataclass(slots=True)
class Block:
    cidr: str
    excluded: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Cover:
    blocks: dict[str, list[Block]] = field(default_factory=dict)  # pool name -> blocks
    unplaced: list[tuple[str, int]] = field(default_factory=list)  # (pool, address)


def _text(value: int) -> str:
    return str(ipaddress.IPv4Address(value))


def _span(lo: int, hi: int) -> str:
    return _text(lo) if lo == hi else f"{_text(lo)}-{_text(hi)}"


def cover(pools: Mapping[str, Sequence[int]], obstacles: Sequence[tuple[int, int]] = ()) -> Cover:  # noqa: C901  (one sweep over sorted addresses and obstacles; its invariants read best together)
    """Blocks per pool covering exactly the listed addresses (see the module docstring).

    ``pools``: pool name -> listed addresses (ints, any order, no address in two pools);
    ``obstacles``: declared spans ``(lo, hi)`` of existing ranges (disjoint, as the allocator
    guarantees), which no block may touch.
    """
    items = sorted((a, name) for name, addrs in pools.items() for a in addrs)
    values = [a for a, _ in items]
    owners = [n for _, n in items]
    obs = sorted(obstacles)
    obs_lo = [lo for lo, _ in obs]
    out = Cover()

    def blocked(lo: int, hi: int) -> bool:
        i = bisect.bisect_right(obs_lo, hi)  # existing ranges are disjoint: check the last one
        return i > 0 and obs[i - 1][1] >= lo

    def gaps(i: int, j: int, lo: int, hi: int) -> list[tuple[int, int]] | None:
        found: list[tuple[int, int]] = []
        prev = lo - 1
        for k in range(i, j):
            v = values[k]
            if v > prev + 1:
                if v - prev - 1 > MAX_GAP_ITEMS or len(found) >= MAX_GAPS:
                    return None
                found.append((prev + 1, v - 1))
            prev = v
        if prev < hi:
            if hi - prev > MAX_GAP_ITEMS or len(found) >= MAX_GAPS:
                return None
            found.append((prev + 1, hi))
        return found

    def visit(net: int, plen: int) -> None:
        size = 1 << (32 - plen)
        lo, hi = net, net + size - 1
        i = bisect.bisect_left(values, lo)
        j = bisect.bisect_right(values, hi)
        if i == j:
            return
        half = size // 2
        if plen < 32 and (values[i] >= lo + half or values[j - 1] < lo + half):
            visit(lo if values[i] < lo + half else lo + half, plen + 1)  # the smallest block first
            return
        single = owners[i] if all(owners[k] == owners[i] for k in range(i, j)) else None
        if single is not None and not blocked(lo, hi):
            usable_lo, usable_hi = (lo + 1, hi - 1) if plen <= 30 else (lo, hi)
            if values[i] >= usable_lo and values[j - 1] <= usable_hi:
                found = gaps(i, j, usable_lo, usable_hi)
                if found is not None:
                    spec = _text(lo) if plen == 32 else f"{_text(lo)}/{plen}"
                    block = Block(spec, [_span(a, b) for a, b in found])
                    out.blocks.setdefault(single, []).append(block)
                    return
        if plen == 32:
            out.unplaced.append((owners[i], values[i]))
            return
        visit(net, plen + 1)
        visit(net + half, plen + 1)

    if values:
        visit(0, 0)
    return out
