"""The benchmark suite: one command, every workload, both backends, one table and chart.

Usage: python3 bench/suite.py [--quick] [--backends sqlite,postgres] [--freeradius]
                              [--requests N] [--concurrency 128] [--output DIR]

Per backend (SQLite file; PostgreSQL: a database of its own on 127.0.0.1:5432, dropped
afterwards) the ``radiusd`` CLI seeds a NAS at 127.0.0.1, plan ``bench`` (rate limit and
interim interval, no pool), plan ``benchpool`` (the same with a /16 pool) and cleartext
subscribers; then ``radiusd serve`` runs on ephemeral ports, is warmed with logins, and the
load generator of ``radiusd loadtest`` (:mod:`radiusd.loadtest`, run in this process with
``--concurrency`` sessions in flight) drives four workloads in turn:

- ``pap``: PAP Access-Requests of plan ``bench`` subscribers (each session ends at its Accept);
- ``pool``: the same for ``benchpool`` subscribers not yet online: every Accept allocates an
  address whose lease is committed before the reply leaves;
- ``acct``: Accounting Start -> Interim-Update -> Stop per session, no login (a synthetic
  Framed-IP-Address from 100.64.0.0/10, as ``radiusd loadtest`` uses when none is given);
- ``mixed``: whole sessions, exactly ``radiusd loadtest --interims 1``: Access-Request ->
  Start -> Interim -> Stop with the pool address of the Accept.

Reported per run: requests/s (first transmissions over the run's wall time), latency
p50/p95/p99 (the ``--json`` report of the load tester, all packet types of the run merged;
the mixed run also per packet type), CPU µs per request of the daemon (every thread, from
/proc/PID/task/*/schedstat) and of PostgreSQL (only the backends of the benchmark's own
database: ``postgres`` processes whose command line names it, via psutil; SQLite runs in the
daemon's process, so "n/a"), the load generator's own CPU, timeouts and rejects, and the
1-minute load average as the run started. With ``--freeradius``, where the Debian package
``freeradius`` is installed, the ``pap`` workload also runs against ``freeradius -f -d DIR``
with a generated minimal configuration (client 127.0.0.1, the same subscribers and reply
attributes in its users file, free ports), so both servers are measured in one run.

Writes ``DIR/suite.md`` (Markdown tables) and ``DIR/suite.png`` (matplotlib chart).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import datetime as dt
import os
import platform
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    INTERIM_INTERVAL,
    PLAN,
    RATE_LIMIT,
    SECRET,
    daemon,
    free_udp_port,
    freeradius_exe,
    freeradius_process,
    freeradius_version,
    new_workdir,
    password,
    postgres_database,
    proc_cpu,
    radiusd,
    sqlite_url,
    username,
)

from radiusd.loadtest.generator import Engine, LoadConfig
from radiusd.loadtest.sessions import Profile, Session, User
from radiusd.loadtest.stats import KindStats, RunStats

POOL_PLAN = "benchpool"
POOL = "bench-pool"
POOL_RANGE = "10.64.0.0/16"
SCENARIOS = ("pap", "pool", "acct", "mixed")
TITLES = {
    "pap": "PAP logins",
    "pool": "logins + pool allocation",
    "acct": "accounting Start/Interim/Stop",
    "mixed": "whole sessions (Access/Start/Interim/Stop)",
}
SHORT = {
    "pap": "PAP\nlogins",
    "pool": "logins +\npool",
    "acct": "accounting\ncycle",
    "mixed": "whole\nsessions",
}
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Sizes:
    """Requests per workload: logins, accounting sessions (3 requests each), whole sessions (4)."""

    pap: int
    pool: int
    acct_sessions: int
    mixed_sessions: int
    warm: int

    @classmethod
    def for_requests(cls, n: int) -> Sizes:
        """About ``n`` requests per workload."""
        return cls(n, n, max(1, n // 3), max(1, n // 4), max(1, min(1000, n // 5)))


FULL = Sizes.for_requests(20_000)
QUICK = Sizes.for_requests(1_000)


# -- the load generator -------------------------------------------------------------------------


class AuthOnlyEngine(Engine):
    """Access-Requests only: each session ends with its Access-Accept."""

    def __init__(self, config: LoadConfig) -> None:
        super().__init__(config)
        self.builder.last_step = 0


class AcctOnlyEngine(Engine):
    """Accounting only: each session begins at its Accounting-Start, with a synthetic address."""

    def _schedule(self, session: Session) -> None:
        if session.step == 0:
            self.builder.accept(session, b"")  # no Accept to read: 100.64.0.0/10 by index
            session.step = 1
        super()._schedule(session)


ENGINES: dict[str, type[Engine]] = {
    "pap": AuthOnlyEngine,
    "pool": AuthOnlyEngine,
    "acct": AcctOnlyEngine,
    "mixed": Engine,
}


def drive(
    scenario: str, auth: tuple[str, int], acct: tuple[str, int], users: list[User], concurrency: int
) -> RunStats:
    """One session per user of ``users`` through the load tester's engine, as fast as replies come."""
    config = LoadConfig(
        auth_addr=auth,
        acct_addr=acct,
        profile=Profile(secret=SECRET.encode(), interims=1, run_id=random.getrandbits(32)),
        users=tuple(users),
        sessions=len(users),
        timeout=3.0,
        retries=2,
        sockets=max(2, -(-concurrency // 128)),
        concurrency=concurrency,
    )

    async def run() -> RunStats:
        engine = ENGINES[scenario](config)
        await engine.open()
        return await engine.run()

    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return asyncio.run(run())


# -- measurements -------------------------------------------------------------------------------


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def postgres_cpu(database: str) -> dict[int, float]:
    """CPU seconds of each ``postgres`` backend serving ``database`` (named in its command line)."""
    out: dict[int, float] = {}
    for p in psutil.process_iter(["name", "cmdline"]):
        if p.info["name"] != "postgres" or database not in " ".join(p.info["cmdline"] or ()).split():
            continue
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            t = p.cpu_times()
            out[p.pid] = t.user + t.system
    return out


def cpu_pressure() -> str:
    """``/proc/pressure/cpu`` "some" avg10, in percent (or "?")."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        return Path("/proc/pressure/cpu").read_text().split()[1].split("=")[1]
    return "?"


@dataclass
class Result:
    """One workload against one server."""

    target: str
    scenario: str
    stats: RunStats
    server_cpu: float
    db_cpu: float | None
    driver_cpu: float
    load: float
    pressure: str
    merged: KindStats = field(init=False)

    def __post_init__(self) -> None:
        self.merged = KindStats()
        for k in self.stats.kinds:
            self.merged.merge(k)

    @property
    def requests(self) -> int:
        return self.merged.requests

    @property
    def rate(self) -> float:
        return self.requests / self.stats.elapsed if self.stats.elapsed > 0 else 0.0

    def per_request_us(self, seconds: float | None) -> float | None:
        return None if seconds is None or not self.requests else seconds / self.requests * 1e6

    def p_ms(self, p: float) -> float:
        return self.merged.percentile_us(p) / 1000.0

    @property
    def server_share(self) -> float:
        """The server's CPU over the run's wall time, in percent of one CPU."""
        return self.server_cpu / self.stats.elapsed * 100 if self.stats.elapsed > 0 else 0.0

    @property
    def total_us(self) -> float:
        return (self.per_request_us(self.server_cpu) or 0.0) + (self.per_request_us(self.db_cpu) or 0.0)


def measure(
    target: str,
    scenario: str,
    server_pid: int,
    database: str | None,
    auth: tuple[str, int],
    acct: tuple[str, int],
    users: list[User],
    concurrency: int,
) -> Result:
    """Run one workload; CPU deltas of the server, its database backends and this process."""
    load, pressure = os.getloadavg()[0], cpu_pressure()
    pg0 = postgres_cpu(database) if database else {}
    _, s0 = proc_cpu(server_pid)
    d0 = self_cpu()
    stats = drive(scenario, auth, acct, users, concurrency)
    d1 = self_cpu()
    _, s1 = proc_cpu(server_pid)
    db: float | None = None
    if database:
        pg1 = postgres_cpu(database)
        db = sum(cpu - pg0.get(pid, 0.0) for pid, cpu in pg1.items())
    r = Result(target, scenario, stats, s1 - s0, db, d1 - d0, load, pressure)
    db_us = r.per_request_us(r.db_cpu)
    print(
        f"[{target}] {scenario}: {r.requests:,} requests, {r.rate:,.0f}/s, p50 {r.p_ms(50):.1f} ms, "
        f"p99 {r.p_ms(99):.1f} ms, server {r.per_request_us(r.server_cpu):.0f} µs/req"
        + (f", PostgreSQL {db_us:.0f} µs/req" if db_us is not None else "")
        + f", timeouts {r.merged.timeouts}, rejects {r.merged.rejects}, load {load:.1f}",
        file=sys.stderr,
    )
    return r


# -- radiusd ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Which subscribers each workload uses (disjoint ranges of the seeded ones)."""

    pap: range
    warm: range
    pool: range
    mixed: range

    @classmethod
    def of(cls, s: Sizes) -> Layout:
        pool0 = s.pap + s.warm
        mixed0 = pool0 + s.pool
        return cls(
            range(s.pap), range(s.pap, pool0), range(pool0, mixed0), range(mixed0, mixed0 + s.mixed_sessions)
        )


def users_of(indices: range) -> list[User]:
    return [User(username(i), password(i)) for i in indices]


def seed(url: str, workdir: Path, layout: Layout) -> None:
    """NAS, plans ``bench`` and ``benchpool`` (with a /16 pool) and their subscribers, via the CLI."""
    radiusd(url, "nas", "add", "bench", "--address", "127.0.0.1", "--secret", SECRET)
    radiusd(url, "pool", "add", POOL, "--range", POOL_RANGE)
    common_opts = ("--rate-limit", RATE_LIMIT, "--interim-interval", str(INTERIM_INTERVAL))
    radiusd(url, "plan", "add", PLAN, *common_opts)
    radiusd(url, "plan", "add", POOL_PLAN, "--pool", POOL, *common_opts)
    path = workdir / "users.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["username", "password", "plan"])
        w.writerows([username(i), password(i), PLAN] for i in layout.pap)
        for r in (layout.warm, layout.pool, layout.mixed):
            w.writerows([username(i), password(i), POOL_PLAN] for i in r)
    radiusd(url, "subscriber", "import", str(path))


def bench_radiusd(
    name: str, url: str, database: str | None, workdir: Path, sizes: Sizes, concurrency: int
) -> list[Result]:
    """Seed, serve, warm up, then the four workloads in turn."""
    layout = Layout.of(sizes)
    t0 = time.perf_counter()
    seed(url, workdir, layout)
    print(f"[{name}] seeded in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    acct_users = users_of(range(min(sizes.acct_sessions, sizes.pap)))
    acct_users = (acct_users * (-(-sizes.acct_sessions // len(acct_users))))[: sizes.acct_sessions]
    runs = {
        "pap": users_of(layout.pap),
        "pool": users_of(layout.pool),
        "acct": acct_users,
        "mixed": users_of(layout.mixed),
    }
    results = []
    with daemon(url, workdir) as d:
        auth, acct = ("127.0.0.1", d.auth_port), ("127.0.0.1", d.acct_port)
        warm = drive("pool", auth, acct, users_of(layout.warm), concurrency)  # auth + allocation paths
        if warm.kinds[0].responses != len(layout.warm):
            raise SystemExit(f"[{name}] warm-up: {warm.report()['access']}")
        for scenario in SCENARIOS:
            results.append(measure(name, scenario, d.pid, database, auth, acct, runs[scenario], concurrency))
    return results


# -- FreeRADIUS ---------------------------------------------------------------------------------

FREERADIUS_CONF = """\
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = {dir}
sbindir = /usr/sbin
logdir = {dir}
raddbdir = {dir}
radacctdir = {dir}
name = freeradius
confdir = {dir}
modconfdir = {dir}
run_dir = {dir}
db_dir = {dir}
libdir = /usr/lib/freeradius
pidfile = {dir}/freeradius.pid
max_request_time = 30
cleanup_delay = 5
max_requests = 65536
hostname_lookups = no
log {{
    destination = files
    file = {dir}/radius.log
    auth = no
}}
security {{
    allow_core_dumps = no
    max_attributes = 200
    reject_delay = 0
    status_server = no
}}
thread pool {{
    start_servers = 5
    max_servers = 32
    min_spare_servers = 3
    max_spare_servers = 10
    max_requests_per_server = 0
}}
client bench {{
    ipaddr = 127.0.0.1
    secret = {secret}
    require_message_authenticator = yes
}}
modules {{
    pap {{
        normalise = yes
    }}
    files {{
        filename = {dir}/users
    }}
    always ok {{
        rcode = ok
    }}
}}
server default {{
    listen {{
        type = auth
        ipaddr = 127.0.0.1
        port = {auth_port}
    }}
    listen {{
        type = acct
        ipaddr = 127.0.0.1
        port = {acct_port}
    }}
    authorize {{
        files
        pap
    }}
    authenticate {{
        Auth-Type PAP {{
            pap
        }}
    }}
    preacct {{
    }}
    accounting {{
        ok
    }}
    post-auth {{
    }}
}}
"""


@contextlib.contextmanager
def freeradius(exe: str, workdir: Path, users: list[User]) -> Iterator[tuple[int, int, int]]:
    """``freeradius -f -d DIR`` with a generated configuration; (pid, auth port, acct port)."""
    conf = workdir / "freeradius"
    conf.mkdir()
    auth_port, acct_port = free_udp_port(), free_udp_port()
    text = FREERADIUS_CONF.format(dir=conf, secret=SECRET, auth_port=auth_port, acct_port=acct_port)
    (conf / "radiusd.conf").write_text(text)
    reply = f'\tMikrotik-Rate-Limit = "{RATE_LIMIT}",\n\tAcct-Interim-Interval = {INTERIM_INTERVAL}\n'
    (conf / "users").write_text(
        "".join(f'{u.username} Cleartext-Password := "{u.password}"\n{reply}\n' for u in users)
    )
    with freeradius_process(exe, conf, conf / "radius.log", conf / "stdout.log") as pid:
        yield pid, auth_port, acct_port


def bench_freeradius(exe: str, workdir: Path, sizes: Sizes, concurrency: int) -> list[Result]:
    """The ``pap`` workload against FreeRADIUS (users file, no database)."""
    layout = Layout.of(sizes)
    name = f"FreeRADIUS {freeradius_version(exe)}"
    with freeradius(exe, workdir, users_of(range(layout.warm.stop))) as (pid, auth_port, acct_port):
        auth, acct = ("127.0.0.1", auth_port), ("127.0.0.1", acct_port)
        warm = drive("pap", auth, acct, users_of(layout.warm), concurrency)
        if warm.kinds[0].responses != len(layout.warm):
            raise SystemExit(f"[{name}] warm-up: {warm.report()['access']}")
        return [measure(name, "pap", pid, None, auth, acct, users_of(layout.pap), concurrency)]


# -- report -------------------------------------------------------------------------------------


def _us(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def markdown(results: list[Result], args: argparse.Namespace, sizes: Sizes, notes: list[str]) -> str:
    """The results file: conditions, the main table, the mixed run per packet type, notes."""
    load1, load5, load15 = os.getloadavg()
    cmd = "python3 bench/suite.py" + (" --quick" if args.quick else "")
    cmd += f" --backends {','.join(args.backends)}" + (" --freeradius" if args.freeradius else "")
    if args.requests:
        cmd += f" --requests {args.requests}"
    lines = [
        "# Benchmark suite (bench/suite.py)",
        "",
        f"`{cmd}` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC: Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, uvloop; the load generator of `radiusd loadtest` "
        f"with {args.concurrency} sessions in flight; {sizes.pap:,} PAP logins, {sizes.pool:,} pool "
        f"logins, {sizes.acct_sessions:,} accounting sessions x 3, {sizes.mixed_sessions:,} whole "
        f"sessions x 4 per server.",
        "",
        f"**Machine load caveat**: load average at the end {load1:.1f} / {load5:.1f} / {load15:.1f} "
        f"(1/5/15 min), CPU pressure (`/proc/pressure/cpu` some avg10) {cpu_pressure()} %. The "
        "server, PostgreSQL, the load generator and whatever else runs on the machine share its "
        "CPUs, so requests/s and latency fall first when it is busy; CPU µs per request is the "
        "more comparable figure (it also inflates under contention). The `load` column is the "
        "1-minute load average as each run started.",
        "",
        "| server | workload | requests | req/s | p50 ms | p95 ms | p99 ms | server CPU µs/req "
        "| DB CPU µs/req | server + DB µs/req | server CPU % | load generator µs/req | timeouts "
        "| rejects | load |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.target} | {TITLES[r.scenario]} | {r.requests:,} | {r.rate:,.0f} | {r.p_ms(50):.2f} "
            f"| {r.p_ms(95):.2f} | {r.p_ms(99):.2f} | {_us(r.per_request_us(r.server_cpu))} "
            f"| {_us(r.per_request_us(r.db_cpu))} | **{r.total_us:.0f}** | {r.server_share:.0f} "
            f"| {_us(r.per_request_us(r.driver_cpu))} | {r.merged.timeouts} | {r.merged.rejects} "
            f"| {r.load:.1f} |"
        )
    mixed = [r for r in results if r.scenario == "mixed"]
    if mixed:
        lines += [
            "",
            "Whole sessions per packet type (the `radiusd loadtest --json` report):",
            "",
            "| server | packet type | requests | req/s | p50 ms | p95 ms | p99 ms | max ms |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in mixed:
            for kind, v in r.stats.report().items():
                lines.append(
                    f"| {r.target} | {kind} | {v['requests']:,} | {v['requests_per_second']:,.0f} "
                    f"| {v['p50_ms']:.2f} | {v['p95_ms']:.2f} | {v['p99_ms']:.2f} | {v['max_ms']:.2f} |"
                )
    fr = next((r for r in results if r.target.startswith("FreeRADIUS")), None)
    if fr is not None:
        lines += ["", "PAP logins, radiusd / FreeRADIUS (same generator, same subscribers, same run):", ""]
        for r in results:
            if r.scenario == "pap" and r is not fr and fr.rate and fr.total_us:
                lines.append(
                    f"- {r.target}: {r.rate / fr.rate:.2f}x the requests/s, "
                    f"{r.total_us / fr.total_us:.2f}x the CPU per request"
                )
    lines += [
        "",
        "Workloads: PAP logins of a plan without pool (each session ends at the Access-Accept); "
        "logins of a plan with a /16 pool by subscribers not yet online (the lease is committed "
        "before the Accept); Accounting Start -> Interim-Update -> Stop without login; whole "
        "sessions as `radiusd loadtest --interims 1` runs them. Server CPU: all threads of the "
        "process (schedstat). DB CPU: PostgreSQL backends of the benchmark's own database only "
        "(WAL writer, checkpointer and other databases excluded); SQLite runs inside the daemon "
        "(n/a). FreeRADIUS answers from its users file (no database) and its accounting section "
        "only says ok. Latency: from the first transmission to the verified reply, all of the "
        "run's packet types merged.",
        "",
        "Reading the figures: PAP logins write nothing (answered from memory), hence ~0 DB CPU. "
        "Whole sessions cost more per request than the separate workloads: there the Start "
        "confirms, the Interim renews and the Stop releases the pool lease the Accept handed out, "
        "writes that the accounting workload (synthetic address, no lease) does not make. "
        "Server CPU % is the server's CPU time over the run's wall time (100 = one CPU busy): "
        "where it stays well under 100 while requests wait, the server was waiting for a CPU, "
        "not working. radiusd answers on one event loop, FreeRADIUS on a thread pool; on a "
        "small machine shared with other work the kernel shares CPU per runnable thread, so a "
        "one-thread server gets about CPUs / runnable threads of a CPU and FreeRADIUS several "
        "times that: compare the CPU per request, not requests/s, between the two here.",
    ]
    lines += [f"\n{n}" for n in notes]
    return "\n".join(lines) + "\n"


def chart(results: list[Result], path: Path) -> None:
    """Three panels per workload and server: requests/s, CPU µs/request (server + DB), p99 ms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = list(dict.fromkeys(r.target for r in results))
    scenarios = [s for s in SCENARIOS if any(r.scenario == s for r in results)]
    by = {(r.target, r.scenario): r for r in results}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    width = 0.8 / max(1, len(targets))
    xs = range(len(scenarios))
    colours = plt.get_cmap("tab10")
    for t, target in enumerate(targets):
        offs = [x - 0.4 + width * (t + 0.5) for x in xs]
        rows = [by.get((target, s)) for s in scenarios]
        rate = [r.rate if r else 0.0 for r in rows]
        server = [(r.per_request_us(r.server_cpu) or 0.0) if r else 0.0 for r in rows]
        db = [(r.per_request_us(r.db_cpu) or 0.0) if r else 0.0 for r in rows]
        p99 = [r.p_ms(99) if r else 0.0 for r in rows]
        colour = colours(t)
        axes[0].bar(offs, rate, width, label=target, color=colour)
        axes[1].bar(offs, server, width, label=target, color=colour)
        axes[1].bar(offs, db, width, bottom=server, color=colour, alpha=0.45, hatch="//")
        axes[2].bar(offs, p99, width, label=target, color=colour)
    titles = ("requests/s (higher is better)", "CPU µs/request: server + DB hatched", "p99 latency ms")
    for ax, title in zip(axes, titles, strict=True):
        ax.set_title(title, fontsize=10)
        ax.set_xticks(list(xs), [SHORT[s] for s in scenarios], fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    load = os.getloadavg()[0]
    fig.suptitle(f"radiusd benchmark suite ({os.cpu_count()} CPUs, load average {load:.1f})", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# -- main ---------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short smoke run (about 1,000 requests a workload)")
    ap.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    ap.add_argument("--freeradius", action="store_true", help="also run the PAP logins against FreeRADIUS")
    ap.add_argument("--requests", type=int, help="requests per workload (overrides --quick)")
    ap.add_argument("--concurrency", type=int, default=128, help="sessions in flight (default 128)")
    ap.add_argument("--output", type=Path, default=RESULTS, help="directory for suite.md and suite.png")
    args = ap.parse_args()
    args.backends = [b.strip().lower() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - {"sqlite", "postgres"}
    if unknown:
        ap.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    sizes = Sizes.for_requests(args.requests) if args.requests else QUICK if args.quick else FULL
    results: list[Result] = []
    notes: list[str] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="radiusd-suite-") as tmp:
        if args.freeradius:
            exe = freeradius_exe()
            if exe is None:
                msg = "FreeRADIUS: `freeradius` is not installed (Debian package freeradius); column skipped."
                print(msg, file=sys.stderr)
                notes.append(msg)
            else:
                work = new_workdir(tmp, "freeradius")
                results += bench_freeradius(exe, work, sizes, args.concurrency)
        for backend in args.backends:
            work = new_workdir(tmp, backend)
            if backend == "sqlite":
                results += bench_radiusd(
                    "radiusd SQLite", sqlite_url(work), None, work, sizes, args.concurrency
                )
            else:
                with postgres_database() as url:
                    database = url.rsplit("/", 1)[1]
                    results += bench_radiusd(
                        "radiusd PostgreSQL", url, database, work, sizes, args.concurrency
                    )
    # FreeRADIUS ran first (its own PAP run); list it beside radiusd's PAP rows.
    results.sort(key=lambda r: (SCENARIOS.index(r.scenario), r.target.startswith("FreeRADIUS")))
    args.output.mkdir(parents=True, exist_ok=True)
    text = markdown(results, args, sizes, notes)
    (args.output / "suite.md").write_text(text)
    chart(results, args.output / "suite.png")
    print(text)
    print(
        f"wrote {args.output / 'suite.md'} and suite.png in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
