"""Run ``radiusd`` with probes on its event loop, for bench/eap.py ``--probe``.

Usage: python3 bench/eap_probe.py --out FILE -- RADIUSD-ARGS...

What delays a PAP request while an EAP storm runs? The probes write, at exit, JSON with:

- ``eap_step``: the event loop thread's CPU time (``time.thread_time``) per EAP step handled
  on the loop (``EapAccess.handle``; the part before a TLS step goes to the pool), and
  ``eap_finish`` the part after it (the pool's callback, also on the loop);
- ``pool``: the TLS pool thread's CPU time per handshake step (``TlsBased.blocking``);
- ``lag``: a 1 ms timer on the loop, each late wake-up with how long the loop thread ran and
  how long it waited for a CPU meanwhile (``/proc/self/task/TID/schedstat``): the rest of a
  delay is the thread sleeping, e.g. on the GIL while another thread holds it;
- ``gc``: each collection's generation and pause.

The probes cost CPU of their own: a probed run says *where* time goes, not how much CPU a
login costs (bench/eap.py measures that without them).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import threading
import time
from pathlib import Path
from typing import Any


def install(stats: dict[str, list[Any]]) -> None:
    from radiusd import daemon
    from radiusd.eap import methods
    from radiusd.policy import eap_access

    handle, blocking, finish = eap_access.EapAccess.handle, methods.TlsBased.blocking, methods.TlsBased.finish

    def probed_handle(self: Any, req: Any, engine: Any) -> Any:
        c0 = time.thread_time()
        try:
            return handle(self, req, engine)
        finally:
            stats["eap_step"].append(time.thread_time() - c0)

    def probed_blocking(self: Any) -> Any:
        c0 = time.thread_time()
        try:
            return blocking(self)
        finally:
            if threading.current_thread() is not threading.main_thread():
                stats["pool"].append(time.thread_time() - c0)

    def probed_finish(self: Any, result: Any) -> Any:
        c0 = time.thread_time()
        try:
            return finish(self, result)
        finally:
            stats["eap_finish"].append(time.thread_time() - c0)

    eap_access.EapAccess.handle = probed_handle  # type: ignore[method-assign]
    methods.TlsBased.blocking = probed_blocking  # type: ignore[method-assign]
    methods.TlsBased.finish = probed_finish  # type: ignore[method-assign]

    async def lag() -> None:
        path = f"/proc/self/task/{threading.get_native_id()}/schedstat"

        def sched() -> tuple[float, float]:
            with open(path) as f:
                ran, waited, _ = f.read().split()
            return int(ran) / 1e9, int(waited) / 1e9

        while True:
            t0, (r0, w0) = time.perf_counter(), sched()
            await asyncio.sleep(0.001)
            late = time.perf_counter() - t0 - 0.001
            if late > 0.001:
                r1, w1 = sched()
                stats["lag"].append((late, r1 - r0, w1 - w0))
            stats["ticks"].append(late)

    serve = daemon.serve

    async def probed_serve(*args: Any, **kwargs: Any) -> None:
        task = asyncio.get_running_loop().create_task(lag())
        try:
            await serve(*args, **kwargs)
        finally:
            task.cancel()

    daemon.serve = probed_serve
    started: list[float] = []

    def collected(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[:] = [time.perf_counter()]
        elif started:
            stats["gc"].append((info["generation"], time.perf_counter() - started[0]))

    gc.callbacks.append(collected)


def summary(path: Path) -> list[str]:
    """Plain lines for bench/results/eap.md from a probe file."""
    s = json.loads(path.read_text())

    def dist(values: list[float]) -> str:
        v = sorted(values)
        if not v:
            return "none"
        q = [v[min(len(v) - 1, int(p * len(v)))] * 1e3 for p in (0.5, 0.99, 0.999)]
        return f"n {len(v)}, p50 {q[0]:.3f}, p99 {q[1]:.3f}, p99.9 {q[2]:.3f}, max {v[-1] * 1e3:.3f} ms"

    lags = s["lag"]
    late = sum(d for d, _, _ in lags)
    ran = sum(r for _, r, _ in lags)
    waited = sum(w for _, _, w in lags)
    lines = [
        f"- loop CPU per EAP step (before the pool): {dist(s['eap_step'])}",
        f"- loop CPU per step after a pool step (finish): {dist(s['eap_finish'])}",
        f"- pool thread CPU per TLS handshake step: {dist(s['pool'])}",
        f"- 1 ms timer on the loop, lateness: {dist(s['ticks'])}",
        f"- late by over 1 ms: {len(lags)} times, {late * 1e3:.0f} ms in all, of which the loop thread "
        f"ran {ran * 1e3:.0f} ms and waited for a CPU {waited * 1e3:.0f} ms (the rest, "
        f"{max(0.0, late - ran - waited) * 1e3:.0f} ms, asleep: the GIL, or the timer's 1 ms resolution)",
    ]
    for generation in (0, 1, 2):
        pauses = [d for g, d in s["gc"] if g == generation]
        lines.append(f"- garbage collection, generation {generation}: {dist(pauses)}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="JSON file written at exit")
    ap.add_argument("radiusd_args", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    argv = args.radiusd_args[1:] if args.radiusd_args[:1] == ["--"] else args.radiusd_args
    stats: dict[str, list[Any]] = {k: [] for k in ("eap_step", "eap_finish", "pool", "lag", "ticks", "gc")}
    install(stats)
    from radiusd.cli.main import main as radiusd_main

    try:
        radiusd_main(argv)
    finally:
        args.out.write_text(json.dumps(stats))


if __name__ == "__main__":
    main()
