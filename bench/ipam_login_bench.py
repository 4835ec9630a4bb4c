"""PAP logins with address allocation from a /16 pool, PostgreSQL backend (one
daemon, several daemons sharing the pool, and stock FreeRADIUS + rlm_sqlippool beside them).

Usage: python3 bench/ipam_login_bench.py [--subscribers 10000] [--parallel 128]
                                         [--daemons 1[,2...]] [--freeradius] [--repeat 1]
                                         [--output FILE]

Every configuration runs on a fresh PostgreSQL database (created on 127.0.0.1:5432 and dropped
afterwards) holding the pool ``10.64.0.0/16`` (65,534 addresses), a NAS at 127.0.0.1 and N
cleartext subscribers plus 1,000 for the warm-up; one PAP Access-Request per subscriber from
``radclient -q -p 128 -s -f FILE`` (the files of bench/common.py: User-Name, User-Password,
NAS-IP-Address, NAS-Port, Service-Type, Framed-Protocol, Calling-Station-Id,
Message-Authenticator). Every measured login allocates a new address.

- ``--daemons K`` (a comma-separated list: one configuration per value, e.g. ``1,2``): K
  ``radiusd serve`` daemons on the same database, sharing the pool (each lease row is
  claimed under a guard in PostgreSQL; a claim another node won is claimed again before the
  reply). The subscribers are split into K contiguous files, one radclient per daemon, all
  started at once; the daemons' CPU is summed. Each daemon serves the HTTP API on a free port
  so that ``radiusd_ipam_claims_lost_total`` and ``radiusd_ipam_allocations_total`` can be
  read from ``/metrics`` after the run (read-only token made with ``radiusd api-token create``).
- ``--freeradius``: stock FreeRADIUS 3.2 (Debian ``freeradius`` + ``freeradius-postgresql``),
  ``freeradius -f -d DIR`` on a copy of /etc/freeradius/3.0 in the temporary folder (the
  changes of bench/common.py ``freeradius_config``: paths, run-as user, listeners on
  127.0.0.1 at free ports, the client's secret, rlm_sql on the run's database), plus
  rlm_sqlippool enabled (dialect postgresql, otherwise stock module and stock
  ``mods-config/sql/ippool/postgresql/queries.conf``) and called in the default site's
  post-auth (the stock commented line). Users come from rlm_sql: ``radcheck`` holds each
  subscriber's Cleartext-Password and Pool-Name (control); ``radippool`` (the stock ippool
  schema) holds the same /16 as 65,534 free rows (expiry an hour ago).
- ``--repeat R``: R rounds of every configuration, interleaved (round order reversed every
  other round), so that the machine's load hits all of them alike; the summary gives the
  median per configuration, and ratios are taken within a round.

Measured per configuration, across the radclient run: logins/s (requests / wall time until the
last radclient ends), server CPU per login (/proc/PID/task/*/schedstat of the daemons or of
freeradius, all threads; /proc/PID/stat utime+stime beside it), PostgreSQL CPU per login (psutil:
``postgres`` processes whose command line names the run's database, i.e. its own backends;
every ``postgres`` process as an upper bound), load average and /proc/pressure/cpu at the start.

Checks (the run fails when one fails): every request accepted; afterwards, without measuring,
the same files are sent again without ``-q`` (a re-login gets its address again) and every
Accept must carry a Framed-IP-Address, all distinct and equal to what the database holds. The
database: radiusd: one live lease row per subscriber (distinct addresses, distinct owners,
every subscriber present) and one open history row per lease; FreeRADIUS: one unexpired
radippool row per subscriber, distinct addresses and usernames.

Targets (issue): <= 300 µs daemon + PostgreSQL CPU per login with the conditional claim, and
at least 10x less CPU (server + PostgreSQL, own backends) than FreeRADIUS + sqlippool in the
same run.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import itertools
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    FR_DRIVER,
    FR_SCHEMA,
    FR_STOCK,
    PLAN,
    SECRET,
    RadclientRun,
    daemon,
    free_tcp_port,
    free_udp_port,
    freeradius_config,
    freeradius_exe,
    freeradius_server,
    freeradius_version,
    load_sql,
    new_workdir,
    password,
    postgres_database,
    radiusd,
    run_radclients,
    sub1,
    username,
    write_pap_file,
)

POOL = "bench-pool"
RANGE = "10.64.0.0/16"
POOL_SIZE = 65_534
WARM = 1000
TARGET_US = 300.0
TARGET_RATIO = 10.0
FREERADIUS = "FreeRADIUS + sqlippool"
FR_IPPOOL_SCHEMA = FR_STOCK / "mods-config" / "sql" / "ippool" / "postgresql" / "schema.sql"


# -- PostgreSQL ---------------------------------------------------------------------------------


def postgres_cpu(database: str) -> dict[int, tuple[float, bool]]:
    """Per postgres process: CPU seconds (user + system) and whether it serves ``database``
    (its command line, ``postgres: USER DATABASE HOST(PORT) STATE``, names it)."""
    out: dict[int, tuple[float, bool]] = {}
    for p in psutil.process_iter(["name", "cmdline"]):
        if p.info["name"] != "postgres":
            continue
        try:
            t = p.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        out[p.pid] = (t.user + t.system, database in " ".join(p.info["cmdline"] or ()).split())
    return out


def cpu_delta(
    before: dict[int, tuple[float, bool]], after: dict[int, tuple[float, bool]]
) -> tuple[float, float]:
    """(own backends, every process) CPU seconds spent between two samples; a process that
    ended meanwhile is not counted (its CPU is gone from the sample), one that started counts whole."""
    own = total = 0.0
    for pid, (cpu, mine) in after.items():
        spent = cpu - before.get(pid, (0.0, False))[0]
        total += spent
        own += spent if mine else 0.0
    return own, total


def psql(url: str, sql: str) -> list[str]:
    """Rows of ``sql`` (fields ``|``-separated) in the database at ``url``."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    done = subprocess.run(
        ["psql", dsn, "-v", "ON_ERROR_STOP=1", "-Atc", sql], capture_output=True, text=True, check=True
    )
    return done.stdout.splitlines()


def cpu_pressure() -> str:
    """``some avg10`` of /proc/pressure/cpu (share of time runnable tasks waited for a CPU)."""
    with contextlib.suppress(OSError):
        m = re.search(r"some avg10=([\d.]+)", Path("/proc/pressure/cpu").read_text())
        if m:
            return f"{float(m.group(1)):.0f}%"
    return "n/a"


# -- one measurement ----------------------------------------------------------------------------


@dataclass
class Result:
    config: str
    round: int
    run: RadclientRun
    pg_own: float  # CPU seconds of the run database's own backends
    pg_all: float  # CPU seconds of every postgres process
    load: float
    pressure: str
    claims_lost: int | None = None
    gave_up: int | None = None  # logins left unanswered after MAX_CLAIM_ROUNDS lost claims (the NAS retries)
    allocations: list[int] = field(default_factory=list)
    checks: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (found, expected)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(found == expected for found, expected in self.checks.values())

    @property
    def server_us(self) -> float:
        return self.run.daemon_us

    @property
    def pg_us(self) -> float:
        return self.pg_own / self.run.requests * 1e6

    @property
    def pg_all_us(self) -> float:
        return self.pg_all / self.run.requests * 1e6

    @property
    def total_us(self) -> float:
        return self.server_us + self.pg_us


def split(first: int, count: int, parts: int) -> list[tuple[int, int]]:
    """``count`` subscribers from ``first`` in ``parts`` contiguous (first, count) slices."""
    bounds = [first + count * k // parts for k in range(parts + 1)]
    return [(a, b - a) for a, b in itertools.pairwise(bounds)]


def pap_files(workdir: Path, tag: str, first: int, count: int, parts: int) -> list[tuple[Path, int]]:
    files = []
    for k, (start, size) in enumerate(split(first, count, parts)):
        path = workdir / f"{tag}-{k}.txt"
        write_pap_file(path, start, size)
        files.append((path, size))
    return files


def reply_addresses(output: str) -> tuple[int, list[str]]:
    """(Access-Accepts, their Framed-IP-Address values) in radclient's output without ``-q``."""
    accepts = len(re.findall(r"^Received Access-Accept", output, re.M))
    return accepts, re.findall(r"^\s*Framed-IP-Address = (\S+)", output, re.M)


def measure(
    config: str,
    rnd: int,
    dbname: str,
    pids: list[int],
    ports: list[int],
    workdir: Path,
    args: argparse.Namespace,
    counters: Callable[[], tuple[int, list[int], int]] | None = None,
) -> tuple[Result, list[str]]:
    """Warm-up, the measured run and the unmeasured re-login pass against the servers ``pids``
    listening on ``ports`` (one file per server); the result and the addresses in the Accepts.
    ``counters`` (claims lost, allocations per daemon, claims given up) are read just before and
    just after the measured run; the result gets the differences."""
    n, parts = args.subscribers, len(ports)
    warm = pap_files(workdir, "warm", n, WARM, parts)  # other subscribers: measured logins allocate anew
    main = pap_files(workdir, "logins", 0, n, parts)
    w = run_radclients([(f, c, p) for (f, c), p in zip(warm, ports, strict=True)], pids, args.parallel)
    if w.accepted != WARM:
        raise SystemExit(f"[{config}] warm-up: {w.accepted}/{WARM} accepted\n{w.output[-3000:]}")
    time.sleep(1.0)
    counted = counters() if counters is not None else None
    load, pressure = os.getloadavg()[0], cpu_pressure()
    pg0 = postgres_cpu(dbname)
    r = run_radclients([(f, c, p) for (f, c), p in zip(main, ports, strict=True)], pids, args.parallel)
    pg1 = postgres_cpu(dbname)
    own, every = cpu_delta(pg0, pg1)
    res = Result(config, rnd, r, own, every, load, pressure)
    res.checks["measured run: Access-Accepts"] = (r.accepted, n)
    if r.accepted != n:  # reported as a failed check; the rounds go on
        print(f"[{config} #{rnd}] {r.accepted}/{n} accepted:\n{r.output[-600:]}", file=sys.stderr)
    if counters is not None and counted is not None:
        lost, allocations, gave_up = counters()
        res.claims_lost = lost - counted[0]
        res.gave_up = gave_up - counted[2]
        res.allocations = [a - b for a, b in zip(allocations, counted[1], strict=True)]
    again = run_radclients(
        [(f, c, p) for (f, c), p in zip(main, ports, strict=True)], pids, args.parallel, quiet=False
    )
    accepts, addresses = reply_addresses(again.output)
    res.checks["re-login: Access-Accepts"] = (accepts, n)
    res.checks["re-login: Accepts with Framed-IP-Address"] = (len(addresses), n)
    res.checks["re-login: distinct Framed-IP-Address"] = (len(set(addresses)), n)
    print(
        f"[{config} #{rnd}] {r.rate:,.0f} logins/s, server {r.daemon_us:.0f} µs/login (stat "
        f"{r.daemon_us_stat:.0f}), postgres own {res.pg_us:.0f} (all {res.pg_all_us:.0f}), "
        f"total {res.total_us:.0f} µs/login; load {load:.1f}, cpu pressure {pressure}",
        file=sys.stderr,
    )
    return res, addresses


# -- radiusd ------------------------------------------------------------------------------------


def seed_radiusd(url: str, workdir: Path, subscribers: int) -> str:
    """Pool, plan, NAS, subscribers and a read-only API token (returned) through the CLI."""
    radiusd(url, "pool", "add", POOL, "--range", RANGE)
    radiusd(url, "plan", "add", PLAN, "--pool", POOL, "--interim-interval", "300")
    radiusd(url, "nas", "add", "bench", "--address", "127.0.0.1", "--secret", SECRET)
    users = workdir / "users.csv"
    with users.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["username", "password", "plan"])
        for i in range(subscribers + WARM):
            w.writerow([username(i), password(i), PLAN])
    radiusd(url, "subscriber", "import", str(users))
    token: str = json.loads(radiusd(url, "api-token", "create", "bench", "--read-only", "--json"))["token"]
    return token


def scrape(port: int, token: str) -> dict[str, float]:
    """The daemon's unlabelled Prometheus samples from ``/metrics``."""
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        text = resp.read().decode()
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\w+) ([\d.e+-]+)$", text, re.M)}


def verify_leases(url: str, n: int, addresses: list[str]) -> dict[str, tuple[int, int]]:
    """What the lease tables hold after the run, against the logins accepted."""
    total = n + WARM
    live = "state IN ('offered', 'leased')"
    owners = f"owner ~ '^user[0-9]{{5}}$' AND substr(owner, 5)::int < {total}"
    row = psql(
        url,
        f"SELECT count(*), count(DISTINCT address), count(DISTINCT owner),"
        f" count(DISTINCT owner) FILTER (WHERE {owners}),"
        f" (SELECT count(*) FROM service_ip_assignments WHERE released_at IS NULL),"
        f" (SELECT count(DISTINCT address) FROM service_ip_assignments WHERE released_at IS NULL)"
        f" FROM ipv4_ips WHERE {live}",
    )[0].split("|")
    held = set(psql(url, f"SELECT address FROM ipv4_ips WHERE {live}"))
    names = (
        ("live lease rows", total),
        ("distinct addresses", total),
        ("distinct owners", total),
        ("subscribers with a live row", total),
        ("open history rows", total),
        ("open history rows: distinct addresses", total),
    )
    checks = {name: (int(found), expected) for (name, expected), found in zip(names, row, strict=True)}
    checks["re-login addresses held in the lease table"] = (len(set(addresses) & held), n)
    return checks


def bench_radiusd(daemons: int, rnd: int, workdir: Path, args: argparse.Namespace) -> Result:
    config = "radiusd x1" if daemons == 1 else f"radiusd x{daemons} (shared pool)"
    with postgres_database() as url:
        dbname = url.rsplit("/", 1)[1]
        token = seed_radiusd(url, workdir, args.subscribers)
        api_ports = [free_tcp_port() for _ in range(daemons)]
        with contextlib.ExitStack() as stack:
            procs = [
                stack.enter_context(
                    daemon(
                        url,
                        workdir,
                        extra_args=["--api-bind", f"127.0.0.1:{port}"],
                        log_name=f"daemon-{k}.log",
                    )
                )
                for k, port in enumerate(api_ports)
            ]

            def counters() -> tuple[int, list[int], int]:
                metrics = [scrape(port, token) for port in api_ports]
                lost = int(sum(m.get("radiusd_ipam_claims_lost_total", 0) for m in metrics))
                logs = [(workdir / f"daemon-{k}.log").read_text(errors="replace") for k in range(daemons)]
                gave_up = sum(log.count("ipam.claim-gave-up") for log in logs)
                return lost, [int(m.get("radiusd_ipam_allocations_total", 0)) for m in metrics], gave_up

            pids, ports = [d.pid for d in procs], [d.auth_port for d in procs]
            res, addresses = measure(config, rnd, dbname, pids, ports, workdir, args, counters)
        res.checks.update(verify_leases(url, args.subscribers, addresses))
        for k in range(daemons):
            log = (workdir / f"daemon-{k}.log").read_text(errors="replace")
            warnings = [ln for ln in log.splitlines() if "warning" in ln.lower() or "error" in ln.lower()]
            warnings = [
                ln for ln in warnings if "weak-secret" not in ln and "message-authenticator" not in ln
            ]
            if warnings:
                res.notes.append(
                    f"daemon {k}: {len(warnings)} warning/error line(s), first: `{warnings[0][:200]}`"
                )
    return res


# -- FreeRADIUS 3.2 + rlm_sqlippool (--freeradius) ----------------------------------------------


def sqlippool_config(conf: Path) -> None:
    """rlm_sqlippool enabled in the copy ``conf``: dialect postgresql (its stock queries), and
    called in the default site's post-auth (the stock commented-out line)."""
    module = conf / "mods-available" / "sqlippool"
    module.write_text(
        sub1(r'^\tdialect = "mysql"$', '\tdialect = "postgresql"', module.read_text(), "sqlippool")
    )
    (conf / "mods-enabled" / "sqlippool").symlink_to("../mods-available/sqlippool")
    site = conf / "sites-available" / "default"
    text = site.read_text()
    at = text.index("\npost-auth {")
    site.write_text(text[:at] + sub1(r"^#\tsqlippool$", "\tsqlippool", text[at:], "default: post-auth"))


def seed_freeradius(url: str, subscribers: int) -> None:
    """FreeRADIUS's stock schemas; the /16 in radippool; each subscriber's Cleartext-Password and
    Pool-Name in radcheck (rlm_sql's authorize puts ``:=`` check items in the control list)."""
    load_sql(url, FR_SCHEMA)
    load_sql(url, FR_IPPOOL_SCHEMA)
    total = subscribers + WARM
    name = "format('user%s', lpad(g::text, 5, '0'))"
    psql(
        url,
        "INSERT INTO radippool (pool_name, framedipaddress, expiry_time)"
        f" SELECT '{POOL}', '10.64.0.0'::inet + g, now()::timestamp(0) - interval '1 hour'"
        f" FROM generate_series(1, {POOL_SIZE}) g;"
        "INSERT INTO radcheck (username, attribute, op, value)"
        f" SELECT {name}, 'Cleartext-Password', ':=', format('pw-%s-secret', lpad(g::text, 5, '0'))"
        f" FROM generate_series(0, {total - 1}) g;"
        "INSERT INTO radcheck (username, attribute, op, value)"
        f" SELECT {name}, 'Pool-Name', ':=', '{POOL}' FROM generate_series(0, {total - 1}) g;"
        "ANALYZE",
    )
    if password(0) != "pw-00000-secret" or username(0) != "user00000":
        raise RuntimeError("bench/common.py changed its credentials; update seed_freeradius")


def verify_radippool(url: str, n: int, addresses: list[str]) -> dict[str, tuple[int, int]]:
    total = n + WARM
    users = f"username ~ '^user[0-9]{{5}}$' AND substr(username, 5)::int < {total}"
    row = psql(
        url,
        f"SELECT count(*), count(DISTINCT framedipaddress), count(DISTINCT username) FILTER (WHERE {users}),"
        f" (SELECT count(*) FROM radippool) FROM radippool WHERE expiry_time > now()",
    )[0].split("|")
    held = set(psql(url, "SELECT host(framedipaddress) FROM radippool WHERE expiry_time > now()"))
    names = (
        ("unexpired radippool rows", total),
        ("distinct addresses", total),
        ("subscribers with an unexpired row", total),
        ("radippool rows", POOL_SIZE),
    )
    checks = {name: (int(found), expected) for (name, expected), found in zip(names, row, strict=True)}
    checks["re-login addresses held in radippool"] = (len(set(addresses) & held), n)
    return checks


def bench_freeradius(exe: str, rnd: int, workdir: Path, args: argparse.Namespace) -> Result:
    with postgres_database() as url:
        dbname = url.rsplit("/", 1)[1]
        seed_freeradius(url, args.subscribers)
        conf = workdir / "raddb"
        auth_port = freeradius_config(conf, dbname, free_udp_port())
        sqlippool_config(conf)
        with freeradius_server(exe, conf) as pid:
            res, addresses = measure(FREERADIUS, rnd, dbname, [pid], [auth_port], workdir, args)
        res.checks.update(verify_radippool(url, args.subscribers, addresses))
        log = (conf / "log" / "radius.log").read_text(errors="replace").splitlines()
        for level in ("Error", "Warning"):
            found = [ln.split(" : ", 1)[-1] for ln in log if f" : {level}: " in ln]
            if found:
                kinds = sorted({re.sub(r"[\d.:]+", "N", ln)[:90] for ln in found})
                res.notes.append(
                    f"{len(found)} {level} line(s) in radius.log, first: `{found[0][:200]}`; "
                    f"{len(kinds)} kind(s): " + "; ".join(f"`{k}`" for k in kinds[:4])
                )
        failed = sum("IP Allocation FAILED" in ln for ln in log)
        if failed:
            res.notes.append(f"{failed} 'IP Allocation FAILED' line(s) in radius.log")
    return res


# -- report -------------------------------------------------------------------------------------


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    m = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    pg = psql("postgresql://postgres@127.0.0.1:5432/postgres", "SHOW server_version")[0]
    return (
        f"{m.group(1) if m else platform.processor()}, {os.cpu_count()} CPUs, Linux {platform.release()}, "
        f"Python {platform.python_version()}, PostgreSQL {pg}"
    )


def ratio_to(res: Result, results: list[Result]) -> str:
    fr = [r for r in results if r.config == FREERADIUS and r.round == res.round]
    if not fr or res.config == FREERADIUS:
        return "-"
    return f"{fr[0].total_us / res.total_us:.1f}x"


def row(res: Result, results: list[Result], label: str) -> str:
    r = res.run
    lost = "-" if res.claims_lost is None else f"{res.claims_lost:,} / {res.gave_up:,}"
    alloc = "/".join(f"{a:,}" for a in res.allocations) or "-"
    return (
        f"| {label} | {res.load:.1f} / {res.pressure} | {r.rate:,.0f} "
        f"| {r.daemon_us:.0f} ({r.daemon_us_stat:.0f}) "
        f"| {res.pg_us:.0f} ({res.pg_all_us:.0f}) | **{res.total_us:.0f}** | {ratio_to(res, results)} "
        f"| {lost} | {alloc} | {'ok' if res.ok else 'FAILED'} |"
    )


def median_row(config: str, runs: list[Result], fr: list[Result]) -> str:
    rate = statistics.median(r.run.rate for r in runs)
    server = statistics.median(r.server_us for r in runs)
    pg = statistics.median(r.pg_us for r in runs)
    total = statistics.median(r.total_us for r in runs)
    ratios = [
        f.total_us / r.total_us for r in runs for f in fr if f.round == r.round and config != FREERADIUS
    ]
    ratio = f"{statistics.median(ratios):.1f}x" if ratios else "-"
    lost = [r.claims_lost for r in runs if r.claims_lost is not None]
    gave_up = [r.gave_up for r in runs if r.gave_up is not None]
    lost_s = f"{statistics.median(lost):,.0f} / {statistics.median(gave_up):,.0f}" if lost else "-"
    cells = (
        config,
        str(len(runs)),
        f"{rate:,.0f}",
        f"{server:.0f}",
        f"{pg:.0f}",
        f"**{total:.0f}**",
        ratio,
        lost_s,
    )
    return "| " + " | ".join(cells) + " |"


def verdict(median_ok: bool, every_ok: bool) -> str:
    return "met" if every_ok else "met by the median, not by every round" if median_ok else "missed"


def report(results: list[Result], args: argparse.Namespace, command: str, loads: tuple[str, str]) -> str:
    n = args.subscribers
    lines = [
        f"{n:,} PAP logins, each allocating an address from a /16 ({POOL_SIZE:,} addresses), "
        f"`radclient -q -p {args.parallel} -s` (one per server, all at once), PostgreSQL on 127.0.0.1 "
        f"(a fresh database per configuration and round). Rounds interleaved, {args.repeat} of each.",
        "",
        f"Machine: {machine()}; shared with other engineers' test runs. Load average (1/5/15 min) at the "
        f"start: {loads[0]}; at the end: {loads[1]}.",
        "",
        f"Command: `{command}`",
        "",
        "## Summary (median over rounds)",
        "",
        "| configuration | rounds | logins/s | server CPU µs/login | PostgreSQL CPU µs/login (own backends) "
        "| total µs/login | FreeRADIUS total / this (same round) | claims lost to the other node / logins "
        "given up (no reply) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    configs = list(dict.fromkeys(r.config for r in results))
    fr = [r for r in results if r.config == FREERADIUS]
    for config in configs:
        lines.append(median_row(config, [r for r in results if r.config == config], fr))
    lines += [
        "",
        "## Every run",
        "",
        "| round: configuration | load avg / CPU pressure at start | logins/s "
        "| server CPU µs/login, schedstat "
        "(stat) | PostgreSQL CPU µs/login, own backends (all postgres) | total µs/login | FreeRADIUS / this "
        "| claims lost / given up | allocations per daemon | checks |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for res in results:
        lines.append(row(res, results, f"{res.round}: {res.config}"))
    lines.append("")
    for res in results:
        bad = [f"{k}: {f:,} != {e:,}" for k, (f, e) in res.checks.items() if f != e]
        summary = ", ".join(f"{k} {f:,}" for k, (f, _) in res.checks.items())
        lines.append(
            f"- round {res.round}, {res.config}: checks "
            + (f"all ok ({summary})" if not bad else "FAILED: " + "; ".join(bad))
        )
        lines += [f"  - {note}" for note in res.notes]
    lines += ["", "## Targets", ""]
    for config in configs:
        if config == FREERADIUS:
            continue
        runs = [r for r in results if r.config == config]
        total = statistics.median(r.total_us for r in runs)
        worst = max(r.total_us for r in runs)
        lines.append(
            f"- {config}: <= {TARGET_US:.0f} µs daemon + PostgreSQL CPU per login: median {total:.0f}, "
            f"worst {worst:.0f}: **{verdict(total <= TARGET_US, worst <= TARGET_US)}**"
        )
        ratios = [f.total_us / r.total_us for r in runs for f in fr if f.round == r.round]
        if ratios:
            least = min(ratios)
            lines.append(
                f"  - >= {TARGET_RATIO:.0f}x less CPU than FreeRADIUS + sqlippool in the same round: "
                f"{', '.join(f'{x:.1f}x' for x in ratios)}: "
                f"**{verdict(statistics.median(ratios) >= TARGET_RATIO, least >= TARGET_RATIO)}**"
            )
    if args.freeradius:
        lines += [
            "",
            f"{FREERADIUS}: stock FreeRADIUS {args.freeradius_version} (Debian), `freeradius -f -d DIR` on a "
            "copy of /etc/freeradius/3.0: rlm_sql (dialect postgresql, rlm_sql_postgresql, 127.0.0.1:5432, "
            "the run's database loaded with the stock main and ippool PostgreSQL schemas; stock queries, "
            "pool and thread pool) and rlm_sqlippool (dialect postgresql, otherwise stock: stock "
            "queries.conf with "
            '`skip_locked = ""`, lease_duration 3600, pool_key NAS-Port) called in the stock default site\'s '
            "post-auth. Users from rlm_sql (radcheck: Cleartext-Password and Pool-Name `:=`); the stock "
            "authorize section also runs files, -sql (radcheck, radusergroup, radreply), pap; the stock "
            "post-auth also runs -sql (one radpostauth row per login) and exec. Only paths, listeners, "
            "run-as user, the client's secret and the sql module's connection settings differ.",
        ]
    lines += [
        "",
        "Server CPU: the daemons' (summed) or freeradius's threads, /proc/PID/task/*/schedstat across the "
        "measured radclient run (ns; /proc/PID/stat utime+stime, 10 ms ticks, in parentheses). PostgreSQL "
        "CPU: `postgres` processes whose command line names the run's database (psutil; the lease feed's "
        "LISTEN connection included), every `postgres` process in parentheses (WAL writer, checkpointer, "
        "other engineers' databases). Total: server + own backends. Claims lost: the daemons' "
        "`radiusd_ipam_claims_lost_total` from /metrics, its increase across the measured run (items "
        "another node had already taken when this one claimed them; each was claimed again before the "
        "reply); given up: `ipam.claim-gave-up` warnings in the daemons' logs during the measured run (a "
        "login whose claim was lost 32 times in a row gets no reply; radclient retransmits it after its "
        "timeout, and the retransmission is served). Allocations: the increase of each daemon's "
        "`radiusd_ipam_allocations_total`.",
    ]
    return "\n".join(lines) + "\n"


def loadavg() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subscribers", type=int, default=10_000)
    ap.add_argument("--parallel", type=int, default=128, help="radclient -p (default 128)")
    ap.add_argument(
        "--daemons",
        default="1",
        help="radiusd daemons sharing the database; a comma-separated list, one configuration each: 1,2",
    )
    ap.add_argument("--freeradius", action="store_true", help="also stock FreeRADIUS 3.2 + rlm_sqlippool")
    ap.add_argument("--repeat", type=int, default=1, help="rounds of every configuration, interleaved")
    ap.add_argument("--output", type=Path, help="write the Markdown report here")
    args = ap.parse_args()
    counts = [int(x) for x in args.daemons.split(",") if x.strip()]
    exe = None
    if args.freeradius:
        exe = freeradius_exe()
        if exe is None:
            raise SystemExit("--freeradius: `freeradius` is not installed (Debian package freeradius)")
        if not FR_DRIVER.exists():
            raise SystemExit(f"--freeradius: {FR_DRIVER} missing (Debian package freeradius-postgresql)")
        args.freeradius_version = freeradius_version(exe)
    command = "python3 bench/ipam_login_bench.py " + " ".join(sys.argv[1:])
    start_load = loadavg()
    configs: list[int | None] = [*counts, *([None] if exe else [])]
    done: list[tuple[int, int, Result]] = []  # (round, configuration's index, result)
    with tempfile.TemporaryDirectory(prefix="ipam-bench-") as tmp:
        for rnd in range(1, args.repeat + 1):
            order = list(enumerate(configs))
            for index, config in order if rnd % 2 else order[::-1]:
                work = new_workdir(tmp, f"{rnd}-{config or 'freeradius'}")
                if config is None:
                    assert exe is not None
                    done.append((rnd, index, bench_freeradius(exe, rnd, work, args)))
                else:
                    done.append((rnd, index, bench_radiusd(config, rnd, work, args)))
    results = [res for _, _, res in sorted(done, key=lambda t: t[:2])]
    text = report(results, args, command, (start_load, loadavg()))
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(
            "# IPAM logins: one daemon, daemons sharing the pool, FreeRADIUS + sqlippool\n\n" + text
        )
    if not all(r.ok for r in results):
        raise SystemExit("a check failed (see the report)")


if __name__ == "__main__":
    main()
