"""Reports stream in constant memory: 200k interim rows go through with a flat tracemalloc peak.

One session with 100k updates (a month of 30-second interims: the raw time series) and 25k
sessions of four updates each (the per-session usage export) on SQLite and PostgreSQL. The
peak of Python allocations while streaming must stay far below what holding the rows would
take (~100 MB for 100k row dicts), and must not grow between the first rows and the last.
"""

from __future__ import annotations

import datetime as dt
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.cli.export import write_csv, write_json_array
from radiusd.store import reports
from radiusd.store.models import RadiusInterimUpdate, RadiusSession
from radiusd.store.reports import Period
from radiusd.store.tables import core_table

pytestmark = pytest.mark.slow

UTC = dt.UTC
START = dt.datetime(2024, 1, 1, tzinfo=UTC)
HEAVY_UPDATES = 100_000
LIGHT_SESSIONS = 25_000
PEAK_BOUND = 8 * 2**20  # bytes
GROWTH_BOUND = 1 * 2**20


class Sink:
    """A stdout stand-in that keeps nothing (a StringIO would grow with the output)."""

    def __init__(self) -> None:
        self.chars = 0
        self.lines = 0

    def write(self, text: str) -> int:
        self.chars += len(text)
        self.lines += text.count("\n")
        return len(text)


async def populate(engine: AsyncEngine) -> None:
    sessions = [
        {
            "id": 1, "acct_unique_id": "heavy", "acct_session_id": "heavy", "username": "heavy",
            "nas_address": "192.0.2.1", "started_at": START, "updated_at": START, "status": "open",
        }
    ]  # fmt: skip
    for i in range(LIGHT_SESSIONS):
        sessions.append(
            {
                "id": i + 2, "acct_unique_id": f"light-{i}", "acct_session_id": f"s{i}",
                "username": f"user{i % 5000:04d}", "nas_address": "192.0.2.2",
                "started_at": START + dt.timedelta(seconds=i), "updated_at": START, "status": "open",
            }
        )  # fmt: skip

    def heavy() -> list[dict[str, Any]]:
        return [
            {
                "session_id": 1, "acct_unique_id": "heavy", "status_type": "Interim-Update",
                "event_time": START + dt.timedelta(seconds=30 * n), "session_time": 30 * n,
                "input_octets": 1000 * n, "output_octets": 9000 * n,
            }
            for n in range(HEAVY_UPDATES)
        ]  # fmt: skip

    def light() -> list[dict[str, Any]]:
        return [
            {
                "session_id": i + 2, "acct_unique_id": f"light-{i}", "status_type": "Interim-Update",
                "event_time": START + dt.timedelta(hours=k, seconds=i), "session_time": 3600 * k,
                "input_octets": 10 * k, "output_octets": 100 * k,
            }
            for i in range(LIGHT_SESSIONS)
            for k in range(4)
        ]  # fmt: skip

    async with engine.begin() as conn:
        await conn.execute(sa.insert(core_table(RadiusSession)), sessions)
        for rows in (heavy(), light()):
            for i in range(0, len(rows), 20_000):
                await conn.execute(sa.insert(core_table(RadiusInterimUpdate)), rows[i : i + 20_000])


async def measure(rows: AsyncIterator[dict[str, Any]], *, warm: int = 10_000) -> tuple[int, int, int]:
    """Consume ``rows``; return (count, peak after the first ``warm`` rows, peak at the end)."""
    tracemalloc.start()
    try:
        count = 0
        early_peak = 0
        async for _row in rows:
            count += 1
            if count == warm:
                early_peak = tracemalloc.get_traced_memory()[1]
        return count, early_peak, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_streaming_200k_interim_rows_in_constant_memory(store_engine: AsyncEngine) -> None:
    await populate(store_engine)

    count, early, peak = await measure(reports.iter_session_updates(store_engine, 1))
    assert count == HEAVY_UPDATES
    assert peak < PEAK_BOUND, f"time series: peak {peak} bytes"
    assert peak - early < GROWTH_BOUND, f"time series: peak grew from {early} to {peak} bytes"

    everything = Period(START, START + dt.timedelta(days=60))
    count, early, peak = await measure(reports.iter_usage(store_engine, everything, by="session"))
    assert count == LIGHT_SESSIONS + 1
    assert peak < PEAK_BOUND, f"usage by session: peak {peak} bytes"
    assert peak - early < GROWTH_BOUND, f"usage by session: peak grew from {early} to {peak} bytes"

    count, early, peak = await measure(reports.iter_sessions(store_engine))
    assert count == LIGHT_SESSIONS + 1
    assert peak < PEAK_BOUND, f"session list: peak {peak} bytes"

    # The CLI's writers add no buffering of their own.
    for writer in ("json", "csv"):
        sink = Sink()
        tracemalloc.start()
        try:
            rows = reports.iter_usage(store_engine, everything, by="day")
            if writer == "json":
                written = await write_json_array(rows, sink)  # type: ignore[arg-type]
            else:
                written = await write_csv(rows, reports.USAGE_FIELDS["day"], sink)  # type: ignore[arg-type]
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert written == 5000 + 35  # 5000 users on 2024-01-01, "heavy" over 35 days
        assert peak < PEAK_BOUND, f"{writer}: peak {peak} bytes"
        assert sink.lines >= written + 1
