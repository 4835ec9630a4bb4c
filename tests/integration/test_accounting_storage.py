"""Accounting storage stays bounded: partitions (PostgreSQL), retention, hourly sums, db stats.

Real PostgreSQL and SQLite; the maintenance runs with an injected clock (``now``), years after
the session template's partitions, so the dates do not depend on the day the suite runs.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.cli.main import cli
from radiusd.store import retention as retention_mod
from radiusd.store.db_stats import storage_stats
from radiusd.store.engine import create_engine, ensure_schema
from radiusd.store.partitions import ACCOUNTING, INTERIMS, TABLES
from radiusd.store.pools import history_queries, lease_history
from radiusd.store.reports import Period, iter_closed_sessions, iter_usage
from radiusd.store.retention import Retention, list_partitions, maintain

UTC = dt.UTC


def _table(model: Any) -> sa.Table:
    table = model.__table__
    assert isinstance(table, sa.Table)
    return table


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


async def _session(
    conn: Any, uid: str, started: dt.datetime, *, status: str = "closed", ip: str = "100.64.0.1"
) -> int:
    row = {
        "acct_unique_id": uid, "acct_session_id": uid, "username": f"user-{uid}", "nas_address": "192.0.2.1",
        "framed_ip": ip, "started_at": started, "updated_at": started, "status": status,
        "stopped_at": None if status == "open" else started + dt.timedelta(hours=1),
    }  # fmt: skip
    from radiusd.store.models import RadiusSession

    result = await conn.execute(sa.insert(_table(RadiusSession)).values(row).returning(RadiusSession.id))
    return int(result.scalar_one())


async def _interims(conn: Any, sid: int, uid: str, start: dt.datetime, n: int, step: int = 300) -> None:
    from radiusd.store.models import RadiusInterimUpdate

    rows = [
        {"session_id": sid, "acct_unique_id": uid, "event_time": start + dt.timedelta(seconds=i * step),
         "status_type": "Interim-Update", "session_time": i * step, "input_octets": 1000 * i,
         "output_octets": 5000 * i, "input_packets": i, "output_packets": i}
        for i in range(1, n + 1)
    ]  # fmt: skip
    await conn.execute(sa.insert(_table(RadiusInterimUpdate)), rows)


async def _count(engine: AsyncEngine, table: str, where: str = "TRUE") -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE {where}"))).scalar() or 0)


def _pg_only(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL partitions")


# -- partitions with an injected clock ---------------------------------------------------------


async def test_partitions_follow_the_clock_across_a_month_boundary(store_engine: AsyncEngine) -> None:
    _pg_only(store_engine)
    policy = Retention(interim=3, session=40, assignment_history=40, events=40)
    first = await maintain(store_engine, policy, at(2031, 1, 30, 12))
    assert not first.skipped and not first.failed
    async with store_engine.connect() as conn:
        days = await list_partitions(conn, INTERIMS)
        months = await list_partitions(conn, ACCOUNTING)
    # today and a week ahead, into February; the template's 2026 partitions expired long ago
    assert {dt.date(2031, 1, 30) + dt.timedelta(days=i) for i in range(8)} <= set(days)
    # back to the oldest day still within three days: no gap between what was there and now
    assert min(days) == dt.date(2031, 1, 27)
    assert not any(d.year == 2026 for d in days)
    # December ends within 40 days; March is the second month ahead
    assert set(months) == {
        dt.date(2030, 12, 1),
        dt.date(2031, 1, 1),
        dt.date(2031, 2, 1),
        dt.date(2031, 3, 1),
    }

    async with store_engine.begin() as conn:
        sid = await _session(conn, "boundary", at(2031, 1, 31, 23))
        await _interims(conn, sid, "boundary", at(2031, 1, 31, 23), 24)  # 23:05 .. 01:00 next month
    async with store_engine.connect() as conn:
        feb = (await conn.execute(sa.text("SELECT count(*) FROM radius_interim_updates_p20310201"))).scalar()
        jan = (await conn.execute(sa.text("SELECT count(*) FROM radius_interim_updates_p20310131"))).scalar()
    assert (jan, feb) == (11, 13)  # 23:05 .. 23:55 on the 31st, 00:00 .. 01:00 on the 1st

    # four days later: the days older than three days are dropped, whole
    second = await maintain(store_engine, policy, at(2031, 2, 4, 0, 30))
    assert "radius_interim_updates_p20310131" in second.dropped
    assert "radius_interim_updates_p20310201" not in second.dropped
    assert await _count(store_engine, "radius_interim_updates") == 13
    # the months: January is within 40 days, and April is now made ahead
    assert "radius_accounting_p203104" in second.created


async def test_a_missed_day_is_created_and_its_rows_leave_the_default(store_engine: AsyncEngine) -> None:
    """The daemon was down for longer than the days made ahead: the rows written meanwhile
    went to the default partition; the next round creates the days and moves them in."""
    _pg_only(store_engine)
    policy = Retention()
    await maintain(store_engine, policy, at(2031, 5, 1))
    async with store_engine.begin() as conn:
        sid = await _session(conn, "away", at(2031, 5, 10), status="open")
        await _interims(conn, sid, "away", at(2031, 5, 10), 12)  # nine days past the last partition
    assert await _count(store_engine, "radius_interim_updates_default") == 12
    report = await maintain(store_engine, policy, at(2031, 5, 10, 2))
    assert "radius_interim_updates_p20310510" in report.created
    # every day from the first to ten days on exists: none missing in between
    async with store_engine.connect() as conn:
        days = set(await list_partitions(conn, INTERIMS))
    assert {dt.date(2031, 5, 1) + dt.timedelta(days=i) for i in range(17)} <= days
    assert await _count(store_engine, "radius_interim_updates_default") == 0
    assert await _count(store_engine, "radius_interim_updates_p20310510") == 12
    # the retransmit key holds in the new partition
    async with store_engine.begin() as conn:
        again = await conn.execute(
            sa.text(
                "INSERT INTO radius_interim_updates (session_id, acct_unique_id, event_time, status_type, "
                "session_time, input_octets, output_octets, input_packets, output_packets) "
                "SELECT session_id, acct_unique_id, event_time + interval '1 second', status_type, "
                "session_time, input_octets, output_octets, input_packets, output_packets "
                "FROM radius_interim_updates ON CONFLICT DO NOTHING"
            )
        )
    assert again.rowcount == 0


async def test_only_one_node_maintains_at_a_time(store_engine: AsyncEngine) -> None:
    _pg_only(store_engine)
    async with store_engine.connect() as holder:
        await holder.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": retention_mod.ADVISORY_KEY})
        other = create_engine(str(store_engine.url.render_as_string(hide_password=False)))
        try:
            report = await maintain(other, Retention(), at(2031, 7, 1))
        finally:
            await other.dispose()
        assert report.skipped and not report.created
        await holder.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": retention_mod.ADVISORY_KEY})
        await holder.commit()


# -- SQLite: batched deletes -------------------------------------------------------------------


async def test_sqlite_retention_deletes_in_batches(
    store_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    if store_engine.dialect.name != "sqlite":
        pytest.skip("SQLite retention")
    monkeypatch.setattr(retention_mod, "BATCH", 100)
    statements: list[str] = []
    sa.event.listen(store_engine.sync_engine, "before_cursor_execute",
                    lambda *a: statements.append(a[2]))  # fmt: skip
    async with store_engine.begin() as conn:
        sid = await _session(conn, "old", at(2031, 1, 1))
        await _interims(conn, sid, "old", at(2031, 1, 1), 250)  # under a day
        sid2 = await _session(conn, "new", at(2031, 3, 1))
        await _interims(conn, sid2, "new", at(2031, 3, 1), 10)
    report = await maintain(store_engine, Retention(interim=35), at(2031, 3, 2))
    assert report.deleted["radius_interim_updates"] == 250
    assert await _count(store_engine, "radius_interim_updates") == 10
    deletes = [s for s in statements if s.startswith("DELETE FROM radius_interim_updates")]
    assert len(deletes) == 3  # 100 + 100 + 50: one small transaction each


# -- downsampling --------------------------------------------------------------------------------


async def test_interim_detail_rolled_into_hourly_sums(store_engine: AsyncEngine) -> None:
    policy = Retention(interim=10, interim_downsample_after=2)
    if store_engine.dialect.name == "postgresql":
        await maintain(store_engine, policy, at(2031, 8, 1))
    async with store_engine.begin() as conn:
        sid = await _session(conn, "graph", at(2031, 8, 1, 22))
        await _interims(conn, sid, "graph", at(2031, 8, 1, 22), 36)  # 22:05 .. 01:00 on the 2nd
    report = await maintain(store_engine, policy, at(2031, 8, 5, 3))
    assert dt.date(2031, 8, 1) in report.rolled_up and dt.date(2031, 8, 2) in report.rolled_up
    async with store_engine.connect() as conn:
        rows = (await conn.execute(sa.text(
            "SELECT hour, input_octets, output_octets, session_time, samples FROM radius_interim_hourly "
            "ORDER BY hour"))).all()  # fmt: skip
    sums = [(r[1], r[2], r[3], r[4]) for r in rows]
    # 22:05..22:55 (11 updates from zero), 23:00..23:55 (12), 00:00..00:55 (12), 01:00 (1)
    assert sums == [(11000, 55000, 3300, 11), (12000, 60000, 3600, 12), (12000, 60000, 3600, 12),
                    (1000, 5000, 300, 1)]  # fmt: skip
    assert sum(s[0] for s in sums) == 36 * 1000  # the last cumulative total: nothing lost
    again = await maintain(store_engine, policy, at(2031, 8, 5, 4))
    assert not again.rolled_up  # each day once


# -- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("interim_retention = 0", "interim_retention"),
        ("session_retention = -5", "session_retention"),
        ('events_retention = "forever"', "events_retention"),
        ("interim_downsample_after = 40", "interim_downsample_after"),
    ],
)
def test_invalid_retention_refused_with_one_line(
    tmp_path: Any, sqlite_url: str, line: str, needle: str
) -> None:
    config = tmp_path / "radiusd.toml"
    config.write_text(f"[radiusd]\n{line}\n")
    result = CliRunner().invoke(cli, ["--config", str(config), "--database", sqlite_url, "db", "stats"])
    assert result.exit_code != 0
    message = result.output.strip()
    assert needle in message and len(message.splitlines()) == 1 and "Traceback" not in message


# -- db stats ------------------------------------------------------------------------------------


async def test_db_stats_reports_rows_bytes_and_retention(store_engine: AsyncEngine) -> None:
    if store_engine.dialect.name == "postgresql":
        await maintain(store_engine, Retention(), at(2031, 9, 1))
    async with store_engine.begin() as conn:
        sid = await _session(conn, "stats", at(2031, 9, 1))
        await _interims(conn, sid, "stats", at(2031, 9, 1), 288 * 2)  # two days
        if store_engine.dialect.name == "postgresql":
            await conn.execute(sa.text("ANALYZE radius_interim_updates"))
    tables = {t.table: t for t in await storage_stats(store_engine, Retention(interim=35))}
    interims = tables["radius_interim_updates"]
    assert interims.rows == 576
    assert interims.oldest == at(2031, 9, 1, 0, 5) and interims.newest == at(2031, 9, 3)
    assert interims.retention_days == 35
    assert interims.bytes and interims.bytes > 0
    span = (at(2031, 9, 3) - at(2031, 9, 1, 0, 5)).total_seconds() / 86_400
    assert interims.expected_rows == round(576 / span * 35)  # the rate stored rows arrived at
    if store_engine.dialect.name == "postgresql":
        by_name = {p.name: p.rows for p in interims.partitions}
        assert by_name["radius_interim_updates_p20310901"] == 287
        assert by_name["radius_interim_updates_p20310902"] == 288


def test_db_stats_cli_json(sqlite_url: str) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["--database", sqlite_url, "db", "upgrade"]).exit_code == 0
    result = runner.invoke(cli, ["--database", sqlite_url, "db", "stats", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    names = [t["table"] for t in data]
    assert {t.name for t in TABLES} <= set(names)
    interims = next(t for t in data if t["table"] == "radius_interim_updates")
    assert interims["retention_days"] == 35 and interims["rows"] == 0
    text = runner.invoke(cli, ["--database", sqlite_url, "db", "stats"])
    assert "radius_interim_updates" in text.output and "35 days" in text.output


# -- query plans ---------------------------------------------------------------------------------


async def _plan(engine: AsyncEngine, stmt: Any, *, seqscan: bool = True) -> str:
    async with engine.connect() as conn:
        if not seqscan:
            await conn.execute(sa.text("SET enable_seqscan = off"))
        compiled = stmt.compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
        rows = (await conn.execute(sa.text(f"EXPLAIN {compiled}"))).all()
        await conn.rollback()
    return "\n".join(r[0] for r in rows)


async def test_history_at_a_time_prunes_partitions_and_uses_an_index(store_engine: AsyncEngine) -> None:
    _pg_only(store_engine)
    await maintain(store_engine, Retention(), at(2031, 10, 15))
    q1, _ = history_queries("100.64.0.9", at(2031, 11, 20))
    plan = await _plan(store_engine, q1, seqscan=False)
    # released before the time asked: left out; the open rows (default) and later months read
    assert "service_ip_assignments_p203110 " not in plan + " "
    assert "service_ip_assignments_default" in plan and "service_ip_assignments_p203111" in plan
    assert "Seq Scan" not in plan  # every partition read has a usable index


async def test_online_sessions_and_export_do_not_scan_history(store_engine: AsyncEngine) -> None:
    _pg_only(store_engine)
    from radiusd.store.models import RadiusSession
    from radiusd.store.reports import usage_query
    from radiusd.store.session_view import session_select

    await maintain(store_engine, Retention(), at(2031, 10, 15))
    s = RadiusSession.__table__
    online = session_select().where(s.c.status == "open").order_by(s.c.id.desc()).limit(100)
    plan = await _plan(store_engine, online)
    for table in TABLES:
        assert table.name not in plan
    plan = await _plan(store_engine, usage_query(store_engine, Period(at(2031, 10, 16), at(2031, 10, 17))))
    assert "radius_interim_updates_p20311016" in plan
    assert "radius_interim_updates_p20311020" not in plan  # after the period: pruned
    assert "radius_interim_updates_p20311014" in plan  # before it: an update's predecessor may be there


# -- the conversion ------------------------------------------------------------------------------


async def _fill_0015(engine: AsyncEngine, today: dt.datetime) -> None:
    """Rows as the 0015 schema holds them: sessions over 50 days, a retransmit-keyed series,
    closed records, events, an open and a released assignment."""
    async with engine.begin() as conn:
        for n in range(6):
            start = today - dt.timedelta(days=50 - n * 10)
            sid = await _session(conn, f"s{n}", start, ip=f"100.64.0.{n + 1}")
            await _interims(conn, sid, f"s{n}", start, 20, step=600)
            await conn.execute(sa.text(
                "INSERT INTO radius_accounting (acct_unique_id, acct_session_id, username, nas_address, "
                "framed_ip, started_at, stopped_at, session_time, input_octets, output_octets) VALUES "
                "(:u, :u, :name, '192.0.2.1', :ip, :a, :b, 12000, 20000, 100000)"),
                {"u": f"s{n}", "name": f"user-s{n}", "ip": f"100.64.0.{n + 1}", "a": start,
                 "b": start + dt.timedelta(hours=3)})  # fmt: skip
            await conn.execute(sa.text(
                "INSERT INTO radius_accounting_events (digest, event_time, nas_address, status_type, "
                "status_name, attributes) VALUES (:d, :t, '192.0.2.1', 15, 'Failed', '')"),
                {"d": f"{n:032d}", "t": start})  # fmt: skip
            await conn.execute(sa.text(
                "INSERT INTO service_ip_assignments (username, address, family, assigned_at, released_at) "
                "VALUES (:name, '100.64.0.9', 4, :a, :b)"),
                {"name": f"user-s{n}", "a": start,
                 "b": None if n == 5 else start + dt.timedelta(days=10)})  # fmt: skip


async def _answers(engine: AsyncEngine, today: dt.datetime) -> dict[str, Any]:
    period = Period(today - dt.timedelta(days=60), today + dt.timedelta(days=1))
    out: dict[str, Any] = {}
    for by in ("subscriber", "day", "session"):
        out[by] = [row async for row in iter_usage(engine, period, by=by)]
    out["closed"] = [row async for row in iter_closed_sessions(engine, period)]
    for days in (45, 25, 1):
        entries = await lease_history(engine, "100.64.0.9", at=today - dt.timedelta(days=days))
        out[f"history-{days}"] = [(e.username, e.started, e.ended) for e in entries]
    out["all-history"] = [(e.username, e.started) for e in await lease_history(engine, "100.64.0.9")]
    async with engine.connect() as conn:
        for table in [t.name for t in TABLES]:
            rows = (await conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY id"))).all()
            out[table] = [tuple(r) for r in rows]
    return out


async def test_migration_0016_converts_a_filled_database(db_url: str) -> None:
    engine = create_engine(db_url)
    today = dt.datetime.now(UTC).replace(microsecond=0)
    try:
        await ensure_schema(engine, "0015")
        await _fill_0015(engine, today)
        before = await _answers(engine, today)
        await ensure_schema(engine)
        after = await _answers(engine, today)
        assert after == before
        assert len(before["radius_interim_updates"]) == 120 and len(before["history-25"]) == 1
        if engine.dialect.name != "postgresql":
            return
        async with engine.connect() as conn:
            kinds: dict[str, str] = dict((await conn.execute(sa.text(
                "SELECT relname, relkind::text FROM pg_class WHERE relname = ANY(:n)"),
                {"n": [t.name for t in TABLES]})).all())  # fmt: skip
            assert set(kinds.values()) == {"p"}
            # nothing of the old data is in a default partition, except the open assignment
            for table in TABLES:
                n = (await conn.execute(sa.text(f"SELECT count(*) FROM {table.default_name}"))).scalar()
                assert n == (1 if table.name == "service_ip_assignments" else 0), table.name
            days = await list_partitions(conn, INTERIMS)
        assert min(days) == (today - dt.timedelta(days=50)).date()
        # ahead of the newest row's day, which is tomorrow when the test runs after 20:40 UTC
        # (the last session's 20 interims run 3 h 20 min past now)
        newest = (today + dt.timedelta(seconds=20 * 600)).date()
        assert max(days) == newest + dt.timedelta(days=INTERIMS.ahead)
        # new ids continue the old sequence
        async with engine.begin() as conn:
            sid = await _session(conn, "after", today)
            await _interims(conn, sid, "after", today, 1)
            new_id = (await conn.execute(sa.text("SELECT max(id) FROM radius_interim_updates"))).scalar()
        assert new_id == 121
        # and the way back
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade_to_0015)
        assert await _count(engine, "radius_interim_updates") == 121
    finally:
        await engine.dispose()


def _downgrade_to_0015(sync_conn: sa.Connection) -> None:
    from alembic import command

    from radiusd.store.engine import alembic_config

    cfg = alembic_config()
    cfg.attributes["connection"] = sync_conn
    command.downgrade(cfg, "0015")


# -- the daemon's round and /metrics ------------------------------------------------------------


async def test_daemon_round_feeds_metrics(db_url: str, migrated_db: None, tmp_path: Any) -> None:
    import httpx

    from radiusd.api.app import create_app
    from radiusd.config import load_settings
    from radiusd.daemon import Daemon
    from radiusd.store.api_tokens import create_token

    d = Daemon(load_settings(database_url=db_url, data_dir=tmp_path, interim_retention=20))
    try:
        await ensure_schema(d.engine)
        async with d.engine.begin() as conn:
            sid = await _session(conn, "metrics", dt.datetime.now(UTC) - dt.timedelta(hours=2))
            await _interims(conn, sid, "metrics", dt.datetime.now(UTC) - dt.timedelta(hours=2), 5)
            if d.engine.dialect.name == "postgresql":
                await conn.execute(sa.text("ANALYZE radius_interim_updates"))
        report = await d.maintain_storage()
        assert not report.failed and not report.skipped
        _, token = await create_token(d.engine, "grafana", read_only=True)
        app = create_app(d)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as c:
            text = (await c.get("/metrics", headers={"Authorization": f"Bearer {token}"})).text
    finally:
        await d.engine.dispose()
    assert 'radiusd_db_table_rows{table="radius_interim_updates"} 5.0' in text
    assert 'radiusd_db_table_retention_days{table="radius_interim_updates"} 20.0' in text
    assert 'radiusd_db_table_bytes{table="radius_accounting"}' in text
    if d.engine.dialect.name == "postgresql":
        today = dt.datetime.now(UTC).strftime("%Y%m%d")
        assert f'partition="radius_interim_updates_p{today}"' in text


async def test_history_api_answers_as_the_cli(db_url: str, migrated_db: None, tmp_path: Any) -> None:
    import httpx

    from radiusd.api.app import create_app
    from radiusd.config import load_settings
    from radiusd.daemon import Daemon
    from radiusd.store.api_tokens import create_token

    today = dt.datetime.now(UTC).replace(microsecond=0)
    d = Daemon(load_settings(database_url=db_url, data_dir=tmp_path))
    try:
        await ensure_schema(d.engine)
        await _fill_0015(d.engine, today)  # the rows read the same at head
        _, token = await create_token(d.engine, "viewer", read_only=True)
        headers = {"Authorization": f"Bearer {token}"}
        app = create_app(d)
        when = today - dt.timedelta(days=25)
        expected = await lease_history(d.engine, "100.64.0.9", at=when)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as c:
            r = await c.get("/ipam/history/100.64.0.9", params={"at": when.isoformat()}, headers=headers)
            everything = await c.get("/ipam/history/100.64.0.9", headers=headers)
            naive = await c.get(
                "/ipam/history/100.64.0.9", params={"at": "2026-01-01T00:00:00"}, headers=headers
            )
            bad = await c.get("/ipam/history/not-an-address", headers=headers)
    finally:
        await d.engine.dispose()
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(e["username"], e["source"]) for e in body] == [(e.username, e.source) for e in expected]
    assert [e["username"] for e in body if e["source"] == "assignment"] == ["user-s2"]
    assert len(everything.json()) > len(body)
    assert naive.status_code == 422 and "time zone" in naive.text
    assert bad.status_code == 422 and "malformed" in bad.text
