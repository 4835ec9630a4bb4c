"""``radiusd serve --workers 1`` against ``--workers 2`` on PostgreSQL, driven by ``radiusd loadtest``.

Usage: python3 bench/workers_bench.py [--subscribers 20000] [--sessions 20000] [--rounds 2]
                                      [--concurrency 512] [--loadtest-workers 1]
                                      [--output bench/results/workers.md]

One fresh PostgreSQL database on 127.0.0.1:5432 (dropped afterwards), seeded through the CLI
(NAS at 127.0.0.1, plan ``bench``, N cleartext subscribers, no pool). For each worker count,
``radiusd serve --workers W`` runs on ephemeral ports and is warmed up, then per round one
``radiusd loadtest --interims 1 --json`` run: whole sessions, Access-Request (PAP) ->
Accounting Start -> Interim-Update -> Stop, from several UDP source ports (the load tester's
sockets, which SO_REUSEPORT spreads over the workers).

Reported per round: requests/s per packet type and in total, p50/p99, and CPU µs per request
of the daemon (supervisor and every worker, all threads, /proc/PID/task/*/schedstat) and of
the PostgreSQL backends of the benchmark's database (psutil). The load tester runs on the same
machine: on a box with few cores it competes with the workers, and the figures say so.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SECRET, new_workdir, postgres_database, proc_cpu, publish, seed


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    auth_port: int
    acct_port: int
    pids: list[int]  # supervisor first, then the workers


@contextlib.contextmanager
def serve(url: str, workdir: Path, workers: int) -> Iterator[Served]:
    """``radiusd serve --workers W`` on ephemeral ports until the block ends."""
    ready = workdir / f"ready-{uuid.uuid4().hex[:6]}.json"
    env = dict(os.environ, RADIUSD_READY_FILE=str(ready), RADIUSD_LOG_LEVEL="warning")
    cmd = ["radiusd", "--database", url, "serve", "--bind", "127.0.0.1", "--auth-port", "0"]
    cmd += ["--acct-port", "0", "--workers", str(workers)]
    with (workdir / f"daemon-{workers}.log").open("ab") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while not ready.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"radiusd serve --workers {workers} did not start; see {log.name}")
                time.sleep(0.05)
            time.sleep(0.05)
            bound = json.loads(ready.read_text())
            yield Served(
                proc, bound["auth"][0][1], bound["acct"][0][1], [proc.pid, *bound.get("workers", [])]
            )
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def daemon_cpu(pids: list[int]) -> float:
    return sum(proc_cpu(pid)[1] for pid in pids)


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


def loadtest(s: Served, users: Path, sessions: int, concurrency: int, processes: int) -> dict[str, object]:
    cmd = ["radiusd", "loadtest", "--server", f"127.0.0.1:{s.auth_port}", "--acct-port", str(s.acct_port)]
    cmd += ["--secret", SECRET, "--users", str(users), "--sessions", str(sessions), "--interims", "1"]
    cmd += ["--concurrency", str(concurrency), "--workers", str(processes), "--json", "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"radiusd loadtest failed: {done.stderr.strip()}")
    report: dict[str, object] = json.loads(done.stdout)
    return report


@dataclass
class Round:
    workers: int
    report: dict[str, dict[str, float]]
    wall: float
    daemon_cpu: float
    db_cpu: float
    load: float

    @property
    def requests(self) -> int:
        return int(sum(k["requests"] for k in self.report.values()))

    @property
    def timeouts(self) -> int:
        return int(sum(k["timeouts"] for k in self.report.values()))

    def rate(self, kind: str | None = None) -> float:
        if kind is None:
            return sum(k["requests_per_second"] for k in self.report.values())
        return self.report.get(kind, {}).get("requests_per_second", 0.0)

    def us(self, seconds: float) -> float:
        return seconds / self.requests * 1e6 if self.requests else 0.0


def bench(url: str, database: str, workdir: Path, args: argparse.Namespace) -> list[Round]:
    t0 = time.perf_counter()
    seed(url, workdir, args.subscribers)
    print(f"seeded {args.subscribers} subscribers in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    users = workdir / "users.csv"
    rounds: list[Round] = []
    for workers in (1, 2):
        with serve(url, workdir, workers) as s:
            loadtest(s, users, min(2000, args.sessions), args.concurrency, args.loadtest_workers)  # warm
            for rnd in range(args.rounds):
                load = os.getloadavg()[0]
                pg0, c0, w0 = postgres_cpu(database), daemon_cpu(s.pids), time.perf_counter()
                report = loadtest(s, users, args.sessions, args.concurrency, args.loadtest_workers)
                wall = time.perf_counter() - w0
                c1, pg1 = daemon_cpu(s.pids), postgres_cpu(database)
                db = sum(cpu - pg0.get(pid, 0.0) for pid, cpu in pg1.items())
                r = Round(workers, report, wall, c1 - c0, db, load)  # type: ignore[arg-type]
                rounds.append(r)
                print(
                    f"--workers {workers} round {rnd + 1}: {r.rate():,.0f} req/s "
                    f"(access {r.rate('access'):,.0f}/s), daemon {r.us(r.daemon_cpu):.0f} µs/req, "
                    f"PostgreSQL {r.us(r.db_cpu):.0f} µs/req, timeouts {r.timeouts}, load {load:.1f}",
                    file=sys.stderr,
                )
    return rounds


def table(rounds: list[Round], args: argparse.Namespace) -> str:
    lines = [
        f"`radiusd loadtest --interims 1` (Access-Request PAP -> Start -> Interim -> Stop), "
        f"{args.sessions:,} sessions per round, concurrency {args.concurrency}, "
        f"{args.loadtest_workers} load-tester process(es), {args.subscribers:,} subscribers, PostgreSQL "
        f"on 127.0.0.1; {platform.machine()}, {os.cpu_count()} CPUs (load tester on the same machine).",
        "",
        "| serve | round | total req/s | access req/s | accounting req/s | p99 access ms | "
        "daemon µs/req | PostgreSQL µs/req | timeouts | load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(rounds):
        acct = r.rate() - r.rate("access")
        p99 = r.report.get("access", {}).get("p99_ms", 0.0)
        lines.append(
            f"| --workers {r.workers} | {i % args.rounds + 1} | {r.rate():,.0f} | {r.rate('access'):,.0f} | "
            f"{acct:,.0f} | {p99} | {r.us(r.daemon_cpu):.0f} | {r.us(r.db_cpu):.0f} | {r.timeouts} | "
            f"{r.load:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=512)
    parser.add_argument("--loadtest-workers", type=int, default=1)
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "workers.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, postgres_database() as url:
        database = url.rsplit("/", 1)[1]
        rounds = bench(url, database, new_workdir(tmp, "pg"), args)
    publish(args.output, "serve --workers 1 vs 2 (PostgreSQL)", table(rounds, args))


if __name__ == "__main__":
    main()
