"""The event loop's lag probe (radiusd.server.looplag) and its /metrics histogram."""

from __future__ import annotations

import asyncio
import time

from radiusd.server.looplag import run_lag_probe
from radiusd.server.stats import LATENCY_BUCKETS, Stats


def bucket(seconds: float) -> int:
    return next((i for i, bound in enumerate(LATENCY_BUCKETS) if seconds <= bound), len(LATENCY_BUCKETS))


async def test_a_blocked_loop_is_recorded_as_lag() -> None:
    stats = Stats()
    task = asyncio.create_task(run_lag_probe(stats, period=0.005))
    await asyncio.sleep(0.03)  # a few probes on an idle loop
    idle = sum(stats.loop_lag_counts)
    assert idle >= 2
    assert sum(stats.loop_lag_counts[bucket(0.05) :]) == 0  # an idle loop is not 50 ms late
    time.sleep(0.12)  # noqa: ASYNC251  (the point: something holds the loop for 120 ms)
    await asyncio.sleep(0.02)
    task.cancel()
    late = sum(stats.loop_lag_counts[bucket(0.1) :])
    assert late == 1  # the one probe that was due during the block woke 100+ ms late
    assert stats.loop_lag_sum >= 0.1


def test_observe_loop_lag_buckets() -> None:
    stats = Stats()
    for seconds in (0.0, 0.003, 0.2, 9.0):
        stats.observe_loop_lag(seconds)
    assert stats.loop_lag_counts[0] == 1  # <= 0.5 ms
    assert stats.loop_lag_counts[bucket(0.003)] == 1
    assert stats.loop_lag_counts[bucket(0.2)] == 1
    assert stats.loop_lag_counts[-1] == 1  # +Inf
    assert abs(stats.loop_lag_sum - 9.203) < 1e-9
