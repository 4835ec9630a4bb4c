"""Reply latency of whole sessions below capacity: nothing shed, every phase's p99 bounded.

Usage: python3 bench/acct_latency.py [--subscribers 20000] [--fractions 0.3,0.5,0.7]
                                     [--seconds 30] [--capacity R] [--repeat 1]
                                     [--output bench/results/acct_latency.md]

On a fresh PostgreSQL database (127.0.0.1:5432, dropped afterwards) the ``radiusd`` CLI seeds
a NAS, a pool plan and ``--subscribers`` subscribers; ``radiusd serve`` (one process) runs on
ephemeral ports. ``radiusd loadtest --interims 1`` (Access-Request with an address from the
pool -> Start -> Interim-Update -> Stop) first runs as fast as replies come, which measures the
capacity *in this run* (the machine is shared: a figure from another run would not scale), then
at each fraction of that capacity for ``--seconds``. Per run and packet type: requests, p50 /
p95 / p99 / max reply latency, retransmissions and timeouts. A request the daemon shed
(``overload``: the writer's oldest operation waited past ``max_wait``) is answered only on a
retransmission, 3 s later: so "no retransmission and p99 under 100 ms" up to 70 % of capacity
is the check (exit status 1 when it fails). Also reported: the daemon's drop counters (the
``/metrics`` of its admin API) and PostgreSQL's WAL bytes and checkpoints during each run, and
the daemon's CPU and its event loop's lag (``radiusd_event_loop_lag_seconds``: probes that woke
over 25 / 50 / 100 ms late), which say whether a slow reply waited for the database or for the
loop (the daemon's own work, or a CPU taken by other processes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PLAN, SECRET, daemon, free_tcp_port, postgres_database, radiusd, seed

RANGE = "100.64.0.0/14"
KINDS = ("access", "accounting_start", "accounting_interim", "accounting_stop")
P99_LIMIT_MS = 100.0


def psql(url: str, sql: str) -> str:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    done = subprocess.run(["psql", dsn, "-AXqtc", sql], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def wal_lsn(url: str) -> int:
    return int(psql(url, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))


def checkpoints(url: str) -> int:
    out = psql(url, "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter")
    return int(out or 0)


def scrape(api: str, token: str) -> tuple[dict[str, float], dict[float, float]]:
    """The daemon's ``radiusd_drops`` counters by reason, and its event-loop lag histogram
    (cumulative count by upper bound, ``radiusd_event_loop_lag_seconds``)."""
    req = urllib.request.Request(f"http://{api}/metrics", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        text = resp.read().decode()
    drops: dict[str, float] = {}
    lag: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith("radiusd_drops_total{"):
            reason = line.split('reason="', 1)[1].split('"', 1)[0]
            drops[reason] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("radiusd_event_loop_lag_seconds_bucket{"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            lag[float(bound)] = float(line.rsplit(" ", 1)[1])
    return drops, lag


def lag_summary(before: dict[float, float], after: dict[float, float]) -> str:
    """Probes (every 10 ms) whose wake-up was over 25, 50 and 100 ms late during a run."""
    if not after:
        return "loop lag n/a"
    probes = after[float("inf")] - before.get(float("inf"), 0.0)

    def over(bound: float) -> float:
        return probes - (after[bound] - before.get(bound, 0.0))

    return f"loop lag >25/50/100 ms {over(0.025):.0f}/{over(0.05):.0f}/{over(0.1):.0f} of {probes:,.0f}"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (/proc/PID/stat, clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loadtest(
    auth: int, acct: int, users: Path, rate: str, sessions: int, duration: float | None
) -> dict[str, Any]:
    cmd = ["radiusd", "loadtest", "--server", f"127.0.0.1:{auth}", "--acct-port", str(acct),
           "--secret", SECRET, "--users", str(users), "--rate", rate, "--interims", "1",
           "--sessions", str(sessions), "--json", "--no-progress"]  # fmt: skip
    if duration is not None:
        cmd += ["--duration", str(duration)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except ValueError as exc:
        raise SystemExit(f"loadtest failed: {done.stdout[-2000:]} {done.stderr[-2000:]}") from exc
    return report


def one_run(work: Path, args: argparse.Namespace) -> list[str]:
    lines: list[str] = []
    ok = True
    with postgres_database() as url:
        seed(url, work, args.subscribers)
        radiusd(url, "pool", "add", "lat", "--range", RANGE)
        radiusd(url, "plan", "set", PLAN, "--pool", "lat")
        made = radiusd(url, "api-token", "create", f"bench-{secrets.token_hex(3)}", "--read-only", "--json")
        token = json.loads(made)["token"]
        api = f"127.0.0.1:{free_tcp_port()}"
        users = work / "users.csv"
        with daemon(url, work, extra_args=("--api-bind", api)) as d:
            time.sleep(1.0)
            cap_sessions = args.capacity_sessions
            if args.capacity:
                capacity = args.capacity
            else:
                rep = loadtest(d.auth_port, d.acct_port, users, "max", cap_sessions, None)
                capacity = sum(k["requests_per_second"] for k in rep.values())
                lines.append(
                    f"- capacity (rate max, {cap_sessions:,} sessions): {capacity:,.0f} req/s; stop p99 "
                    f"{rep['accounting_stop']['p99_ms']:.1f} ms"
                )
            header = (
                "| load | req/s sent | phase | requests | p50 ms | p95 ms | p99 ms | max ms | "
                "retransmissions | timeouts |"
            )
            lines += ["", header, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
            for frac in args.fractions:
                rate = capacity * frac
                sessions = max(1, int(rate * args.seconds / 4))
                before, lag_before = scrape(api, token)
                lsn, ckpt = wal_lsn(url), checkpoints(url)
                load = os.getloadavg()[0]
                cpu, began = cpu_seconds(d.pid), time.monotonic()
                rep = loadtest(d.auth_port, d.acct_port, users, f"{rate:.0f}", sessions, None)
                cpu_pct = (cpu_seconds(d.pid) - cpu) / (time.monotonic() - began) * 100
                wal = wal_lsn(url) - lsn
                ckpts = checkpoints(url) - ckpt
                after, lag_after = scrape(api, token)
                shed = {k: v - before.get(k, 0.0) for k, v in after.items() if v - before.get(k, 0.0)}
                sent = sum(k["requests_per_second"] for k in rep.values())
                requests = sum(k["requests"] for k in rep.values())
                for kind in KINDS:
                    k = rep[kind]
                    lines.append(
                        f"| {frac:.0%} | {sent:,.0f} | {kind} | {k['requests']:,} | "
                        f"{k['p50_ms']:.1f} | {k['p95_ms']:.1f} | {k['p99_ms']:.1f} | {k['max_ms']:.1f} | "
                        f"{k['retransmissions']} | {k['timeouts']} |"
                    )
                    late = k["p99_ms"] > P99_LIMIT_MS or k["retransmissions"] or k["timeouts"]
                    if frac <= 0.7 + 1e-9 and late:
                        ok = False
                lines.append(
                    f"| {frac:.0%} | | drops {shed or 'none'}, WAL {wal / requests:,.0f} B/req, "
                    f"checkpoints {ckpts}, load {load:.1f}, daemon CPU {cpu_pct:.0f} %, "
                    f"{lag_summary(lag_before, lag_after)} | | | | | | | |"
                )
                if frac <= 0.7 + 1e-9 and shed.get("overload"):
                    ok = False
                print("\n".join(lines[-5:]), file=sys.stderr)
        if args.keep_log is not None:
            shutil.copy(work / "daemon.log", args.keep_log)
    lines.append("")
    lines.append(f"- up to 70 % of capacity: {'nothing shed, every p99 under 100 ms' if ok else 'FAILED'}")
    args.ok = args.ok and ok
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--subscribers", type=int, default=20_000)
    p.add_argument("--fractions", default="0.3,0.5,0.7")
    p.add_argument("--seconds", type=float, default=30.0, help="seconds of load per fraction")
    p.add_argument("--capacity", type=float, default=0.0, help="req/s (default: measured first)")
    p.add_argument("--capacity-sessions", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--output", type=Path, default=None)
    p.add_argument("--keep-log", type=Path, default=None, help="copy the daemon's log there")
    args = p.parse_args()
    args.fractions = [float(f) for f in args.fractions.split(",")]
    args.ok = True
    text = [
        f"Whole sessions (`radiusd loadtest --interims 1`: login with a pool address, Start, "
        f"Interim-Update, Stop), {args.subscribers:,} subscribers, PostgreSQL, one daemon process; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs shared with the load generator, "
        "PostgreSQL and other work on the machine.",
    ]
    with tempfile.TemporaryDirectory(prefix="radiusd-acct-latency-") as tmp:
        for n in range(args.repeat):
            work = Path(tmp) / f"run-{n}"
            work.mkdir()
            text += ["", f"Run {n + 1}:", *one_run(work, args)]
    out = "\n".join(text) + "\n"
    print(out)
    if args.output is not None:
        args.output.write_text(out)
    if not args.ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
