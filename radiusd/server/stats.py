"""Counters the daemon keeps about itself: requests by type and result, drops by reason,
reply latency. Plain ints on the hot path; the HTTP API turns them into Prometheus metrics.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import NamedTuple

#: Latency bucket upper bounds in seconds (Prometheus style, cumulative when exported).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_FIRST_BUCKET = LATENCY_BUCKETS[0]


#: Access-Rejects remembered for the web console's subscriber page (this process only)
RECENT_REJECTS = 2000


class Reject(NamedTuple):
    at: float  # time.time()
    nas: str
    user: str
    reason: str


@dataclass
class Stats:
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)  # (packet type, result)
    drops: Counter[str] = field(default_factory=Counter)  # reason
    duplicates: int = 0
    latency_counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    latency_sum: float = 0.0
    #: the event loop's lag (radiusd.server.looplag), in LATENCY_BUCKETS
    loop_lag_counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    loop_lag_sum: float = 0.0
    #: requests answered per NAS name, and when the last one was (time.time())
    nas_requests: Counter[str] = field(default_factory=Counter)
    nas_last: dict[str, float] = field(default_factory=dict)
    rejects: deque[Reject] = field(default_factory=lambda: deque(maxlen=RECENT_REJECTS))
    #: RadSec (radiusd.server.radsec): TLS connections open now by NAS name, accepted (mapped to a
    #: NAS), refused before that and closed after it, by reason
    radsec_open: Counter[str] = field(default_factory=Counter)
    radsec_accepted: int = 0
    radsec_radius11: int = 0  # of those accepted: RADIUS/1.1 negotiated by ALPN (RFC 9765)
    radsec_refused: Counter[str] = field(default_factory=Counter)
    radsec_closed: Counter[str] = field(default_factory=Counter)
    #: Disconnect-/CoA-Requests this process sent: (kind, transport udp|radsec, outcome)
    coa: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def coa_result(self, kind: str, transport: str, outcome: str) -> None:
        self.coa[(kind, transport, outcome)] += 1

    def drop(self, reason: str) -> None:
        self.drops[reason] += 1

    def answered(self, nas: str) -> None:
        self.nas_requests[nas] += 1
        self.nas_last[nas] = time.time()

    def rejected(self, nas: str, user: str, reason: str) -> None:
        self.rejects.append(Reject(time.time(), nas, user, reason))

    def observe_loop_lag(self, seconds: float) -> None:
        self.loop_lag_counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.loop_lag_sum += seconds

    def observe(self, kind: str, result: str, seconds: float) -> None:
        self.requests[(kind, result)] += 1
        # most replies fall in the first bucket: skip the bisect for them
        self.latency_counts[0 if seconds <= _FIRST_BUCKET else bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.latency_sum += seconds
