"""Counters the daemon keeps about itself: requests by type and result, drops by reason,
reply latency. Plain ints on the hot path; the HTTP API turns them into Prometheus metrics.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field

#: Latency bucket upper bounds in seconds (Prometheus style, cumulative when exported).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_FIRST_BUCKET = LATENCY_BUCKETS[0]


@dataclass
class Stats:
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)  # (packet type, result)
    drops: Counter[str] = field(default_factory=Counter)  # reason
    duplicates: int = 0
    latency_counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    latency_sum: float = 0.0
    #: RadSec (radiusd.server.radsec): TLS connections open now by NAS name, accepted (mapped to a
    #: NAS), refused before that and closed after it, by reason
    radsec_open: Counter[str] = field(default_factory=Counter)
    radsec_accepted: int = 0
    radsec_refused: Counter[str] = field(default_factory=Counter)
    radsec_closed: Counter[str] = field(default_factory=Counter)

    def drop(self, reason: str) -> None:
        self.drops[reason] += 1

    def observe(self, kind: str, result: str, seconds: float) -> None:
        self.requests[(kind, result)] += 1
        # most replies fall in the first bucket: skip the bisect for them
        self.latency_counts[0 if seconds <= _FIRST_BUCKET else bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.latency_sum += seconds
