"""Start-up time of the ``radiusd`` command: ``--version``, ``--help`` and ``nas list`` on SQLite.

Each command runs ``--runs`` times as a fresh process (after one warm-up run, like hyperfine);
the median wall time is what counts, printed with min and max, beside the median CPU time
(user + system) of the process, which a busy machine inflates less than the wall time. The
SQLite file is migrated once beforehand, so ``nas list`` measures the start-up and one read,
not the schema creation.

    python3 bench/cli_startup.py [--runs 15] [--radiusd radiusd] [--json]

Targets: under 0.4 s for ``--version`` and ``--help``, under 0.6 s for ``nas list``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"--version": 0.4, "--help": 0.4, "nas list": 0.6}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_runs(argv: list[str], env: dict[str, str], runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds of ``runs`` runs of ``argv`` (one unmeasured warm-up run first)."""
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    wall, cpu = [], []
    for _ in range(runs):
        cpu_before, start = cpu_seconds(), time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        wall.append(time.perf_counter() - start)
        cpu.append(cpu_seconds() - cpu_before)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--radiusd", default=shutil.which("radiusd") or "radiusd", help="the command to time")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    base = shlex.split(args.radiusd)
    with tempfile.TemporaryDirectory(prefix="radiusd-startup-") as tmp:
        env = dict(os.environ)
        env["RADIUSD_DATABASE_URL"] = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        env.pop("RADIUSD_CONFIG", None)
        subprocess.run([*base, "db", "upgrade"], env=env, check=True, stdout=subprocess.DEVNULL)
        results = {}
        for name in TARGETS:
            wall, cpu = time_runs([*base, *name.split()], env, args.runs)
            results[name] = {
                "median_s": round(statistics.median(wall), 3),
                "min_s": round(min(wall), 3),
                "max_s": round(max(wall), 3),
                "cpu_median_s": round(statistics.median(cpu), 3),
                "target_s": TARGETS[name],
            }
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        head = f"{'command':<12} {'median':>8} {'min':>8} {'max':>8} {'cpu':>8} {'target':>8}"
        print(f"{head}  ({args.runs} runs)")
        for name, r in results.items():
            ok = "ok" if r["median_s"] <= r["target_s"] else "SLOW"
            print(
                f"{name:<12} {r['median_s']:>7.3f}s {r['min_s']:>7.3f}s {r['max_s']:>7.3f}s "
                f"{r['cpu_median_s']:>7.3f}s {r['target_s']:>7.1f}s  {ok}"
            )
    return 0 if all(r["median_s"] <= r["target_s"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
