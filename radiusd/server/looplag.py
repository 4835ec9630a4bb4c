"""How late the event loop runs what is due: the wait every datagram adds before it is read.

Why: a reply's latency is the database's time plus however long the one event loop was busy
with something else (a large batch's replies, a periodic task, the garbage collector) or
not scheduled at all (a CPU shared with other work). The reply-latency histogram cannot tell
these apart; the loop's own lag can. A task sleeps ``period`` and records how much later than
that it woke (``radiusd_event_loop_lag_seconds`` in /metrics): near 0 on an idle loop, and a
lag of 100 ms means every datagram that arrived meanwhile waited up to 100 ms unread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from .stats import Stats

#: seconds between two probes: 10 wake-ups a second (at 100 the idle daemon spent ~2 ms of
#: CPU a second on them); a stall of 100 ms or more is always seen, a shorter one sampled
PERIOD = 0.1


async def run_lag_probe(
    stats: Stats, period: float = PERIOD, clock: Callable[[], float] = time.monotonic
) -> None:
    """Record the loop's lag in ``stats`` every ``period`` seconds, until cancelled."""
    while True:
        before = clock()
        await asyncio.sleep(period)
        stats.observe_loop_lag(max(0.0, clock() - before - period))
