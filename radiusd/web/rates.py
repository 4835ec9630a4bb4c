"""Requests per second from the daemon's counters (radiusd.server.stats): the difference
between now and a sample taken about ``window`` seconds ago. Samples are taken when a page
asks (the dashboard refreshes itself every few seconds), so nothing runs in the background."""

from __future__ import annotations

import itertools
import time
from collections import Counter, deque
from typing import Any


class Rates:
    def __init__(self, window: float = 10.0) -> None:
        self.window = window
        self.samples: deque[tuple[float, Counter[Any]]] = deque(maxlen=64)

    def update(self, counters: Counter[Any], now: float | None = None) -> dict[Any, float] | None:
        """Record ``counters``; per key, the rate over the newest sample at least ``window``
        seconds old (else the oldest one at least a second old), or None before any."""
        now = time.monotonic() if now is None else now
        base = None
        for at, old in reversed(self.samples):
            if now - at >= 1.0:
                base = (at, old)
                if now - at >= self.window:
                    break
        self.samples.append((now, Counter(counters)))
        while self.samples and now - self.samples[0][0] > 10 * self.window:
            self.samples.popleft()
        if base is None:
            return None
        at, old = base
        span = now - at
        return {k: max(0.0, (v - old.get(k, 0)) / span) for k, v in counters.items()}

    def history(self, key: Any) -> list[float]:
        """The rate of ``key`` between consecutive samples, oldest first (for a sparkline)."""
        out = []
        for (t0, c0), (t1, c1) in itertools.pairwise(self.samples):
            if t1 - t0 >= 0.5:
                out.append(max(0.0, (c1.get(key, 0) - c0.get(key, 0)) / (t1 - t0)))
        return out
