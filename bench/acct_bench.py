"""Accounting (RFC 2866) against the daemon as users run it, driven by FreeRADIUS radclient.

Usage: python3 bench/acct_bench.py [--sessions 10000] [--parallel 128] [--repeat 1]
                                   [--sqlite] [--no-postgres] [--freeradius]
                                   [--pg-setting NAME=VALUE] [--output bench/results/acct.md]

Per backend and repetition: a fresh database (PostgreSQL: created on 127.0.0.1:5432 and
dropped afterwards) with a plan, a NAS at 127.0.0.1 and one subscriber per session, added
with the ``radiusd`` CLI; then ``radiusd --database URL serve --bind 127.0.0.1 --auth-port 0
--acct-port 0`` (ports from RADIUSD_READY_FILE, RADIUSD_LOG_LEVEL=warning) and three
``radclient -q -p 128 -s -f FILE`` runs of one 10k-request file each: every session's Start,
then its Interim-Update, then its Stop (Acct-Session-Id, User-Name, NAS-Port,
Framed-IP-Address, counters with Gigawords on some sessions, Acct-Delay-Time 0). Every
request must be answered; an Accounting-Response is sent only after its commit.

Reported per phase and overall: requests/s, the daemon's CPU per request (/proc/PID/stat
utime+stime delta; the schedstat figure beside it), PostgreSQL's CPU per request (sum of the
CPU-time deltas of every process named ``postgres``, via psutil; the share of this
database's own backends beside it, since other clients of the same server add noise) and
the split, radclient's CPU, the writer's mean batch size, and PostgreSQL's WAL bytes per
request (``pg_current_wal_lsn()`` before and after each phase: server-wide, so other
databases' writes count too). ``--pg-setting NAME=VALUE`` applies ALTER DATABASE ... SET to
both servers' databases (e.g. ``wal_compression=lz4``). With ``--freeradius``, each phase's
same-run ratio of FreeRADIUS's CPU to radiusd's is listed. The batch size is read from
the database: every group commit is one transaction, so the number of distinct ``xmin`` of a
phase's time-series rows (inserted once, never updated) is the phase's Writer.batches
(PostgreSQL only). Afterwards the database is checked: N sessions (all closed), N closed
records, N rows of each status type in the time series, and ``service_usage`` totals equal
to the octets and session time sent. Target (the accounting performance goal): >= 10,000
requests/s and <= 80 µs of daemon + PostgreSQL CPU per request.

``--freeradius`` also sends the same three files, in each repetition, to stock FreeRADIUS 3.2
(Debian ``freeradius`` and ``freeradius-postgresql``) with rlm_sql on a fresh PostgreSQL
database (created on 127.0.0.1:5432, loaded with FreeRADIUS's own
mods-config/sql/main/postgresql/schema.sql, dropped afterwards): ``freeradius -f -d DIR`` on a
copy of /etc/freeradius/3.0 in the temporary folder, with only paths, run-as user, listeners
(127.0.0.1, ports from the OS), the localhost client's secret and the sql module's
dialect/driver/server/login/database changed (stock queries, pool, thread pool and default
site). Measured the same way (the freeradius process's /proc/PID/stat, PostgreSQL via psutil);
radacct is checked for N rows, all closed, with the octets (Gigawords included) and session
time sent. Its rows join the table as "FreeRADIUS rlm_sql", followed by the same-run ratio of
radiusd + PostgreSQL to FreeRADIUS + PostgreSQL CPU per request. Nothing outside the
temporary folder and the run's database is touched; the system's freeradius service is not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    FR_DRIVER,
    FR_SCHEMA,
    PG_ADMIN_URL,
    RadclientRun,
    calling_station_id,
    daemon,
    free_udp_port,
    freeradius_config,
    freeradius_exe,
    freeradius_server,
    freeradius_version,
    load_sql,
    new_workdir,
    postgres_database,
    proc_cpu,
    publish,
    run_radclient,
    seed,
    sqlite_url,
    username,
)

TARGET_RATE = 10_000.0
TARGET_US = 80.0
FILE_SIZE = 10_000
INTERIM_TIME = 300
STOP_TIME = 600
PHASES = ("Start", "Interim-Update", "Stop")


# -- request files ------------------------------------------------------------------------------


def counters(i: int, phase: str) -> tuple[int, int, int]:
    """(session time, input octets, output octets) that session ``i`` reports in ``phase``
    (64-bit; every seventh session past 2^32 so Gigawords are exercised)."""
    if phase == "Start":
        return 0, 0, 0
    giga = (1 << 32) if i % 7 == 0 else 0
    if phase == "Interim-Update":
        return INTERIM_TIME, 1_000_000 + i * 37, 5_000_000 + i * 101
    return STOP_TIME, giga + 2_500_000 + i * 53, 2 * giga + 12_000_000 + i * 211


def framed_ip(i: int) -> str:
    return f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"


def write_acct_file(path: Path, first: int, count: int, phase: str) -> None:
    """One Accounting-Request per session of ``phase``, as a PPPoE NAS sends it; blank-line separated."""
    parts = []
    for i in range(first, first + count):
        stime, ins, outs = counters(i, phase)
        text = (
            f"Acct-Status-Type = {phase}\n"
            f'Acct-Session-Id = "81{i:06X}"\n'
            f'User-Name = "{username(i)}"\n'
            "NAS-IP-Address = 127.0.0.1\n"
            f"NAS-Port = {i}\n"
            "NAS-Port-Type = Ethernet\n"
            f"Framed-IP-Address = {framed_ip(i)}\n"
            f'Calling-Station-Id = "{calling_station_id(i)}"\n'
            "Acct-Delay-Time = 0\n"
            f"Acct-Session-Time = {stime}\n"
            f"Acct-Input-Octets = {ins & 0xFFFFFFFF}\n"
            f"Acct-Output-Octets = {outs & 0xFFFFFFFF}\n"
            f"Acct-Input-Gigawords = {ins >> 32}\n"
            f"Acct-Output-Gigawords = {outs >> 32}\n"
            f"Acct-Input-Packets = {ins // 1000}\n"
            f"Acct-Output-Packets = {outs // 1000}\n"
        )
        if phase == "Stop":
            text += "Acct-Terminate-Cause = User-Request\n"
        parts.append(text)
    path.write_text("\n".join(parts))


# -- PostgreSQL CPU -----------------------------------------------------------------------------


@dataclass
class PgCpu:
    """CPU seconds of the ``postgres`` processes: all of them, and this database's backends."""

    total: float = 0.0
    own: float = 0.0


def _pg_snapshot(dbname: str | None) -> dict[int, tuple[float, bool]]:
    snap: dict[int, tuple[float, bool]] = {}
    for p in psutil.process_iter(["name"]):
        if p.info["name"] != "postgres":
            continue
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            own = dbname is not None and any(dbname in part for part in p.cmdline())
            snap[p.pid] = (t.user + t.system, own)
    return snap


@contextlib.contextmanager
def pg_cpu(dbname: str | None) -> Iterator[PgCpu]:
    """Measure the CPU the ``postgres`` processes spend inside the block (none for SQLite)."""
    result = PgCpu()
    if dbname is None:
        yield result
        return
    before = _pg_snapshot(dbname)
    yield result
    for pid, (cpu, own) in _pg_snapshot(dbname).items():
        delta = cpu - before.get(pid, (0.0, own))[0]
        result.total += delta
        if own:
            result.own += delta


# -- one run ------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    run: RadclientRun
    pg: PgCpu
    batches: int | None = None
    wal: int = 0  # PostgreSQL WAL bytes written during the phase (server-wide: pg_current_wal_lsn)
    load: float = 0.0  # 1-minute load average when the phase started (other work on the machine)

    @property
    def pg_us(self) -> float:
        return self.pg.total / self.run.requests * 1e6

    @property
    def pg_own_us(self) -> float:
        return self.pg.own / self.run.requests * 1e6


@dataclass
class Result:
    backend: str
    phases: list[Phase] = field(default_factory=list)
    checks: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (found, expected)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(found == expected for found, expected in self.checks.values())


async def _query(url: str, sql: str) -> list[Any]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(sa.text(sql))).all())
    finally:
        await engine.dispose()


def query(url: str, sql: str) -> list[Any]:
    return asyncio.run(_query(url, sql))


def wal_lsn() -> int:
    """The server's current WAL position in bytes (every database's writes move it)."""
    done = subprocess.run(
        ["psql", PG_ADMIN_URL, "-AXqtc", "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(done.stdout.strip())


def phase_batches(url: str, status_type: str) -> int:
    """Transactions that wrote this phase's time-series rows (= Writer.batches of the phase)."""
    rows = query(
        url,
        f"SELECT count(DISTINCT xmin::text) FROM radius_interim_updates WHERE status_type = '{status_type}'",
    )
    return int(rows[0][0])


def sent_totals(n: int) -> tuple[int, int]:
    """Input and output octets of ``n`` sessions as their Stops report them."""
    exp_in = exp_out = 0
    for i in range(n):
        _, ins, outs = counters(i, "Stop")
        exp_in += ins
        exp_out += outs
    return exp_in, exp_out


def verify(url: str, n: int) -> dict[str, tuple[int, int]]:
    """What the database holds after the run, against what was sent."""
    exp_in, exp_out = sent_totals(n)
    one = query(
        url,
        "SELECT (SELECT count(*) FROM radius_sessions),"
        " (SELECT count(*) FROM radius_sessions WHERE status = 'closed'),"
        " (SELECT count(*) FROM radius_accounting),"
        " (SELECT coalesce(sum(input_octets), 0) FROM radius_accounting),"
        " (SELECT coalesce(sum(output_octets), 0) FROM radius_accounting),"
        " (SELECT count(*) FROM radius_interim_updates WHERE status_type = 'Start'),"
        " (SELECT count(*) FROM radius_interim_updates WHERE status_type = 'Interim-Update'),"
        " (SELECT count(*) FROM radius_interim_updates WHERE status_type = 'Stop'),"
        " (SELECT coalesce(sum(input_octets), 0) FROM service_usage),"
        " (SELECT coalesce(sum(output_octets), 0) FROM service_usage),"
        " (SELECT coalesce(sum(session_time), 0) FROM service_usage),"
        " (SELECT coalesce(sum(sessions), 0) FROM service_usage)",
    )[0]
    names = (
        ("sessions", n),
        ("closed sessions", n),
        ("closed records", n),
        ("closed records: input octets", exp_in),
        ("closed records: output octets", exp_out),
        ("time series: Start rows", n),
        ("time series: Interim-Update rows", n),
        ("time series: Stop rows", n),
        ("usage: input octets", exp_in),
        ("usage: output octets", exp_out),
        ("usage: session time", n * STOP_TIME),
        ("usage: sessions", n),
    )
    return {name: (int(found), expected) for (name, expected), found in zip(names, one, strict=True)}


def write_files(workdir: Path, sessions: int) -> dict[str, list[tuple[Path, int]]]:
    """The request files of every phase: (path, requests), one file per 10k sessions."""
    files: dict[str, list[tuple[Path, int]]] = {}
    for phase in PHASES:
        for first in range(0, sessions, FILE_SIZE):
            count = min(FILE_SIZE, sessions - first)
            path = workdir / f"acct-{phase}-{first}.txt"
            write_acct_file(path, first, count, phase)
            files.setdefault(phase, []).append((path, count))
    return files


#: the tables an accounting request writes (``--table-stats``)
STAT_TABLES = (
    "radius_sessions", "radius_interim_updates", "radius_accounting", "service_usage", "ipv4_ips", "radacct",
)  # fmt: skip


def table_stats(url: str) -> dict[str, tuple[int, int, int, int]]:
    """Per written table (partitions summed into their parent): rows inserted, updated, updated
    HOT, index entries read (idx_tup_read is not what is written; the writes are counted from
    non-HOT updates and inserts times the index count, printed by :func:`print_table_stats`).
    A backend flushes its counts to pg_stat at most once a second, or 10 s after it goes
    idle (PostgreSQL 15's PGSTAT_IDLE_INTERVAL): read after a pause that covers both."""
    time.sleep(11)
    rows = query(
        url,
        "SELECT coalesce(i.inhparent::regclass::text, t.relname), sum(t.n_tup_ins), sum(t.n_tup_upd), "
        "sum(t.n_tup_hot_upd), max((SELECT count(*) FROM pg_index x WHERE x.indrelid = t.relid)) "
        "FROM pg_stat_user_tables t LEFT JOIN pg_inherits i ON i.inhrelid = t.relid GROUP BY 1",
    )
    return {r[0]: (int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows if r[0] in STAT_TABLES}


def print_table_stats(name: str, phase: str, before: dict[str, tuple[int, int, int, int]],
                      after: dict[str, tuple[int, int, int, int]], requests: int) -> None:  # fmt: skip
    """Per request of the phase: inserts, updates (HOT share) and index entries written
    (inserts and non-HOT updates, times the table's indexes)."""
    for table, (ins, upd, hot, nidx) in sorted(after.items()):
        b = before.get(table, (0, 0, 0, nidx))
        d_ins, d_upd, d_hot = ins - b[0], upd - b[1], hot - b[2]
        if not (d_ins or d_upd):
            continue
        print(
            f"[{name}] {phase} {table}: {d_ins / requests:.2f} ins, {d_upd / requests:.2f} upd "
            f"({d_hot / requests:.2f} HOT) per request; <= {(d_ins + d_upd - d_hot) * nidx / requests:.1f} "
            f"index entries/req ({nidx} indexes)",
            file=sys.stderr,
        )


def run_phases(
    name: str,
    pid: int,
    port: int,
    files: dict[str, list[tuple[Path, int]]],
    dbname: str | None,
    batches: Callable[[str], int] | None,
    args: argparse.Namespace,
) -> list[Phase]:
    """Every phase's files through radclient against the server ``pid`` listening on ``port``."""
    _, idle0 = proc_cpu(pid)
    time.sleep(1.0)
    _, idle1 = proc_cpu(pid)
    print(f"[{name}] server idle CPU: {(idle1 - idle0) * 1e3:.2f} ms/s", file=sys.stderr)
    phases: list[Phase] = []
    for phase in PHASES:
        for path, count in files[phase]:
            load = os.getloadavg()[0]
            stats = table_stats(args.url) if args.table_stats and dbname is not None else None
            lsn = wal_lsn() if dbname is not None else 0
            with pg_cpu(dbname) as pg:
                r = run_radclient(path, count, port, pid, args.parallel, kind="acct")
            wal = wal_lsn() - lsn if dbname is not None else 0
            ph = Phase(phase, r, pg, wal=wal, load=load)
            if r.accepted != count:
                raise SystemExit(f"[{name}] {phase}: {r.accepted}/{count} answered:\n{r.output}")
            phases.append(ph)
            if stats is not None:
                print_table_stats(name, phase, stats, table_stats(args.url), count)
        if batches is not None:
            ph.batches = batches(phase)
        print(
            f"[{name}] {phase}: {r.rate:,.0f} req/s, server {r.daemon_us_stat:.0f} µs/req "
            f"(sched {r.daemon_us:.1f}), postgres {ph.pg_us:.1f} µs/req (own backends "
            f"{ph.pg_own_us:.1f}), WAL {ph.wal / count:,.0f} B/req, batches {ph.batches}, "
            f"answered {r.accepted}/{count}, load {load:.1f}",
            file=sys.stderr,
        )
    return phases


def print_checks(result: Result) -> None:
    for check, (found, expected) in result.checks.items():
        mark = "ok" if found == expected else "MISMATCH"
        print(f"[{result.backend}] check {check}: {found} (expected {expected}) {mark}", file=sys.stderr)


def database_settings(url: str, args: argparse.Namespace) -> None:
    """``--pg-setting NAME=VALUE``: ALTER DATABASE ... SET for the run's database (both servers'
    databases get the same, so the comparison stays fair)."""
    dbname = url.rsplit("/", 1)[1]
    for item in args.pg_setting:
        name, _, value = item.partition("=")
        subprocess.run(
            ["psql", PG_ADMIN_URL, "-qc", f"ALTER DATABASE {dbname} SET {name} = '{value}'"], check=True
        )


def bench_backend(name: str, url: str, dbname: str | None, workdir: Path, args: argparse.Namespace) -> Result:
    if dbname is not None:
        database_settings(url, args)
    args.url = url
    seconds = seed(url, workdir, args.sessions)
    print(f"[{name}] seeded {args.sessions} subscribers and the NAS in {seconds:.2f} s", file=sys.stderr)
    files = write_files(workdir, args.sessions)
    result = Result(name)
    with daemon(url, workdir) as d:
        batches = None if dbname is None else (lambda phase: phase_batches(url, phase))
        result.phases = run_phases(name, d.pid, d.acct_port, files, dbname, batches, args)
    result.checks = verify(url, args.sessions)
    print_checks(result)
    return result


# -- FreeRADIUS 3.2 + rlm_sql on PostgreSQL (--freeradius) --------------------------------------

FREERADIUS = "FreeRADIUS rlm_sql"
CONFLICT_NOTE = (
    " (radclient reuses an Id as soon as its response arrives; FreeRADIUS had not yet retired the "
    "answered request with that Id, logs the new packet as conflicting, drops the old one and "
    "processes the new one: no request is lost, every one is checked in radacct)"
)


def verify_radacct(url: str, n: int) -> dict[str, tuple[int, int]]:
    """What FreeRADIUS's radacct holds after the run, against what was sent."""
    exp_in, exp_out = sent_totals(n)
    one = query(
        url,
        "SELECT count(*), count(DISTINCT acctuniqueid), count(acctstoptime),"
        " coalesce(sum(acctinputoctets), 0), coalesce(sum(acctoutputoctets), 0),"
        " coalesce(sum(acctsessiontime), 0),"
        " count(*) FILTER (WHERE acctinputoctets >= 4294967296 OR acctoutputoctets >= 4294967296)"
        " FROM radacct",
    )[0]
    names = (
        ("radacct rows", n),
        ("distinct sessions", n),
        ("closed (acctstoptime set)", n),
        ("input octets", exp_in),
        ("output octets", exp_out),
        ("session time", n * STOP_TIME),
        ("rows past 2^32 octets", len(range(0, n, 7))),
    )
    return {name: (int(found), expected) for (name, expected), found in zip(names, one, strict=True)}


def bench_freeradius(exe: str, workdir: Path, args: argparse.Namespace) -> Result:
    """The same three files against stock FreeRADIUS with rlm_sql on a fresh PostgreSQL database."""
    files = write_files(workdir, args.sessions)
    result = Result(FREERADIUS)
    with postgres_database() as url:
        dbname = url.rsplit("/", 1)[1]
        database_settings(url, args)
        load_sql(url, FR_SCHEMA)
        conf = workdir / "raddb"
        acct_port = free_udp_port()
        freeradius_config(conf, dbname, acct_port)
        args.url = url
        with freeradius_server(exe, conf) as pid:
            result.phases = run_phases(FREERADIUS, pid, acct_port, files, dbname, None, args)
        log = (conf / "log" / "radius.log").read_text(errors="replace").splitlines()
        errors = [ln.split(" : ", 1)[-1] for ln in log if " : Error: " in ln]
        if errors:
            result.notes.append(
                f"{len(errors)} Error line(s) in FreeRADIUS's radius.log, first: `{errors[0]}`"
                + (CONFLICT_NOTE if all("conflicting packet" in e for e in errors) else "")
            )
            print(f"[{FREERADIUS}] {result.notes[-1]}", file=sys.stderr)
        result.checks = verify_radacct(url, args.sessions)
    print_checks(result)
    return result


# -- report -------------------------------------------------------------------------------------


def _row(label: str, phases: list[Phase]) -> str:
    reqs = sum(p.run.requests for p in phases)
    wall = sum(p.run.wall for p in phases)
    d_us = sum(p.run.daemon_cpu_stat for p in phases) / reqs * 1e6
    d_sched = sum(p.run.daemon_cpu_sched for p in phases) / reqs * 1e6
    pg_us = sum(p.pg.total for p in phases) / reqs * 1e6
    pg_own = sum(p.pg.own for p in phases) / reqs * 1e6
    rc_us = sum(p.run.radclient_cpu for p in phases) / reqs * 1e6
    total = d_us + pg_us
    split = f"{d_us / total:.0%} / {pg_us / total:.0%}" if total else "-"
    batches = [p.batches for p in phases]
    mean = f"{reqs / sum(b for b in batches if b):,.0f}" if all(batches) else "n/a"
    load = max(p.load for p in phases)
    wal = f"{sum(p.wal for p in phases) / reqs:,.0f}" if any(p.wal for p in phases) else "n/a"
    return (
        f"| {label} | {reqs:,} | {wall:.3f} | {reqs / wall:,.0f} | {d_us:.0f} ({d_sched:.0f}) | "
        f"{pg_us:.0f} ({pg_own:.0f}) | **{total:.0f}** | {split} | {mean} | {wal} | {rc_us:.0f} | "
        f"{load:.1f} |"
    )


FREERADIUS_NOTE = (
    "FreeRADIUS rlm_sql: stock FreeRADIUS {version} (Debian `freeradius` + `freeradius-postgresql`) "
    "run as `freeradius -f -d DIR` on a copy of /etc/freeradius/3.0: the `sql` module enabled with "
    "dialect `postgresql`, driver `rlm_sql_postgresql`, 127.0.0.1:5432, login postgres, a fresh "
    "database loaded with the stock `mods-config/sql/main/postgresql/schema.sql`; stock queries "
    "(Start INSERT, Interim-Update and Stop UPDATE of radacct), stock connection pool (start 5, "
    "max 32 = thread pool max_servers) and thread pool, and the stock default site, whose "
    "accounting section also runs `detail` (one record per request in a detail file), `unix`, `exec` and "
    "`attr_filter.accounting_response`. Only paths, listeners (127.0.0.1, ports from the OS), the "
    "localhost client's secret and the run-as user differ. Server CPU: the freeradius process "
    "(all threads). Database check: radacct rows, distinct sessions, all closed, octets "
    "(Gigawords included) and session time equal to what was sent."
)


def _totals(res: Result) -> tuple[float, float, float]:
    """(req/s, server + PostgreSQL CPU µs per request, the same with only the run's own
    PostgreSQL backends) over a run's phases."""
    reqs = sum(p.run.requests for p in res.phases)
    wall = sum(p.run.wall for p in res.phases)
    server = sum(p.run.daemon_cpu_stat for p in res.phases)
    total = sum(p.pg.total for p in res.phases)
    own = sum(p.pg.own for p in res.phases)
    return reqs / wall, (server + total) / reqs * 1e6, (server + own) / reqs * 1e6


def ratio_lines(results: list[Result]) -> list[str]:
    """radiusd on PostgreSQL against FreeRADIUS rlm_sql, pairing the runs of each repetition."""
    ours = [r for r in results if r.backend == "PostgreSQL"]
    theirs = [r for r in results if r.backend == FREERADIUS]
    if not ours or not theirs:
        return []
    lines = [
        "",
        "Same run, radiusd + PostgreSQL against FreeRADIUS rlm_sql + PostgreSQL (all three phases; "
        "server + all `postgres` processes, own backends only in parentheses):",
        "",
    ]
    for n, (a, b) in enumerate(zip(ours, theirs, strict=False), 1):
        (rate_a, us_a, own_a), (rate_b, us_b, own_b) = _totals(a), _totals(b)
        lines.append(
            f"- run {n}: radiusd {us_a:.0f} ({own_a:.0f}) µs/req vs FreeRADIUS {us_b:.0f} ({own_b:.0f}) "
            f"µs/req of server + PostgreSQL CPU: ratio **{us_a / us_b:.2f}** ({own_a / own_b:.2f}), "
            f"FreeRADIUS spends {us_b / us_a:.1f}x ({own_b / own_a:.1f}x) as much; "
            f"{rate_a:,.0f} vs {rate_b:,.0f} req/s ({rate_a / rate_b:.2f}x); load "
            f"{max(p.load for p in a.phases):.1f} / {max(p.load for p in b.phases):.1f}"
        )
        for phase in PHASES:
            pa = [p for p in a.phases if p.name == phase]
            pb = [p for p in b.phases if p.name == phase]
            if not pa or not pb:
                continue
            ra = sum(p.run.requests for p in pa)
            rb = sum(p.run.requests for p in pb)
            da = sum(p.run.daemon_cpu_stat for p in pa) / ra * 1e6
            ga = sum(p.pg.total for p in pa) / ra * 1e6
            db = sum(p.run.daemon_cpu_stat for p in pb) / rb * 1e6
            gb = sum(p.pg.total for p in pb) / rb * 1e6
            lines.append(
                f"  - {phase}: radiusd {da + ga:.0f} µs ({da:.0f} + {ga:.0f} PostgreSQL), "
                f"{sum(p.wal for p in pa) / ra:,.0f} WAL B/req; FreeRADIUS {db + gb:.0f} µs "
                f"({db:.0f} + {gb:.0f}), {sum(p.wal for p in pb) / rb:,.0f} WAL B/req: "
                f"FreeRADIUS spends **{(db + gb) / (da + ga):.1f}x**"
            )
    return lines


def table(results: list[Result], args: argparse.Namespace) -> str:
    lines = [
        f"{args.sessions:,} sessions through Start, Interim-Update and Stop, one 10k-request file per "
        f"phase, `radclient -q -p {args.parallel} -s`; Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs (daemon, PostgreSQL and radclient share them), "
        "uvloop. Each Accounting-Response is sent only after its group commit.",
        "",
        "| backend / phase | requests | wall s | req/s | daemon µs CPU/req (schedstat) | "
        "PostgreSQL µs CPU/req (own backends) | daemon + PG µs/req | split daemon / PG | "
        "mean batch | WAL B/req | radclient µs CPU/req | load avg |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    seen: dict[str, int] = {}
    for res in results:
        seen[res.backend] = n = seen.get(res.backend, 0) + 1
        label = res.backend if n == 1 else f"{res.backend} #{n}"
        for ph in res.phases:
            lines.append(_row(f"{label}: {ph.name}", [ph]))
        lines.append(_row(f"**{label}: all**", res.phases))
    lines.append("")
    for res in results:
        bad = [f"{k}: {f} != {e}" for k, (f, e) in res.checks.items() if f != e]
        lines.append(
            f"- {res.backend} database check: "
            + ("all ok (" + ", ".join(f"{k} {f:,}" for k, (f, _) in res.checks.items()) + ")" if not bad
               else "FAILED: " + "; ".join(bad))
        )  # fmt: skip
        lines += [f"- {res.backend}: {note}" for note in res.notes]
    lines += ratio_lines(results)
    lines += [
        "",
        "Target (the accounting performance goal): "
        f">= {TARGET_RATE:,.0f} accounting requests/s and <= {TARGET_US:.0f} µs of "
        "daemon + PostgreSQL CPU per request. FreeRADIUS 3.2 + rlm_sql on PostgreSQL: "
        "1,900-2,300 req/s, 720-870 µs.",
        "",
        "Daemon CPU: /proc/PID/stat utime+stime delta (10 ms ticks), schedstat in parentheses. "
        "PostgreSQL CPU: every process named `postgres` (psutil), this database's backends in "
        "parentheses (the rest is WAL writer, checkpointer and other clients of the same server). "
        "Mean batch: requests / distinct transaction ids (xmin) of the phase's time-series rows. "
        "Load avg: the 1-minute load average as the phase started (the machine is shared; "
        "wall-clock figures suffer first when it is busy, CPU per request much less).",
    ]
    if any(r.backend == FREERADIUS for r in results):
        lines += ["", FREERADIUS_NOTE.format(version=args.freeradius_version)]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, default=10_000)
    p.add_argument("--parallel", type=int, default=128, help="radclient -p (default 128)")
    p.add_argument("--repeat", type=int, default=1, help="runs per backend, each on a fresh database")
    p.add_argument("--sqlite", action="store_true", help="also run on a SQLite file")
    p.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL run")
    p.add_argument(
        "--freeradius",
        action="store_true",
        help="also run the same files against stock FreeRADIUS 3.2 + rlm_sql on PostgreSQL",
    )
    p.add_argument(
        "--pg-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a PostgreSQL setting for the run's databases (ALTER DATABASE SET), e.g. wal_compression=lz4",
    )
    p.add_argument(
        "--table-stats",
        action="store_true",
        help="per phase: rows inserted / updated / updated HOT per request in the written tables",
    )
    p.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "results" / "acct.md")
    args = p.parse_args()
    exe = None
    if args.freeradius:
        exe = freeradius_exe()
        if exe is None:
            raise SystemExit("--freeradius: `freeradius` is not installed (Debian package freeradius)")
        if not FR_DRIVER.exists():
            raise SystemExit(f"--freeradius: {FR_DRIVER} missing (Debian package freeradius-postgresql)")
        args.freeradius_version = freeradius_version(exe)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="radiusd-acct-bench-") as tmp:
        for n in range(args.repeat):
            if not args.no_postgres:
                work = new_workdir(tmp, f"pg-{n}")
                with postgres_database() as url:
                    results.append(bench_backend("PostgreSQL", url, url.rsplit("/", 1)[1], work, args))
            if args.sqlite:
                work = new_workdir(tmp, f"sqlite-{n}")
                results.append(bench_backend("SQLite", sqlite_url(work), None, work, args))
            if exe is not None:
                work = new_workdir(tmp, f"freeradius-{n}")
                results.append(bench_freeradius(exe, work, args))
    publish(args.output, "Accounting benchmark (bench/acct_bench.py)", table(results, args))
    if not all(r.ok for r in results):
        raise SystemExit("database check failed")


if __name__ == "__main__":
    main()
