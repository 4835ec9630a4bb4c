"""Dedupe cache micro benchmark: ns per request of the calls the packet path makes.

Usage: python3 bench/dedupe_bench.py [--rounds 400] [--reply-size 120]

Per request: a lookup that misses, begin, finish with the reply, and the lookup a
retransmission makes (a hit), on a cache at steady state (entries expire as fast as they
arrive). Short runs, repeated; the minimum is reported (the machine is shared). Then the
memory check: 20,000 replies of up to 4 KB into a cache of ``dedupe_max_bytes`` = 4 MB, the
bytes it counts and what tracemalloc sees.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from radiusd.server.dedupe import DedupeCache


def per_request(rounds: int, reply_size: int, n: int = 5_000) -> float:
    keys = [(("10.0.0.1", 1000 + i % 60000), i & 255, i.to_bytes(16, "big")) for i in range(n)]
    reply = b"r" * reply_size
    best = float("inf")
    for _ in range(rounds):
        cache = DedupeCache(ttl=0.05)
        now = 0.0
        start = time.perf_counter()
        for key in keys:
            now += 0.00001
            cache.lookup(key, now)
            cache.begin(key, now)
            cache.finish(key, reply, now)
            cache.lookup(key, now)
        best = min(best, time.perf_counter() - start)
    return best / n * 1e9


def memory(budget: int = 4 * 1024 * 1024) -> tuple[int, int]:
    cache = DedupeCache(ttl=1000.0, max_entries=10**7, max_bytes=budget)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(20_000):
        key = ((f"10.{i % 250}.{i % 199}.{i % 97}", 1024 + i % 60000), i & 255, os.urandom(16))
        cache.begin(key, 0.0)
        cache.finish(key, os.urandom(64 + i % 4000), 0.0)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return cache.nbytes, used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--reply-size", type=int, default=120)
    args = parser.parse_args()
    ns = per_request(args.rounds, args.reply_size)
    print(f"dedupe cache: {ns:.0f} ns per request (lookup miss, begin, finish, lookup hit)")
    counted, used = memory()
    print(f"4 MB budget, 20,000 replies of 64-4064 octets: {counted / 2**20:.2f} MB counted, "
          f"{used / 2**20:.2f} MB allocated")  # fmt: skip


if __name__ == "__main__":
    main()
