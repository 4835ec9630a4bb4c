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


def test_a_cycle_that_died_frozen_is_collected_by_the_full_collection() -> None:
    """What freezing costs (a cycle frozen alive and dropped later is out of every automatic
    collection's reach) is bounded by collect_all, run every gc_full_interval."""
    kept, ref = cycle()
    gcpacing.freeze_survivors()
    del kept
    gc.collect()
    assert ref() is not None  # frozen: not collected, though unreachable
    assert gcpacing.collect_all() >= 2
    assert ref() is None
    assert gc.get_freeze_count() > 0  # the survivors are frozen again


async def test_the_freezer_collects_everything_every_full_interval() -> None:
    now = [0.0]
    fulls: list[tuple[int, float]] = []
    task = asyncio.create_task(
        gcpacing.run_freezer(0.01, 100.0, lambda found, cpu: fulls.append((found, cpu)), clock=lambda: now[0])
    )
    kept, ref = cycle()
    await asyncio.sleep(0.03)  # frozen by the 10 ms freezes
    del kept
    await asyncio.sleep(0.03)
    assert fulls == [] and ref() is not None
    now[0] = 100.0
    for _ in range(50):
        await asyncio.sleep(0.01)
        if fulls:
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(fulls) == 1 and fulls[0][0] >= 2 and ref() is None


def test_gc_freeze_interval_setting() -> None:
    assert load_settings().gc_freeze_interval == 1.0
    assert load_settings(None, gc_freeze_interval=0).gc_freeze_interval == 0
    with pytest.raises(ConfigError) as info:
        load_settings(None, gc_freeze_interval=-1)
    assert "gc_freeze_interval" in str(info.value) and "\n" not in str(info.value)


def test_gc_full_interval_setting() -> None:
    assert load_settings().gc_full_interval == 3600.0
    with pytest.raises(ConfigError) as info:
        load_settings(None, gc_full_interval=-5)
    assert "gc_full_interval" in str(info.value) and "\n" not in str(info.value)
