"""PAP logins with address allocation from a /16 pool, PostgreSQL backend (issue 4).

Usage: python3 bench/ipam_login_bench.py [--subscribers 10000] [--parallel 128]
                                         [--output bench/results/ipam.md]

A fresh PostgreSQL database (created and dropped here) with a NAS at 127.0.0.1, a plan whose
pool is ``10.64.0.0/16`` and N cleartext subscribers (plus 1,000 for the warm-up), set up with
the ``radiusd`` CLI; then ``radiusd serve`` and one PAP Access-Request per subscriber from
``radclient -q -p 128 -s -f FILE`` (a 10k-request file). Each login allocates an address
whose lease row (and assignment history row) is committed before the Access-Accept leaves.

Reported: logins/s, the daemon's CPU per login (/proc/PID, all threads) and PostgreSQL's:
the backends serving the benchmark's own database (psutil: ``postgres`` processes whose
command line names that database; delta across the run), and, as an upper bound on a busy
machine, every ``postgres`` process (checkpointer, WAL writer, other databases' backends).
After the run the lease table is checked: one live row per accepted login, no address twice.
Target: >= 8,000 logins/s and <= 100 µs daemon + PostgreSQL CPU per login.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    PLAN,
    SECRET,
    daemon,
    password,
    postgres_database,
    radiusd,
    run_radclient,
    username,
    write_pap_file,
)

POOL = "bench-pool"
RANGE = "10.64.0.0/16"
WARM = 1000
TARGET_RATE = 8000.0
TARGET_US = 100.0


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


def seed(url: str, workdir: Path, subscribers: int) -> None:
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


def live_leases(url: str) -> tuple[int, int]:
    """(live lease rows, distinct addresses among them) straight from PostgreSQL."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    sql = "SELECT count(*), count(DISTINCT address) FROM ipv4_ips WHERE state IN ('offered','leased')"
    out = subprocess.run(["psql", dsn, "-Atc", sql], capture_output=True, text=True, check=True).stdout
    rows, distinct = out.strip().split("|")
    return int(rows), int(distinct)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subscribers", type=int, default=10_000)
    ap.add_argument("--parallel", type=int, default=128)
    ap.add_argument("--output", type=Path)
    args = ap.parse_args()
    n = args.subscribers
    with tempfile.TemporaryDirectory(prefix="ipam-bench-") as tmp, postgres_database() as url:
        workdir = Path(tmp)
        seed(url, workdir, n)
        warm, main_file = workdir / "warm.txt", workdir / "logins.txt"
        write_pap_file(warm, n, WARM)  # other subscribers: the measured logins all allocate anew
        write_pap_file(main_file, 0, n)
        with daemon(url, workdir) as d:
            w = run_radclient(warm, WARM, d.auth_port, d.pid, args.parallel)
            if w.accepted != WARM:
                raise SystemExit(f"warm-up: {w.accepted}/{WARM} accepted\n{w.output}")
            time.sleep(0.5)
            database = url.rsplit("/", 1)[1]
            pg0 = postgres_cpu(database)
            r = run_radclient(main_file, n, d.auth_port, d.pid, args.parallel)
            pg1 = postgres_cpu(database)
        if r.accepted != n:
            raise SystemExit(f"{r.accepted}/{n} accepted\n{r.output}")
        rows, distinct = live_leases(url)
    own, every = cpu_delta(pg0, pg1)
    pg_us, pg_all_us = own / n * 1e6, every / n * 1e6
    total_us = r.daemon_us + pg_us
    ok = rows == distinct == n + WARM
    lines = [
        f"IPAM logins: {n:,} PAP Access-Requests, each allocating from a /16 pool "
        f"(lease row + assignment history committed before the Access-Accept), "
        f"`radclient -p {args.parallel}`, PostgreSQL backend; Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end.",
        "",
        "| logins/s | daemon CPU µs/login | PostgreSQL CPU µs/login (own backends) | total µs/login "
        "| all postgres processes µs/login | accepted | live lease rows (distinct) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {r.rate:,.0f} | {r.daemon_us:.1f} | {pg_us:.1f} | {total_us:.1f} | {pg_all_us:.1f} | "
        f"{r.accepted:,} | {rows:,} ({distinct:,}) |",
        "",
        f"Targets: >= {TARGET_RATE:,.0f} logins/s: {'met' if r.rate >= TARGET_RATE else 'NOT met'}; "
        f"<= {TARGET_US:.0f} µs daemon + PostgreSQL CPU per login: "
        f"{'met' if total_us <= TARGET_US else 'NOT met'}. Lease table consistent: {ok}.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        args.output.write_text(text)
    if not ok:
        raise SystemExit("lease table does not match the accepted logins")


if __name__ == "__main__":
    main()
