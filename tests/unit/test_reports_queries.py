"""radiusd.store.reports on SQLite and PostgreSQL: list filters, time series, usage split at the
period's edges, counter resets, and ``rebuild_usage`` against a roll-up computed by hand.

Rows are written straight into the tables with SQLAlchemy Core (no daemon); the helpers here
(:class:`Accounting`, :func:`reference_rollup`) are shared with the export CLI tests.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.store import reports
from radiusd.store.errors import NotFound
from radiusd.store.models import (
    RadiusAccounting,
    RadiusInterimUpdate,
    RadiusSession,
    Router,
    ServiceUsageTracking,
)
from radiusd.store.reports import Period
from radiusd.store.tables import core_table

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    """``'2024-05-01 23:50'`` -> aware UTC datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- test data --------------------------------------------------------------------------------


@dataclass
class Update:
    event_time: dt.datetime
    status_type: str
    session_time: int
    input_octets: int
    output_octets: int


@dataclass
class Session:
    id: int
    username: str
    acct_unique_id: str
    nas_address: str
    router_id: int | None
    framed_ip: str | None
    updates: list[Update] = field(default_factory=list)


def step(prev: int | None, cur: int) -> int:
    """The attribution rule, written independently of the SQL: difference, or new value after a reset."""
    if prev is None or cur < prev:
        return cur
    return cur - prev


class Accounting:
    """Builds sessions with their updates, then writes them (and their closed records) in one go."""

    def __init__(self) -> None:
        self.sessions: list[Session] = []
        self.routers: list[dict[str, Any]] = []

    def router(self, name: str, address: str) -> int:
        rid = len(self.routers) + 1
        self.routers.append(
            {"id": rid, "name": name, "nas_address": address, "secret": "x", "vendor": "generic"}
        )
        return rid

    def session(
        self,
        username: str,
        updates: Sequence[tuple[str | dt.datetime, str, int, int, int]],
        *,
        nas_address: str = "192.0.2.1",
        router_id: int | None = None,
        framed_ip: str | None = None,
    ) -> Session:
        sid = len(self.sessions) + 1
        s = Session(
            sid,
            username,
            f"uid-{sid:08d}",
            nas_address,
            router_id,
            framed_ip or f"10.1.{sid // 250}.{sid % 250}",
        )
        for when, kind, seconds, octets_in, octets_out in updates:
            event = at(when) if isinstance(when, str) else when
            s.updates.append(Update(event, kind, seconds, octets_in, octets_out))
        self.sessions.append(s)
        return s

    def session_rows(self) -> list[dict[str, Any]]:
        rows = []
        for s in self.sessions:
            totals = [0, 0, 0]
            prev: Update | None = None
            for u in s.updates:
                totals[0] += step(prev.input_octets if prev else None, u.input_octets)
                totals[1] += step(prev.output_octets if prev else None, u.output_octets)
                totals[2] += step(prev.session_time if prev else None, u.session_time)
                prev = u
            first, last = s.updates[0], s.updates[-1]
            stopped = last.event_time if last.status_type == "Stop" else None
            rows.append(
                {
                    "id": s.id,
                    "acct_unique_id": s.acct_unique_id,
                    "acct_session_id": f"sess-{s.id}",
                    "username": s.username,
                    "router_id": s.router_id,
                    "nas_address": s.nas_address,
                    "nas_port": s.id,
                    "framed_ip": s.framed_ip,
                    "started_at": first.event_time - dt.timedelta(seconds=first.session_time),
                    "updated_at": last.event_time,
                    "stopped_at": stopped,
                    "session_time": totals[2],
                    "input_octets": totals[0],
                    "output_octets": totals[1],
                    "status": "closed" if stopped else "open",
                    "terminate_cause": "User-Request" if stopped else None,
                }
            )
        return rows

    def update_rows(self) -> list[dict[str, Any]]:
        """Updates in arrival order across sessions (by event time), as the daemon would insert them."""
        rows = [
            {
                "session_id": s.id,
                "acct_unique_id": s.acct_unique_id,
                "event_time": u.event_time,
                "status_type": u.status_type,
                "session_time": u.session_time,
                "input_octets": u.input_octets,
                "output_octets": u.output_octets,
            }
            for s in self.sessions
            for u in s.updates
        ]
        rows.sort(key=lambda r: (r["event_time"], r["session_id"]))
        return rows

    def accounting_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "acct_unique_id": r["acct_unique_id"],
                "acct_session_id": r["acct_session_id"],
                "username": r["username"],
                "router_id": r["router_id"],
                "nas_address": r["nas_address"],
                "framed_ip": r["framed_ip"],
                "started_at": r["started_at"],
                "stopped_at": r["stopped_at"],
                "session_time": r["session_time"],
                "input_octets": r["input_octets"],
                "output_octets": r["output_octets"],
                "terminate_cause": r["terminate_cause"],
            }
            for r in self.session_rows()
            if r["stopped_at"] is not None
        ]

    async def write(self, engine: AsyncEngine, *, chunk: int = 20_000) -> None:
        async with engine.begin() as conn:
            if self.routers:
                await conn.execute(sa.insert(core_table(Router)), self.routers)
            for table, rows in (
                (core_table(RadiusSession), self.session_rows()),
                (core_table(RadiusInterimUpdate), self.update_rows()),
                (core_table(RadiusAccounting), self.accounting_rows()),
            ):
                for i in range(0, len(rows), chunk):
                    if rows[i : i + chunk]:
                        await conn.execute(sa.insert(table), rows[i : i + chunk])


Totals = dict[str, int]


def reference_rollup(sessions: Sequence[Session], period: Period) -> dict[tuple[str, str], Totals]:
    """The per-(username, UTC day) roll-up computed in Python from the updates, for checking the SQL."""
    out: dict[tuple[str, str], Totals] = defaultdict(
        lambda: {"input_octets": 0, "output_octets": 0, "session_time": 0, "sessions": 0}
    )
    for s in sessions:
        prev: Update | None = None
        for i, u in enumerate(s.updates):
            if period.start <= u.event_time < period.end:
                acc = out[(s.username, u.event_time.date().isoformat())]
                acc["input_octets"] += step(prev.input_octets if prev else None, u.input_octets)
                acc["output_octets"] += step(prev.output_octets if prev else None, u.output_octets)
                acc["session_time"] += step(prev.session_time if prev else None, u.session_time)
                acc["sessions"] += i == 0
            prev = u
    return {key: totals for key, totals in out.items() if any(totals.values())}


def by_subscriber(rollup: dict[tuple[str, str], Totals]) -> dict[str, Totals]:
    out: dict[str, Totals] = defaultdict(lambda: dict.fromkeys(rollup_keys(), 0))
    for (username, _day), totals in rollup.items():
        for key, value in totals.items():
            out[username][key] += value
    return dict(out)


def rollup_keys() -> tuple[str, ...]:
    return ("input_octets", "output_octets", "session_time", "sessions")


def random_accounting(seed: int, *, users: int = 12, sessions: int = 80) -> Accounting:
    """Sessions over three days: midnight crossings, counter resets, Stop-only and Interim-only."""
    rng = random.Random(seed)
    acct = Accounting()
    base = at("2024-03-09 20:00")
    for _ in range(sessions):
        start = base + dt.timedelta(minutes=rng.randrange(0, 3 * 24 * 60))
        kind = rng.random()
        seconds = octets_in = octets_out = 0
        updates: list[tuple[str | dt.datetime, str, int, int, int]] = []
        when = start
        if kind < 0.1:  # Stop without Start
            seconds, octets_in, octets_out = 600, rng.randrange(1, 10**6), rng.randrange(1, 10**7)
            updates.append((start + dt.timedelta(seconds=600), "Stop", seconds, octets_in, octets_out))
        else:
            if kind >= 0.2:  # else: Interim without Start
                updates.append((when, "Start", 0, 0, 0))
            for _ in range(rng.randrange(1, 12)):
                gap = rng.randrange(60, 4 * 3600)
                when += dt.timedelta(seconds=gap)
                seconds += gap
                if rng.random() < 0.1:  # NAS counter reset
                    octets_in, octets_out = rng.randrange(0, 1000), rng.randrange(0, 1000)
                else:
                    octets_in += rng.randrange(0, 2**33)  # gigawords territory
                    octets_out += rng.randrange(0, 2**34)
                updates.append((when, "Interim-Update", seconds, octets_in, octets_out))
            if rng.random() < 0.7:
                when += dt.timedelta(seconds=30)
                updates.append((when, "Stop", seconds + 30, octets_in + 5, octets_out + 7))
        acct.session(f"user{rng.randrange(users):02d}", updates)
    return acct


async def collect(rows: Any) -> list[dict[str, Any]]:
    return [row async for row in rows]


# --- a small, hand-checked scenario -----------------------------------------------------------


def midnight_scenario() -> Accounting:
    """alice spans midnight (split by her interims), bob resets his counters, carol stops only."""
    acct = Accounting()
    core = acct.router("core-1", "192.0.2.1")
    acct.session(
        "alice",
        [
            ("2024-05-01 23:00", "Start", 0, 0, 0),
            ("2024-05-01 23:50", "Interim-Update", 3000, 100, 1000),
            ("2024-05-02 00:10", "Interim-Update", 4200, 150, 1500),
            ("2024-05-02 00:30", "Stop", 5400, 180, 1900),
        ],
        router_id=core,
    )
    acct.session(
        "bob",
        [
            ("2024-05-02 10:00", "Start", 0, 0, 0),
            ("2024-05-02 11:00", "Interim-Update", 3600, 5000, 50000),
            ("2024-05-02 12:00", "Interim-Update", 7200, 700, 900),  # NAS reset: new baseline
            ("2024-05-02 13:00", "Interim-Update", 10800, 1700, 1900),
        ],
        nas_address="192.0.2.9",
    )
    acct.session("carol", [("2024-05-03 08:00", "Stop", 60, 11, 22)], router_id=core)
    acct.session(
        "dave",
        [
            ("2024-05-01 22:00", "Start", 0, 0, 0),
            ("2024-05-01 23:00", "Interim-Update", 3600, 10, 20),
            ("2024-05-02 00:00", "Stop", 3600, 10, 20),  # nothing new after midnight: no row that day
        ],
    )
    return acct


async def test_usage_split_at_midnight_by_interims(store_engine: AsyncEngine) -> None:
    await midnight_scenario().write(store_engine)
    day1 = await collect(reports.iter_usage(store_engine, Period.parse("2024-05-01", "2024-05-02")))
    assert day1 == [
        {
            "username": "alice",
            "input_octets": 100,
            "output_octets": 1000,
            "session_time": 3000,
            "sessions": 1,
        },
        {"username": "dave", "input_octets": 10, "output_octets": 20, "session_time": 3600, "sessions": 1},
    ]
    day2 = await collect(reports.iter_usage(store_engine, Period.parse("2024-05-02", "2024-05-03")))
    assert day2 == [
        {"username": "alice", "input_octets": 80, "output_octets": 900, "session_time": 2400, "sessions": 0},
        # 5000 + 700 (reset: the new value, not -4300) + 1000
        {
            "username": "bob",
            "input_octets": 6700,
            "output_octets": 51900,
            "session_time": 10800,
            "sessions": 1,
        },
    ]
    # An edge inside the day: only deltas whose later update is inside [23:55, 00:20).
    edge = await collect(
        reports.iter_usage(
            store_engine, Period.parse("2024-05-01T23:55:00Z", "2024-05-02T00:20"), by="session"
        )
    )
    assert [(r["username"], r["input_octets"], r["output_octets"], r["session_time"]) for r in edge] == [
        ("alice", 50, 500, 1200)
    ]
    assert edge[0]["sessions"] == 0 and edge[0]["nas"] == "core-1"
    assert edge[0]["started"] == "2024-05-01T23:00:00+00:00"
    assert edge[0]["stopped"] == "2024-05-02T00:30:00+00:00"


async def test_usage_by_day_and_session_add_up(store_engine: AsyncEngine) -> None:
    await midnight_scenario().write(store_engine)
    period = Period.parse("2024-05-01", "2024-05-04")
    by_day = await collect(reports.iter_usage(store_engine, period, by="day"))
    assert [(r["day"], r["username"]) for r in by_day] == [
        ("2024-05-01", "alice"),
        ("2024-05-01", "dave"),
        ("2024-05-02", "alice"),
        ("2024-05-02", "bob"),
        ("2024-05-03", "carol"),
    ]
    assert by_day[4] == {
        "day": "2024-05-03", "username": "carol",
        "input_octets": 11, "output_octets": 22, "session_time": 60, "sessions": 1,
    }  # fmt: skip
    totals = await collect(reports.iter_usage(store_engine, period))
    sessions = await collect(reports.iter_usage(store_engine, period, by="session"))
    for rows in (by_day, sessions):
        summed: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(rollup_keys(), 0))
        for r in rows:
            for key in rollup_keys():
                summed[r["username"]][key] += r[key]
        assert [{"username": u, **t} for u, t in sorted(summed.items())] == totals
    assert [r["acct_unique_id"] for r in sessions] == [
        "uid-00000001",
        "uid-00000002",
        "uid-00000003",
        "uid-00000004",
    ]
    assert sessions[0]["address"] == "10.1.0.1"


async def test_usage_of_an_empty_period(store_engine: AsyncEngine) -> None:
    await midnight_scenario().write(store_engine)
    assert await collect(reports.iter_usage(store_engine, Period.parse("2023-01-01", "2023-02-01"))) == []


@pytest.mark.parametrize("seed", [1, 2])
async def test_usage_matches_reference_on_random_traffic(store_engine: AsyncEngine, seed: int) -> None:
    acct = random_accounting(seed)
    await acct.write(store_engine)
    # A period with edges in the middle of days, cutting through sessions.
    period = Period.parse("2024-03-10T07:30:00Z", "2024-03-12T13:15:00Z")
    expected = by_subscriber(reference_rollup(acct.sessions, period))
    got = await collect(reports.iter_usage(store_engine, period))
    assert {r.pop("username"): r for r in got} == expected
    by_day = await collect(reports.iter_usage(store_engine, period, by="day"))
    assert {(r.pop("username"), r.pop("day")): r for r in by_day} == reference_rollup(acct.sessions, period)


# --- rebuild ----------------------------------------------------------------------------------


async def service_usage(engine: AsyncEngine) -> dict[tuple[str, str], Totals]:
    everything = Period.parse("2000-01-01", "2100-01-01")
    return {
        (r.pop("day"), r.pop("username")): r async for r in reports.iter_service_usage(engine, everything)
    }


async def test_rebuild_gives_the_hand_computed_rollup(store_engine: AsyncEngine) -> None:
    await midnight_scenario().write(store_engine)
    result = await reports.rebuild_usage(store_engine, at("2024-05-01 00:00"), at("2024-05-04 00:00"))
    assert (result.days, result.rows, result.deleted) == (3, 5, 0)
    assert await service_usage(store_engine) == {
        ("2024-05-01", "alice"): {
            "input_octets": 100,
            "output_octets": 1000,
            "session_time": 3000,
            "sessions": 1,
        },
        ("2024-05-01", "dave"): {
            "input_octets": 10,
            "output_octets": 20,
            "session_time": 3600,
            "sessions": 1,
        },
        ("2024-05-02", "alice"): {
            "input_octets": 80,
            "output_octets": 900,
            "session_time": 2400,
            "sessions": 0,
        },
        ("2024-05-02", "bob"): {
            "input_octets": 6700,
            "output_octets": 51900,
            "session_time": 10800,
            "sessions": 1,
        },
        ("2024-05-03", "carol"): {"input_octets": 11, "output_octets": 22, "session_time": 60, "sessions": 1},
    }


async def test_rebuild_replaces_only_its_days_and_is_idempotent(store_engine: AsyncEngine) -> None:
    acct = random_accounting(7)
    await acct.write(store_engine)
    outside: dict[str, Any] = {
        "username": "zed",
        "input_octets": 1,
        "output_octets": 2,
        "session_time": 3,
        "sessions": 4,
    }
    async with store_engine.begin() as conn:
        await conn.execute(
            sa.insert(core_table(ServiceUsageTracking)),
            [
                {**outside, "day": dt.date(2024, 3, 1)},  # before the rebuilt days: kept
                {**outside, "day": dt.date(2024, 3, 10)},  # wrong, inside: replaced
                {**outside, "username": "user01", "day": dt.date(2024, 3, 11), "input_octets": 10**15},
            ],
        )
    # Not day-aligned: widened to whole days 2024-03-10 .. 2024-03-12 (exclusive).
    first = await reports.rebuild_usage(store_engine, at("2024-03-10 05:00"), at("2024-03-11 01:00"))
    assert (first.period.start, first.period.end, first.days, first.deleted) == (
        at("2024-03-10 00:00"),
        at("2024-03-12 00:00"),
        2,
        2,
    )
    whole = Period(at("2024-03-10 00:00"), at("2024-03-12 00:00"))
    expected = {(d, u): t for (u, d), t in reference_rollup(acct.sessions, whole).items()}
    expected[("2024-03-01", "zed")] = {k: outside[k] for k in rollup_keys()}
    got = await service_usage(store_engine)
    assert got == expected
    again = await reports.rebuild_usage(store_engine, at("2024-03-10 00:00"), at("2024-03-12 00:00"))
    assert again.rows == again.deleted == first.rows
    assert await service_usage(store_engine) == got


async def test_rebuild_over_every_day_equals_the_reference(store_engine: AsyncEngine) -> None:
    acct = random_accounting(3, sessions=150)
    await acct.write(store_engine)
    await reports.rebuild_usage(store_engine, at("2024-03-01 00:00"), at("2024-04-01 00:00"))
    expected = reference_rollup(acct.sessions, Period.parse("2024-03-01", "2024-04-01"))
    assert await service_usage(store_engine) == {(d, u): t for (u, d), t in expected.items()}


# --- sessions and their time series -----------------------------------------------------------


async def test_session_list_filters(store_engine: AsyncEngine) -> None:
    await midnight_scenario().write(store_engine)
    every = await collect(reports.iter_sessions(store_engine))
    assert [r["username"] for r in every] == ["carol", "bob", "alice", "dave"]  # newest first
    assert tuple(every[0]) == reports.SESSION_FIELDS
    assert every[2]["nas"] == "core-1" and every[1]["nas"] == "192.0.2.9"  # unknown router: address
    assert every[2]["started"] == "2024-05-01T23:00:00+00:00"
    assert every[2]["stopped"] == "2024-05-02T00:30:00+00:00"
    assert every[1]["stopped"] is None
    assert (every[1]["input_octets"], every[1]["output_octets"]) == (6700, 51900)
    assert [r["username"] for r in await collect(reports.iter_sessions(store_engine, online=True))] == ["bob"]
    assert [r["username"] for r in await collect(reports.iter_sessions(store_engine, nas="core-1"))] == [
        "carol",
        "alice",
    ]
    by_address = await collect(reports.iter_sessions(store_engine, nas="192.0.2.9"))
    assert [r["username"] for r in by_address] == ["bob"]
    assert [r["id"] for r in await collect(reports.iter_sessions(store_engine, username="alice"))] == [1]
    assert len(await collect(reports.iter_sessions(store_engine, limit=2))) == 2
    none = reports.iter_sessions(store_engine, online=True, nas="core-1")
    assert await collect(none) == []
    with pytest.raises(NotFound, match="no NAS named 'edge-9'"):
        await collect(reports.iter_sessions(store_engine, nas="edge-9"))


async def test_session_show_and_time_series(store_engine: AsyncEngine) -> None:
    await midnight_scenario().write(store_engine)
    by_id = await reports.get_session(store_engine, "1")
    assert by_id == await reports.get_session(store_engine, "uid-00000001")
    assert by_id["username"] == "alice"
    series = await collect(reports.iter_session_updates(store_engine, 1))
    assert [(u["status_type"], u["event_time"], u["input_octets"]) for u in series] == [
        ("Start", "2024-05-01T23:00:00+00:00", 0),
        ("Interim-Update", "2024-05-01T23:50:00+00:00", 100),
        ("Interim-Update", "2024-05-02T00:10:00+00:00", 150),
        ("Stop", "2024-05-02T00:30:00+00:00", 180),
    ]
    assert tuple(series[0]) == reports.UPDATE_FIELDS
    with pytest.raises(NotFound, match="no session '42'"):
        await reports.get_session(store_engine, 42)


async def test_closed_records_by_stop_time(store_engine: AsyncEngine) -> None:
    await midnight_scenario().write(store_engine)
    rows = await collect(reports.iter_closed_sessions(store_engine, Period.parse("2024-05-02", "2024-05-04")))
    assert [(r["username"], r["stopped"]) for r in rows] == [
        ("dave", "2024-05-02T00:00:00+00:00"),
        ("alice", "2024-05-02T00:30:00+00:00"),
        ("carol", "2024-05-03T08:00:00+00:00"),
    ]
    assert tuple(rows[0]) == reports.ACCOUNTING_FIELDS
    assert (rows[1]["input_octets"], rows[1]["output_octets"], rows[1]["session_time"]) == (180, 1900, 5400)
    only_carol = Period.parse("2024-05-02T00:30:00.000001Z", "2024-05-03T08:00:01Z")
    assert [r["username"] for r in await collect(reports.iter_closed_sessions(store_engine, only_carol))] == [
        "carol"
    ]
