"""Accounting storage at ISP volume: fill PostgreSQL by COPY, then time the questions that must stay fast.

Usage: python3 bench/fill_accounting.py [--subscribers 20000] [--days 3] [--interval 300]
                                        [--database URL] [--keep]
                                        [--output bench/results/accounting_storage.md]

A fresh database (created on 127.0.0.1:5432, dropped afterwards unless ``--keep``; or
``--database URL``) is migrated to head, its day partitions made from the first filled day,
and filled through asyncpg ``copy_records_to_table`` (COPY into the partitioned parents, which
route each row) with what ``radiusd serve`` writes for N subscribers over D days, each with one
session a day (a daily PPPoE reconnect) reporting every ``--interval`` seconds:

* ``radius_sessions`` and ``radius_accounting``: one row per subscriber and day;
* ``radius_interim_updates``: Start, an Interim-Update every interval, Stop (cumulative totals,
  roughly 1.5 GB a day down and 150 MB up per subscriber, with noise);
* ``service_ip_assignments``: one per session, released at its end (the last day's open).

Then, on the filled database (the machine is shared: figures are of one run):

* bytes per interim row: data, indexes, total (``pg_relation_size`` / ``pg_indexes_size`` of
  every partition over an exact row count);
* ``radiusd lease history IP --at TIME`` and ``export usage --from --to`` (30 days from the
  first filled day, ``--by subscriber``, to /dev/null) as processes of their own: wall time
  and peak resident set (``wait4``);
* partition creation (a future day) and drop (a filled day: DETACH + DROP), one maintenance
  round, ``radiusd db stats`` (process wall time);
* the disk a 100,000-subscriber ISP needs at the default retention, from the bytes per row.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import os
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg

from bench.common import postgres_database, publish
from radiusd.store.engine import create_engine, ensure_schema
from radiusd.store.partitions import INTERIMS, create_partition_sql
from radiusd.store.retention import Retention, maintain

UTC = dt.UTC
SESSION_COLS = (
    "id", "acct_unique_id", "acct_session_id", "username", "subscriber_id", "router_id", "nas_address",
    "nas_port", "framed_ip", "calling_station_id", "started_at", "updated_at", "stopped_at",
    "session_time", "input_octets", "output_octets", "input_packets", "output_packets",
    "terminate_cause", "status", "interim_interval", "input_base", "output_base",
)  # fmt: skip
INTERIM_COLS = (
    "session_id", "acct_unique_id", "event_time", "status_type", "session_time",
    "input_octets", "output_octets", "input_packets", "output_packets",
)  # fmt: skip
ACCOUNTING_COLS = (
    "acct_unique_id", "acct_session_id", "username", "router_id", "nas_address", "framed_ip",
    "calling_station_id", "started_at", "stopped_at", "session_time", "input_octets", "output_octets",
    "terminate_cause",
)  # fmt: skip
ASSIGN_COLS = (
    "username", "subscriber_id", "address", "family", "pool_name", "router_id", "session_key",
    "assigned_at", "released_at",
)  # fmt: skip
COPY_ROWS = 500_000  # rows per COPY: bounds the generator's memory


def dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def ip_of(i: int) -> str:
    return f"100.{64 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}"


async def fill(url: str, subscribers: int, days: int, interval: int, first_day: dt.date) -> dict[str, float]:
    """COPY the rows; seconds per table."""
    rnd = random.Random(7)
    conn = await asyncpg.connect(dsn(url))
    timing: dict[str, float] = {}
    try:
        sessions, closed, assigns = [], [], []
        sid = 0
        t0 = time.perf_counter()
        buffer: list[tuple[object, ...]] = []
        interims = 0

        async def flush() -> None:
            nonlocal buffer, interims
            if buffer:
                await conn.copy_records_to_table(
                    "radius_interim_updates", records=buffer, columns=INTERIM_COLS
                )
                interims += len(buffer)
                buffer = []

        per_day = 86_400 // interval
        for d in range(days):
            day_start = dt.datetime.combine(first_day + dt.timedelta(days=d), dt.time(), UTC)
            last_day = d == days - 1
            for i in range(subscribers):
                sid += 1
                uid = hashlib.md5(f"{i}:{d}".encode(), usedforsecurity=False).hexdigest()  # as radiusd's
                user = f"user{i:06d}"
                start = day_start + dt.timedelta(seconds=rnd.randrange(interval))
                down = rnd.randrange(1, 3_000_000_000 // per_day)  # octets per interval
                up = down // 10
                stop = start + dt.timedelta(seconds=(per_day - 1) * interval)
                total_time = (per_day - 1) * interval
                status = "open" if last_day else "closed"
                d_in, d_out = down * (per_day - 1), up * (per_day - 1)
                cause = None if last_day else "User-Request"
                sessions.append((
                    sid, uid, uid, user, i + 1, 1, "192.0.2.1", i, ip_of(i), f"02:00:{i:08x}",
                    start, stop, None if last_day else stop, total_time, d_in, d_out,
                    per_day * 1000, per_day * 900, cause, status, interval, 0, 0,
                ))  # fmt: skip
                if not last_day:
                    closed.append((uid, uid, user, 1, "192.0.2.1", ip_of(i), f"02:00:{i:08x}", start, stop,
                                   total_time, d_in, d_out, "User-Request"))  # fmt: skip
                assigns.append((user, i + 1, ip_of(i), 4, "main", 1, uid, start, None if last_day else stop))
                for k in range(per_day):
                    kind = (
                        "Start"
                        if k == 0
                        else "Stop"
                        if k == per_day - 1 and not last_day
                        else "Interim-Update"
                    )
                    buffer.append((sid, uid, start + dt.timedelta(seconds=k * interval), kind, k * interval,
                                   down * k, up * k, k * 1000, k * 900))  # fmt: skip
                if len(buffer) >= COPY_ROWS:
                    # sessions first: the time series refers to them
                    if sessions:
                        await conn.copy_records_to_table(
                            "radius_sessions", records=sessions, columns=SESSION_COLS
                        )
                        sessions = []
                    await flush()
        if sessions:
            await conn.copy_records_to_table("radius_sessions", records=sessions, columns=SESSION_COLS)
        await flush()
        timing["radius_interim_updates (with sessions)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        await conn.copy_records_to_table("radius_accounting", records=closed, columns=ACCOUNTING_COLS)
        await conn.copy_records_to_table("service_ip_assignments", records=assigns, columns=ASSIGN_COLS)
        await conn.execute("SELECT setval('radius_sessions_id_seq', $1)", sid)
        timing["radius_accounting + service_ip_assignments"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        await conn.execute("ANALYZE")
        timing["ANALYZE"] = time.perf_counter() - t0
        timing["interim rows"] = interims
    finally:
        await conn.close()
    return timing


#: runs the command as its child and reports the child's peak RSS: a child forked by this
#: (large) process would inherit its peak in ru_maxrss, so a small launcher forks instead
_LAUNCHER = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execv(sys.argv[1], sys.argv[1:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "sys.stderr.write(f'maxrss_kib={usage.ru_maxrss}\\n')\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def run_measured(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds and peak RSS (MiB) of a process, and its stdout's first 300 characters."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _LAUNCHER, *cmd], capture_output=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(
            f"{' '.join(cmd)} failed: {proc.stdout.decode()[:300]} {proc.stderr.decode()[-500:]}"
        )
    kib = int(proc.stderr.decode().rsplit("maxrss_kib=", 1)[1].split()[0])
    return wall, kib / 1024, proc.stdout.decode()[:300]


def radiusd(url: str, *args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from radiusd.cli.main import main; main(sys.argv[1:])",
            "--database", url, *args]  # fmt: skip


async def sizes(url: str) -> dict[str, tuple[int, int, int]]:
    """table -> (exact rows, data bytes, index bytes) over its partitions."""
    conn = await asyncpg.connect(dsn(url))
    out = {}
    try:
        for table in (
            "radius_interim_updates",
            "radius_accounting",
            "service_ip_assignments",
            "radius_sessions",
        ):
            rows = await conn.fetchval(f"SELECT count(*) FROM {table}")
            data, index = await conn.fetchrow(
                "SELECT coalesce(sum(pg_table_size(c.oid)), 0), "
                "coalesce(sum(pg_indexes_size(c.oid)), 0) FROM pg_class c WHERE c.oid = $1::regclass "
                "OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = $1::regclass)",
                table,
            )
            out[table] = (int(rows), int(data), int(index))
    finally:
        await conn.close()
    return out


async def inprocess(url: str, first_day: dt.date, probe: int) -> list[tuple[str, float, float]]:
    """The same questions as library calls (no process start-up, no schema check): seconds."""
    from radiusd.store.db_stats import storage_stats
    from radiusd.store.pools import lease_history
    from radiusd.store.reports import Period, iter_usage

    engine = create_engine(url)
    out: list[tuple[str, float, float]] = []
    try:
        when = dt.datetime.combine(first_day, dt.time(13), UTC)
        t0 = time.perf_counter()
        entries = await lease_history(engine, ip_of(probe), at=when)
        out.append((f"lease_history(at=...): {len(entries)} entries", time.perf_counter() - t0, 0))
        start = dt.datetime.combine(first_day, dt.time(), UTC)
        t0 = time.perf_counter()
        n = 0
        async for _ in iter_usage(engine, Period(start, start + dt.timedelta(days=30))):
            n += 1
        out.append((f"iter_usage(30 days): {n:,} rows", time.perf_counter() - t0, 0))
        t0 = time.perf_counter()
        await storage_stats(engine, Retention())
        out.append(("storage_stats()", time.perf_counter() - t0, 0))
    finally:
        await engine.dispose()
    return out


async def partition_times(url: str, first_day: dt.date) -> dict[str, float]:
    engine = create_engine(url)
    out: dict[str, float] = {}
    try:
        future = dt.date.today() + dt.timedelta(days=30)
        async with engine.begin() as conn:
            import sqlalchemy as sa

            t0 = time.perf_counter()
            for sql in create_partition_sql(INTERIMS, future):
                await conn.execute(sa.text(sql))
        out["create a day partition (empty default)"] = time.perf_counter() - t0
        name = INTERIMS.partition_name(first_day)
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.text(f"SELECT reltuples::bigint FROM pg_class WHERE relname = '{name}'")
                )
            ).scalar()
        async with engine.begin() as conn:
            t0 = time.perf_counter()
            await conn.execute(sa.text(f"ALTER TABLE radius_interim_updates DETACH PARTITION {name}"))
            await conn.execute(sa.text(f"DROP TABLE {name}"))
        out[f"drop a filled day partition (~{rows:,} rows)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = await maintain(engine, Retention(), dt.datetime.now(UTC))
        out[f"maintenance round ({len(report.created)} created, {len(report.dropped)} dropped)"] = (
            time.perf_counter() - t0
        )
    finally:
        await engine.dispose()
    return out


def gib(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB"


def report(args: argparse.Namespace, fill_t: dict[str, float], size: dict[str, tuple[int, int, int]],
           queries: list[tuple[str, float, float]], parts: dict[str, float]) -> str:  # fmt: skip
    rows, data, index = size["radius_interim_updates"]
    per_row = (data + index) / rows
    lines = [
        f"Machine: {os.cpu_count()} cores shared with other jobs, PostgreSQL 127.0.0.1 "
        "(local disk); one run.",
        f"Filled: {args.subscribers:,} subscribers x {args.days} days at {args.interval}-second interims "
        f"= {rows:,} interim rows (COPY into the partitioned parents).",
        "",
        "## Fill",
        "",
        "| step | seconds | rows/s |",
        "|---|---:|---:|",
    ]
    interim_rows = fill_t.pop("interim rows")
    for k, v in fill_t.items():
        rate = f"{interim_rows / v:,.0f}" if k.startswith("radius_interim") else ""
        lines.append(f"| {k} | {v:,.1f} | {rate} |")
    lines += [
        "",
        "## Bytes per row",
        "",
        "| table | rows | data | indexes | bytes/row |",
        "|---|---:|---:|---:|---:|",
    ]
    for t, (r, d, i) in size.items():
        lines.append(f"| {t} | {r:,} | {gib(d)} | {gib(i)} | {(d + i) / max(r, 1):,.0f} |")
    lines += ["", "## Questions", "", "| question | wall s | peak RSS MiB |", "|---|---:|---:|"]
    for name, wall, rss in queries:
        lines.append(f"| {name} | {wall:,.2f} | {f'{rss:,.0f}' if rss else ''} |")
    lines += ["", "## Partition maintenance", "", "| operation | seconds |", "|---|---:|"]
    for k, v in parts.items():
        lines.append(f"| {k} | {v:,.3f} |")
    # sizing: 100,000 subscribers at the default retention
    subs = 100_000
    per_day_rows = subs * 86_400 // args.interval
    interim_days = 35 + 1  # a partition goes once its whole day is past retention
    acc_rows, acc_d, acc_i = size["radius_accounting"]
    acc_row = (acc_d + acc_i) / max(acc_rows, 1)
    as_rows, as_d, as_i = size["service_ip_assignments"]
    as_row = (as_d + as_i) / max(as_rows, 1)
    ses_rows, ses_d, ses_i = size["radius_sessions"]
    ses_row = (ses_d + ses_i) / max(ses_rows, 1)
    months = 400 + 31
    interim_total = per_day_rows * interim_days * per_row
    acc_total = subs * months * acc_row
    as_total = subs * months * as_row
    ses_total = subs * 400 * ses_row
    lines += [
        "",
        "## Disk for 100,000 subscribers at the default retention",
        "",
        f"One session a day per subscriber, {args.interval}-second interims "
        f"({per_day_rows:,} interim rows a day); "
        "bytes per row as measured above; retention plus one partition width (a partition goes once all of "
        "it is older than its retention).",
        "",
        "| table | retention | rows kept | disk |",
        "|---|---|---:|---:|",
        f"| radius_interim_updates | 35 days (+1) | {per_day_rows * interim_days:,} | {gib(interim_total)} |",
        f"| radius_accounting | 400 days (+1 month) | {subs * months:,} | {gib(acc_total)} |",
        f"| service_ip_assignments | 400 days (+1 month) | {subs * months:,} | {gib(as_total)} |",
        f"| radius_sessions (closed rows) | 400 days | {subs * 400:,} | {gib(ses_total)} |",
        f"| total | | | {gib(interim_total + acc_total + as_total + ses_total)} |",
        "",
        "Write-ahead log, free space left by updates of open sessions and backups come on top.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subscribers", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--interval", type=int, default=300)
    ap.add_argument("--database", default="")
    ap.add_argument("--keep", action="store_true", help="keep the database created")
    ap.add_argument("--output", type=Path, default=Path("bench/results/accounting_storage.md"))
    args = ap.parse_args()
    if args.database:
        run(args, args.database)
        return
    if args.keep:
        name = f"radiusd_bench_fill_{os.getpid()}"
        admin = "postgresql://postgres@127.0.0.1:5432/postgres"
        subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True)
        run(args, f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}")
        print(f"kept {name}")
        return
    with postgres_database() as url:
        run(args, url)


def run(args: argparse.Namespace, url: str) -> None:
    today = dt.datetime.now(UTC).date()
    first_day = today - dt.timedelta(days=args.days - 1)

    async def prepare() -> None:
        engine = create_engine(url)
        try:
            await ensure_schema(engine)
            # the filled days are in the past: a round "on" the first day makes its partitions
            await maintain(engine, Retention(), dt.datetime.combine(first_day, dt.time(12), UTC))
            await maintain(engine, Retention(), dt.datetime.now(UTC))
        finally:
            await engine.dispose()

    asyncio.run(prepare())
    print(f"filling {args.subscribers} x {args.days} days ...", flush=True)
    fill_t = asyncio.run(fill(url, args.subscribers, args.days, args.interval, first_day))
    print(fill_t, flush=True)
    size = asyncio.run(sizes(url))
    print(size, flush=True)
    queries = []
    when = dt.datetime.combine(first_day, dt.time(13), UTC).isoformat()
    probe = min(4242, args.subscribers - 1)
    wall, rss, _ = run_measured(radiusd(url, "lease", "history", ip_of(probe), "--at", when))
    queries.append((f"lease history {ip_of(probe)} --at {when}", wall, rss))
    start = first_day.isoformat()
    end = (first_day + dt.timedelta(days=30)).isoformat()
    out = "/dev/null"
    wall, rss, _ = run_measured(
        radiusd(url, "export", "usage", "--from", start, "--to", end, "--output", out)
    )
    queries.append((f"export usage --from {start} --to {end} (30 days, by subscriber)", wall, rss))
    wall, rss, _ = run_measured(radiusd(url, "session", "list", "--online", "--limit", "100"))
    queries.append(("session list --online --limit 100", wall, rss))
    wall, rss, _ = run_measured(radiusd(url, "db", "stats", "--json"))
    queries.append(("db stats --json", wall, rss))
    wall, rss, _ = run_measured(radiusd(url, "--version"))
    queries.append(("(radiusd --version: process start-up alone)", wall, rss))
    queries += [
        (f"in process: {name}", wall, rss)
        for name, wall, rss in asyncio.run(inprocess(url, first_day, probe))
    ]
    print(queries, flush=True)
    parts = asyncio.run(partition_times(url, first_day))
    text = report(args, fill_t, size, queries, parts)
    publish(args.output, "Accounting storage at ISP volume (bench/fill_accounting.py)", text)


if __name__ == "__main__":
    main()
