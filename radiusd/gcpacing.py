"""The cyclic garbage collector, paced for a process that answers within milliseconds.

Why: CPython's collector stops the whole process while it walks a generation, and the event
loop answers nothing meanwhile. What a daemon under load keeps for a while (sessions, leases,
the dedupe cache's entries) survives the young collections and piles up in the oldest
generation, so every full collection walks all of it again: measured under whole-session
load, 150-190 ms of CPU for ~130,000 objects (0-2 times in a 100 s run), and up to ~60 ms
for the middle generation (every few seconds); those full collections found nothing to free, the
middle ones ~700 objects in two minutes (bench/results/accounting_write.md, section 3). A
request's objects die by reference counting; cycles are rare.

So what start-up loaded is frozen (``gc.freeze``: out of the collector's reach; reference
counting still frees a frozen object), and then, every ``interval`` seconds, the young and
middle generations are collected (``gc.collect(1)``: the cycles among what was allocated
since, a few milliseconds) and their survivors frozen in turn. The oldest generation stays
nearly empty, so no automatic collection walks the long-lived objects again. The price: a
cycle still alive at a freeze that becomes garbage later is never collected (only cycles; an
object that reference counting frees is freed frozen or not); ``gc_freeze_interval = 0``
restores the collector's own full collections. So that such cycles (a closed RadSec or HTTP
connection's protocol and transport, a long task's frames) cannot pile up for the life of the
process, every ``full_interval`` seconds (``gc_full_interval``, an hour by default) everything is
unfrozen and collected once (one pause of the old kind, 100-200 ms at ~100,000 live sessions),
then frozen again.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable

#: young collection threshold: allocations (minus frees) between two young collections
#: (CPython's default 700 collects far more often than a server's request objects need)
YOUNG_THRESHOLD = 10_000


def settle() -> None:
    """Collect once and freeze what is left (the tables loaded at start-up), and collect the
    young generation less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 20)


def freeze_survivors() -> None:
    """Collect the young and middle generations, then freeze what survived. (Not
    ``gc.get_freeze_count()`` here: it walks every frozen object, tens of milliseconds for a
    few hundred thousand.)"""
    gc.collect(1)
    gc.freeze()


def collect_all() -> int:
    """Unfreeze, collect every generation (the cycles that died frozen), freeze again; how many
    objects were found unreachable."""
    gc.unfreeze()
    found = gc.collect()
    gc.freeze()
    return found


async def run_freezer(
    interval: float,
    full_interval: float = 0.0,
    on_full: Callable[[int, float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """:func:`freeze_survivors` every ``interval`` seconds, and :func:`collect_all` instead once
    ``full_interval`` seconds (0: never) have passed since the last, until cancelled;
    ``on_full`` is told what each full collection found and its CPU seconds."""
    last_full = clock()
    while True:
        await asyncio.sleep(interval)
        if full_interval > 0 and clock() - last_full >= full_interval:
            started = time.process_time()
            found = collect_all()
            last_full = clock()
            if on_full is not None:
                on_full(found, time.process_time() - started)
        else:
            freeze_survivors()
