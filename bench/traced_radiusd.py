"""Run ``radiusd`` under tracemalloc and write a snapshot every few seconds.

Usage: python3 bench/traced_radiusd.py --snapshots DIR [--every 60] [--frames 8] -- RADIUSD-ARGS...

bench/soak.py starts the daemon through this launcher with ``--tracemalloc``, then compares the
snapshot taken after warm-up with the last one: the lines whose live allocations grew are what
holds memory over time. Tracing costs CPU and memory of its own, so a traced run says *where*
memory goes, and the untraced run says *how much*.
"""

from __future__ import annotations

import argparse
import threading
import time
import tracemalloc
from pathlib import Path


def snapshot_every(folder: Path, every: float, stop: threading.Event) -> None:
    """Dump a snapshot to ``folder/NNNNN.snap`` (seconds since start) until ``stop``."""
    started = time.monotonic()
    while not stop.wait(every):
        seconds = int(time.monotonic() - started)
        tracemalloc.take_snapshot().dump(str(folder / f"{seconds:05d}.snap"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--snapshots", type=Path, required=True, help="folder for the snapshot files")
    ap.add_argument("--every", type=float, default=60.0, help="seconds between snapshots")
    ap.add_argument("--frames", type=int, default=8, help="stack frames kept per allocation")
    ap.add_argument("radiusd_args", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    argv = args.radiusd_args[1:] if args.radiusd_args[:1] == ["--"] else args.radiusd_args
    args.snapshots.mkdir(parents=True, exist_ok=True)
    tracemalloc.start(args.frames)
    stop = threading.Event()
    threading.Thread(target=snapshot_every, args=(args.snapshots, args.every, stop), daemon=True).start()
    from radiusd.cli.main import main as radiusd_main

    try:
        radiusd_main(argv)
    finally:
        stop.set()


if __name__ == "__main__":
    main()
