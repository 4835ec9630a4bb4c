"""Memory over time: the daemon's resident set under whole sessions for a long while.

Usage: python3 bench/soak.py [--subscribers 100000] [--rate 1200] [--minutes 30]
                             [--output bench/results/soak] [--tracemalloc SECONDS]

A fresh PostgreSQL database with N cleartext subscribers on a plan whose pool is 100.64.0.0/14
(every login allocates an address), ``radiusd serve`` (one process), and ``radiusd loadtest``
sending whole sessions (Access-Request, Accounting-Start, three Interim-Updates, Stop) at a
fixed rate of first transmissions for the given minutes. The daemon's RSS (/proc/PID/status
VmRSS) is sampled every 5 s. Written: ``OUTPUT.csv`` (seconds, RSS MiB), ``OUTPUT.png`` (the
curve) and ``OUTPUT.md`` (RSS after warm-up and at the end, the slope after warm-up in MiB per
hour, the load test's report). Warm-up: the first fifth of the run, at least 2 minutes.

``--tracemalloc SECONDS`` runs the daemon under tracemalloc (bench/traced_radiusd.py), a
snapshot every SECONDS, and writes ``OUTPUT-tracemalloc.md``: the source lines whose live
allocations grew most between the first snapshot after warm-up and the last. Tracing inflates
RSS and CPU, so use a traced run to find what holds memory and an untraced one for the curve.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PLAN, SECRET, daemon, postgres_database, radiusd, seed

RANGE = "100.64.0.0/14"


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def sample(pid: int, into: list[tuple[float, float]], stop: threading.Event, every: float = 5.0) -> None:
    started = time.monotonic()
    while not stop.is_set():
        into.append((time.monotonic() - started, rss_mib(pid)))
        stop.wait(every)


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of RSS over time, MiB per hour."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(t for t, _ in points) / n
    my = sum(r for _, r in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    return 0.0 if var == 0 else sum((t - mx) * (r - my) for t, r in points) / var * 3600


def growth_report(folder: Path, warm: float, top: int = 25) -> str:
    """The lines whose live allocations grew most from the first post-warm-up snapshot to the last."""
    import tracemalloc

    snaps = sorted(folder.glob("*.snap"))
    later = [p for p in snaps if int(p.stem) >= warm]
    if len(later) < 2:
        return f"tracemalloc: {len(snaps)} snapshots, too few after warm-up to compare\n"
    ignore = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
        tracemalloc.Filter(False, "<unknown>"),
    ]
    first = tracemalloc.Snapshot.load(str(later[0])).filter_traces(ignore)
    last = tracemalloc.Snapshot.load(str(later[-1])).filter_traces(ignore)
    total = sum(s.size for s in last.statistics("filename")) / 2**20
    start = sum(s.size for s in first.statistics("filename")) / 2**20
    lines = [
        f"tracemalloc: traced Python memory {start:.1f} MiB at {int(later[0].stem)} s, "
        f"{total:.1f} MiB at {int(later[-1].stem)} s ({total - start:+.1f} MiB).",
        "",
        "Largest growth by source line (size change, count change, size at the end):",
        "",
        "| where | grew | blocks | now |",
        "|---|---:|---:|---:|",
    ]
    for stat in last.compare_to(first, "lineno")[:top]:
        frame = stat.traceback[0]
        where = "/".join(Path(frame.filename).parts[-2:]) + f":{frame.lineno}"
        grew, now = stat.size_diff / 1024, stat.size / 1024
        lines.append(f"| {where} | {grew:+.0f} KiB | {stat.count_diff:+d} | {now:.0f} KiB |")
    return "\n".join(lines) + "\n"


def plot(points: list[tuple[float, float]], warm: float, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot([t / 60 for t, _ in points], [r for _, r in points], linewidth=1.2)
    ax.axvline(warm / 60, color="grey", linestyle="--", linewidth=0.8, label="end of warm-up")
    ax.set_xlabel("minutes")
    ax.set_ylabel("daemon RSS (MiB)")
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subscribers", type=int, default=100_000)
    ap.add_argument("--rate", type=float, default=1200.0, help="first transmissions per second")
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--output", type=Path, default=Path("bench/results/soak"))
    ap.add_argument("--tracemalloc", type=float, metavar="SECONDS", default=0.0,
                    help="trace allocations, a snapshot every SECONDS")  # fmt: skip
    args = ap.parse_args()
    seconds = args.minutes * 60
    warm = max(120.0, seconds / 5)
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp, postgres_database() as url:
        work = Path(tmp)
        seed(url, work, args.subscribers)
        radiusd(url, "pool", "add", "soak", "--range", RANGE)
        radiusd(url, "plan", "set", PLAN, "--pool", "soak")
        points: list[tuple[float, float]] = []
        stop = threading.Event()
        snapshots = work / "snapshots"
        launcher: tuple[str, ...] = ("radiusd",)
        if args.tracemalloc:
            traced = Path(__file__).resolve().parent / "traced_radiusd.py"
            launcher = (sys.executable, str(traced), "--snapshots", str(snapshots),
                        "--every", str(args.tracemalloc), "--frames", "4", "--")  # fmt: skip
        # a traced start-up (loading every subscriber) is several times slower
        with daemon(url, work, launcher=launcher, start_timeout=600 if args.tracemalloc else 60) as d:
            sampler = threading.Thread(target=sample, args=(d.proc.pid, points, stop), daemon=True)
            sampler.start()
            report = subprocess.run(
                ["radiusd", "loadtest", "--server", f"127.0.0.1:{d.auth_port}",
                 "--acct-port", str(d.acct_port), "--secret", SECRET,
                 "--users", str(work / "users.csv"), "--rate", str(args.rate),
                 "--interims", "3", "--duration", str(seconds), "--sessions", str(10**9), "--json",
                 "--no-progress"],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            stop.set()
            sampler.join()
        traced_report = growth_report(snapshots, warm) if args.tracemalloc else ""
    after = [(t, r) for t, r in points if t >= warm]
    warm_rss = after[0][1] if after else float("nan")
    end_rss = points[-1][1] if points else float("nan")
    rate = slope(after)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.with_suffix(".csv").write_text(
        "seconds,rss_mib\n" + "".join(f"{t:.0f},{r:.1f}\n" for t, r in points)
    )
    title = f"radiusd RSS, {args.subscribers:,} subscribers, {args.rate:.0f} req/s, whole sessions"
    plot(points, warm, args.output.with_suffix(".png"), title)
    try:
        summary = json.loads(report.stdout)
    except ValueError:
        summary = {"output": report.stdout[-2000:], "errors": report.stderr[-2000:]}
    text = "\n".join([
        f"Soak: {args.subscribers:,} subscribers, whole sessions (login with allocation, Start, 3 "
        f"Interim-Updates, Stop) at {args.rate:.0f} first transmissions/s for {args.minutes:g} min, "
        f"PostgreSQL; Python {platform.python_version()}, {os.cpu_count()} CPUs.",
        "",
        f"RSS at the start {points[0][1]:.0f} MiB, after warm-up ({warm / 60:.0f} min) {warm_rss:.0f} MiB, "
        f"at the end {end_rss:.0f} MiB; slope after warm-up {rate:+.1f} MiB/hour.",
        "",
        "Load test report:",
        "```json",
        json.dumps(summary, indent=1)[:6000],
        "```",
    ])  # fmt: skip
    args.output.with_suffix(".md").write_text(text + "\n")
    print(text)
    if traced_report:
        traced_path = args.output.with_name(args.output.name + "-tracemalloc.md")
        traced_path.write_text(traced_report)
        print(traced_report)


if __name__ == "__main__":
    main()
