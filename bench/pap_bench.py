"""PAP logins against the daemon as users run it, driven by FreeRADIUS radclient.

Usage: python3 bench/pap_bench.py [--subscribers 10000] [--rounds 3] [--parallel 128]
                                  [--postgres] [--no-sqlite] [--output bench/results/pap.md]

For each backend: a fresh database with a plan (Mikrotik-Rate-Limit, Acct-Interim-Interval),
a NAS at 127.0.0.1 that requires Message-Authenticator and N cleartext subscribers imported
with ``radiusd subscriber import``; then ``radiusd serve`` on ephemeral ports and, per round,
one PAP Access-Request per subscriber from ``radclient -q -p 128 -s -f FILE`` (one 10k file
per round: radclient slows down on bigger files). Reported per round: wall time, requests/s,
the daemon's CPU per request (all threads, from /proc/PID/task/*/schedstat; the tick-based
/proc/PID/stat figure beside it) and radclient's own CPU per request. Every request must
get an Access-Accept. Target: at most 20 µs of daemon CPU per request.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    RadclientRun,
    daemon,
    new_workdir,
    postgres_database,
    proc_cpu,
    publish,
    run_radclient,
    seed,
    sqlite_url,
    write_pap_file,
)

TARGET_US = 20.0
FILE_SIZE = 10_000


def bench_backend(name: str, url: str, workdir: Path, args: argparse.Namespace) -> list[RadclientRun]:
    seconds = seed(url, workdir, args.subscribers)
    print(f"[{name}] imported {args.subscribers} subscribers in {seconds:.2f} s", file=sys.stderr)
    files = []
    for first in range(0, args.subscribers, FILE_SIZE):
        count = min(FILE_SIZE, args.subscribers - first)
        path = workdir / f"pap-{first}.txt"
        write_pap_file(path, first, count)
        files.append((path, count))
    warm = workdir / "warm.txt"
    write_pap_file(warm, 0, min(1000, args.subscribers))
    runs: list[RadclientRun] = []
    with daemon(url, workdir) as d:
        run_radclient(warm, min(1000, args.subscribers), d.auth_port, d.pid, args.parallel)
        _, idle0 = proc_cpu(d.pid)
        time.sleep(1.0)
        _, idle1 = proc_cpu(d.pid)
        print(f"[{name}] daemon idle CPU: {(idle1 - idle0) * 1e3:.2f} ms/s", file=sys.stderr)
        for rnd in range(args.rounds):
            for path, count in files:
                r = run_radclient(path, count, d.auth_port, d.pid, args.parallel)
                runs.append(r)
                print(
                    f"[{name}] round {rnd + 1}: {r.rate:,.0f} req/s, daemon {r.daemon_us:.1f} µs/req, "
                    f"radclient {r.radclient_us:.1f} µs/req, accepted {r.accepted}/{r.requests}",
                    file=sys.stderr,
                )
                if r.accepted != count:
                    raise SystemExit(f"[{name}] not every request accepted:\n{r.output}")
    return runs


def table(results: dict[str, list[RadclientRun]], args: argparse.Namespace) -> str:
    lines = [
        f"PAP Access-Requests (cleartext credential, Message-Authenticator both ways, plan with "
        f"Mikrotik-Rate-Limit + Acct-Interim-Interval), {args.subscribers:,} subscribers, "
        f"`radclient -p {args.parallel}`, 10k-request files; "
        f"Python {platform.python_version()}, {platform.machine()}, uvloop.",
        "",
        "| backend | run | requests | wall s | req/s | accepted | daemon µs CPU/req | "
        "(from /proc stat ticks) | radclient µs CPU/req |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, runs in results.items():
        for i, r in enumerate(runs, 1):
            lines.append(
                f"| {name} | {i} | {r.requests:,} | {r.wall:.3f} | {r.rate:,.0f} | {r.accepted:,} | "
                f"{r.daemon_us:.1f} | {r.daemon_us_stat:.0f} | {r.radclient_us:.1f} |"
            )
        reqs = sum(r.requests for r in runs)
        wall = sum(r.wall for r in runs)
        lines.append(
            f"| **{name}** | **all** | {reqs:,} | {wall:.3f} | **{reqs / wall:,.0f}** | "
            f"{sum(r.accepted for r in runs):,} | "
            f"**{sum(r.daemon_cpu_sched for r in runs) / reqs * 1e6:.1f}** "
            f"(median {statistics.median(r.daemon_us for r in runs):.1f}) | "
            f"{sum(r.daemon_cpu_stat for r in runs) / reqs * 1e6:.0f} | "
            f"{sum(r.radclient_cpu for r in runs) / reqs * 1e6:.1f} |"
        )
    lines += ["", f"Target: at most {TARGET_US:.0f} µs of daemon CPU per request (the PAP performance goal)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--subscribers", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=3, help="times every subscriber logs in (default 3)")
    p.add_argument("--parallel", type=int, default=128, help="radclient -p (default 128)")
    p.add_argument("--postgres", action="store_true", help="also run on PostgreSQL at 127.0.0.1:5432")
    p.add_argument("--no-sqlite", action="store_true", help="skip the SQLite run")
    p.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "results" / "pap.md")
    args = p.parse_args()
    results: dict[str, list[RadclientRun]] = {}
    with tempfile.TemporaryDirectory(prefix="radiusd-bench-") as tmp:
        if not args.no_sqlite:
            work = new_workdir(tmp, "sqlite")
            results["SQLite"] = bench_backend("SQLite", sqlite_url(work), work, args)
        if args.postgres:
            work = new_workdir(tmp, "pg")
            with postgres_database() as url:
                results["PostgreSQL"] = bench_backend("PostgreSQL", url, work, args)
    publish(args.output, "PAP benchmark (bench/pap_bench.py)", table(results, args))


if __name__ == "__main__":
    main()
