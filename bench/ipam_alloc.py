"""Micro benchmark of the in-memory allocator: µs per allocate + commit + confirm + commit +
release + commit, through the Allocator API (string addresses, as the policy calls it).

Usage: python3 bench/ipam_alloc.py [n]   (default 65,000 subscribers per pool)

Two shapes: an IPv4 /16 (65,534 usable addresses) and delegated /56 prefixes out of a /40
(65,536 prefixes). A first pass hands out fresh items; a second pass brings the same owners
back (sticky path: the released item is found through the owner index).
"""

from __future__ import annotations

import sys
import time

from ipam import Allocator, Pool


def run(alloc: Allocator, pool: str, n: int, now: float) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        owner = f"user{i}"
        change = alloc.allocate(pool, owner, now, nas="nas1", session=owner)
        assert change is not None
        alloc.commit(change)
        address = change.address
        c2 = alloc.confirm(address, owner, now, now + 600.0)
        alloc.commit(c2)
        c3 = alloc.release(address, owner, now)
        assert c3 is not None
        alloc.commit(c3)
    return (time.perf_counter() - t0) / n * 1e6


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 65000
    for name, kind, spec in (("v4", "ipv4", "10.64.0.0/16"), ("pd", "ipv6-pd", "2001:db8::/40/56")):
        alloc = Allocator([Pool(name, kind, [spec])])
        fresh = run(alloc, name, n, 1000.0)
        sticky = run(alloc, name, n, 2000.0)
        usage = alloc.pool(name).usage()
        print(
            f"{spec:>18}  fresh {fresh:5.2f} µs   sticky {sticky:5.2f} µs   per allocate+confirm+release "
            f"(n={n}, {usage.held} held)"
        )


if __name__ == "__main__":
    main()
