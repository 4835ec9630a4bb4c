"""The paced garbage collector (radiusd.gcpacing): survivors frozen, cycles still collected."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from radiusd import gcpacing
from radiusd.config import ConfigError, load_settings


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture(autouse=True)
def restore_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def cycle() -> tuple[Node, weakref.ref[Node]]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a, weakref.ref(a)


def in_generations(obj: object) -> bool:
    return any(o is obj for gen in range(3) for o in gc.get_objects(gen))


def test_survivors_are_frozen_and_dead_cycles_collected() -> None:
    live, _ = cycle()
    dead, dead_ref = cycle()
    del dead
    assert in_generations(live)
    gcpacing.freeze_survivors()
    assert dead_ref() is None  # the cycle that was garbage is collected before the freeze
    assert gc.get_freeze_count() > 0
    assert not in_generations(live)  # out of every collection's walk from now on
    # frozen objects are still freed by reference counting
    live.other = None
    ref = weakref.ref(live)
    del live
    assert ref() is None


def test_a_full_collection_no_longer_walks_the_survivors() -> None:
    keep = [cycle()[0] for _ in range(2_000)]
    gcpacing.freeze_survivors()
    young_and_old = sum(len(gc.get_objects(gen)) for gen in range(3))
    assert young_and_old < len(keep)  # the 4,000 nodes are frozen, not in any generation


def test_settle_freezes_and_sets_the_young_threshold() -> None:
    before = gc.get_freeze_count()
    kept = [Node() for _ in range(100)]
    gcpacing.settle()
    assert gc.get_threshold()[0] == gcpacing.YOUNG_THRESHOLD
    assert gc.get_freeze_count() >= before + len(kept)


async def test_the_freezer_runs_every_interval_until_cancelled() -> None:
    gc.unfreeze()
    task = asyncio.create_task(gcpacing.run_freezer(0.01))
    kept = [Node() for _ in range(50)]
    await asyncio.sleep(0.05)
    assert gc.get_freeze_count() >= len(kept)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_gc_freeze_interval_setting() -> None:
    assert load_settings().gc_freeze_interval == 1.0
    assert load_settings(None, gc_freeze_interval=0).gc_freeze_interval == 0
    with pytest.raises(ConfigError) as info:
        load_settings(None, gc_freeze_interval=-1)
    assert "gc_freeze_interval" in str(info.value) and "\n" not in str(info.value)
