"""End to end: accounting through the real state machine and writer ops, then the rebuild.

Random accounting traffic (sessions across midnight, NAS counter resets, gigawords-sized
counters, Interim without Start, Stop without Start, late and reordered updates,
retransmissions, Interim after Stop, Accounting-On) goes through
``radiusd.policy.accounting_state.apply_event`` and ``AccountingOp.apply_batch`` in group-commit
batches, exactly as the daemon writes it. The live ``service_usage`` roll-up must then equal
what ``rebuild_usage`` recomputes from the time series, and what ``export usage --by day`` and
``--by subscriber`` report.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.model.events import AcctEvent, StatusType, unique_session_id
from radiusd.policy.accounting_state import apply_event
from radiusd.policy.sessions import SessionTable
from radiusd.store import reports
from radiusd.store.accounting_ops import AccountingOp
from radiusd.store.engine import begin_write
from radiusd.store.reports import Period

UTC = dt.UTC
T0 = dt.datetime(2024, 6, 9, 18, 0, tzinfo=UTC)
NAS = ("192.0.2.1", "192.0.2.2")


def traffic(seed: int, sessions: int = 120) -> list[AcctEvent]:
    """Accounting events in arrival order."""
    rng = random.Random(seed)
    arrivals: list[tuple[dt.datetime, int, AcctEvent]] = []
    n = 0

    def add(arrival: dt.datetime, ev: AcctEvent) -> None:
        nonlocal n
        arrivals.append((arrival, n, ev))
        n += 1

    for k in range(sessions):
        nas = rng.choice(NAS)
        user = f"user{rng.randrange(15):02d}"
        sid = f"S{k:05d}"
        base: dict[str, Any] = {
            "nas_address": nas,
            "router_id": None,
            "unique_id": unique_session_id(nas, sid.encode(), user.encode(), k),
            "acct_session_id": sid,
            "username": user,
            "nas_port": k,
            "framed_ip": f"100.64.{k // 250}.{k % 250 + 1}",
        }
        start = T0 + dt.timedelta(minutes=rng.randrange(0, 2 * 24 * 60))
        raw_in = raw_out = seconds = 0
        events: list[AcctEvent] = []
        if rng.random() > 0.15:  # else: no Start (Interim or Stop first)
            events.append(AcctEvent(StatusType.START, event_time=start, **base))
        when = start
        for _ in range(rng.randrange(0, 10)):
            gap = rng.randrange(300, 3 * 3600)
            when += dt.timedelta(seconds=gap)
            seconds += gap
            if rng.random() < 0.08:  # the NAS reset its counters
                raw_in, raw_out = rng.randrange(0, 5000), rng.randrange(0, 5000)
            else:
                raw_in += rng.randrange(0, 3 * 2**32)
                raw_out += rng.randrange(0, 9 * 2**32)
            events.append(
                AcctEvent(
                    StatusType.INTERIM_UPDATE, event_time=when, session_time=seconds,
                    input_octets=raw_in, output_octets=raw_out, **base,
                )
            )  # fmt: skip
        if rng.random() < 0.75 or not events:
            when += dt.timedelta(seconds=rng.randrange(1, 600))
            seconds += 30
            raw_in += rng.randrange(0, 10**6)
            events.append(
                AcctEvent(
                    StatusType.STOP, event_time=when, session_time=seconds, input_octets=raw_in,
                    output_octets=raw_out, terminate_cause="User-Request", **base,
                )
            )  # fmt: skip
            if rng.random() < 0.1:  # Interim after Stop with higher counters: billed, stays closed
                events.append(
                    AcctEvent(
                        StatusType.INTERIM_UPDATE, event_time=when + dt.timedelta(seconds=5),
                        session_time=seconds + 5, input_octets=raw_in + 999, output_octets=raw_out, **base,
                    )
                )  # fmt: skip
        for ev in events:
            arrival = ev.event_time + dt.timedelta(seconds=rng.randrange(0, 3))
            if rng.random() < 0.05:  # delayed: arrives after the next update (late, reordered)
                arrival += dt.timedelta(hours=4)
            add(arrival, ev)
            if rng.random() < 0.15:  # retransmission (Acct-Delay-Time moves the event time a little)
                add(arrival + dt.timedelta(seconds=3), ev)
    # The second NAS reboots in the middle: its open sessions are closed (cause NAS-Reboot).
    reboot = T0 + dt.timedelta(hours=30)
    add(reboot, AcctEvent(StatusType.ACCOUNTING_ON, NAS[1], None, reboot))
    add(reboot + dt.timedelta(seconds=2), AcctEvent(StatusType.ACCOUNTING_ON, NAS[1], None, reboot))
    arrivals.sort(key=lambda item: (item[0], item[1]))
    return [ev for _, _, ev in arrivals]


async def feed(engine: AsyncEngine, events: list[AcctEvent], seed: int, replay: float = 0.0) -> None:
    """Write ``events`` as the daemon does: state machine, then group commits of random size.

    ``replay``: the share of batches written a second time, in a transaction of their own, as
    when a commit's acknowledgement was lost and the retransmitted requests recompute the same
    rows (nothing may be counted twice)."""
    rng = random.Random(seed)
    table = SessionTable()
    i = 0
    while i < len(events):
        batch = events[i : i + rng.randrange(1, 40)]
        i += len(batch)
        changes = []
        for ev in batch:
            change = table.begin()
            apply_event(table, ev, change)
            changes.append(change)
        async with begin_write(engine) as conn:
            await AccountingOp.apply_batch(conn, [AccountingOp(c) for c in changes])
        if rng.random() < replay:
            async with begin_write(engine) as conn:
                await AccountingOp.apply_batch(conn, [AccountingOp(c) for c in changes])
        for change in changes:
            change.committed()


async def live_usage(engine: AsyncEngine, period: Period) -> dict[tuple[str, str], dict[str, int]]:
    return {(r.pop("day"), r.pop("username")): r async for r in reports.iter_service_usage(engine, period)}


@pytest.mark.parametrize("seed", [11, 12])
async def test_rebuild_and_export_equal_the_live_rollup(store_engine: AsyncEngine, seed: int) -> None:
    await feed(store_engine, traffic(seed), seed)
    everything = Period.parse("2024-06-01", "2024-07-01")
    live = await live_usage(store_engine, everything)
    assert len(live) > 40
    assert len({day for day, _ in live}) >= 3  # sessions spread over several days

    # Export over whole days reads the time series; it must match the live roll-up day by day.
    exported = {
        (r.pop("day"), r.pop("username")): r
        async for r in reports.iter_usage(store_engine, everything, by="day")
    }
    assert exported == live

    # Per subscriber over a period cut at whole days = the sum of those days of the roll-up.
    days = Period.parse("2024-06-10", "2024-06-12")
    expected: dict[str, dict[str, int]] = defaultdict(
        lambda: {"input_octets": 0, "output_octets": 0, "session_time": 0, "sessions": 0}
    )
    for (day, user), totals in live.items():
        if "2024-06-10" <= day < "2024-06-12":
            for key, value in totals.items():
                expected[user][key] += value
    got = {r.pop("username"): r async for r in reports.iter_usage(store_engine, days)}
    assert got == dict(expected)

    # Rebuild from scratch: the same rows, the same numbers.
    result = await reports.rebuild_usage(store_engine, everything.start, everything.end)
    assert result.deleted == result.rows == len(live)
    assert await live_usage(store_engine, everything) == live


async def test_a_batch_written_again_is_counted_once(store_engine: AsyncEngine) -> None:
    """Batches committed twice (acknowledgement lost, retransmitted): the time series keeps one
    row per point and the live roll-up still equals the rebuild from it."""
    await feed(store_engine, traffic(13), 13, replay=0.3)
    everything = Period.parse("2024-06-01", "2024-07-01")
    live = await live_usage(store_engine, everything)
    assert len(live) > 40
    await reports.rebuild_usage(store_engine, everything.start, everything.end)
    assert await live_usage(store_engine, everything) == live
