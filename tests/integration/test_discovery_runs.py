"""The daemon's periodic LLDP discovery runs once per interval per cluster: nodes sharing one
database claim a ``discovery_runs`` row first (PostgreSQL: under an advisory lock), and only
the claimer polls. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from inventory.discovery_run import run_periodic
from radiusd.store.discovery import claim_run, finish_run, last_runs
from radiusd.store.engine import create_engine


async def test_a_second_claim_within_the_interval_is_refused(store_engine: AsyncEngine) -> None:
    first = await claim_run(store_engine, "node-a", 0.5)
    assert first is not None
    assert await claim_run(store_engine, "node-b", 0.5) is None
    await asyncio.sleep(0.5)
    second = await claim_run(store_engine, "node-b", 0.5)
    assert second is not None and second != first
    await finish_run(store_engine, second, False, {"polled": 0})
    runs = await last_runs(store_engine)
    assert [(r["node"], r["summary"]) for r in runs] == [("node-b", {"polled": 0}), ("node-a", None)]


async def test_two_nodes_racing_claim_once(db_url: str, migrated_db: None) -> None:
    engines = [create_engine(db_url) for _ in range(4)]
    try:
        claims = await asyncio.gather(*(claim_run(e, f"node-{i}", 60) for i, e in enumerate(engines)))
    finally:
        for engine in engines:
            await engine.dispose()
    assert sum(c is not None for c in claims) == 1


@pytest.mark.parametrize("interval", [0.4])
async def test_periodic_runs_on_two_nodes_poll_once_per_interval(
    db_url: str, migrated_db: None, interval: float
) -> None:
    engines = [create_engine(db_url) for _ in range(2)]
    tasks = [
        asyncio.create_task(run_periodic(e, interval, node=f"node-{i}", apply=False, router_community=None))
        for i, e in enumerate(engines)
    ]
    started = time.monotonic()
    await asyncio.sleep(interval * 4.5)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    elapsed = time.monotonic() - started
    try:
        runs = await last_runs(engines[0], 100)
    finally:
        for engine in engines:
            await engine.dispose()
    finished = [r for r in runs if r["finished_at"] is not None]
    # two nodes ticking every interval: one run per interval between them, not one each
    assert 2 <= len(runs) <= elapsed / interval + 1
    assert len(finished) >= 2 and all(r["summary"]["polled"] == 0 for r in finished)
    starts = sorted(r["started_at"] for r in runs)
    assert all((b - a).total_seconds() >= 0.9 * interval for a, b in itertools.pairwise(starts))
