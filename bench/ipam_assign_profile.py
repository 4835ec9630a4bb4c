"""In-process IPAM assignment harness: IpamService + the real Writer on a fresh PostgreSQL database.

Usage: python3 bench/ipam_assign_profile.py [--logins 10000] [--parallel 128] [--profile FILE]
                                            [--database postgresql|sqlite]

No sockets and no codec: ``--parallel`` assignments are kept in flight (as ``radclient -p``
does) through ``IpamService.assign_nowait`` (as the access policy calls it), each allocating
from a /16 and waiting for the commit of its lease row and history row, so the CPU figures
isolate the allocation + group-commit path. Reported: assignments/s, this process's CPU per
assignment (``time.process_time``) and PostgreSQL's (the backends serving this harness's
database only, matched by their command line). ``--profile`` writes a cProfile dump of the
measured run (``python3 -m pstats FILE``; greenlet switches blur SQLAlchemy's share, py-spy
``record --format raw`` does not).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import postgres_database

from radiusd.config import Settings
from radiusd.logs import configure_logging
from radiusd.policy.directory import SubscriberView
from radiusd.policy.ipam_service import IpamService
from radiusd.store.engine import create_engine, ensure_schema
from radiusd.store.pools import add_pool
from radiusd.store.writer import Writer


class _Nas:
    id = 1
    name = "bench"


class _Request:
    nas = _Nas()


def backend_cpu(database: str) -> float:
    """CPU seconds of the PostgreSQL backends whose command line names ``database``."""
    total = 0.0
    for p in psutil.process_iter(["name", "cmdline"]):
        if p.info["name"] != "postgres" or not any(database in part for part in p.info["cmdline"] or ()):
            continue
        try:
            t = p.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total += t.user + t.system
    return total


async def run(url: str, database: str, logins: int, parallel: int, profile: Path | None) -> dict[str, Any]:
    engine = create_engine(url)
    await ensure_schema(engine)
    await add_pool(engine, "bench", ranges=["10.64.0.0/16"])
    writer = Writer(engine)
    writer.start()
    svc = IpamService(engine, writer, Settings())
    await svc.load()
    subs = [
        SubscriberView(f"user{i:05d}", None, "active", None, None, None, None, None, None, None)
        for i in range(logins + 1000)
    ]
    req: Any = _Request()

    async def storm(first: int, count: int) -> None:
        it = iter(range(first, first + count))
        done = asyncio.get_running_loop().create_future()
        outstanding = 0

        def launch() -> None:
            nonlocal outstanding
            i = next(it, None)
            if i is None:
                if outstanding == 0 and not done.done():
                    done.set_result(None)
                return
            outstanding += 1
            out, commit = svc.assign_nowait(req, subs[i], None, "bench", notes=False)
            assert commit is not None, out.reject_reason
            commit.add_done_callback(finished)

        def finished(fut: asyncio.Future[Any]) -> None:
            nonlocal outstanding
            outstanding -= 1
            fut.result()
            launch()

        for _ in range(parallel):
            launch()
        await done

    await storm(logins, 1000)  # warm-up: connections, prepared statements
    prof = cProfile.Profile() if profile else None
    pg0, cpu0, t0 = backend_cpu(database), time.process_time(), time.perf_counter()
    if prof:
        prof.enable()
    await storm(0, logins)
    if prof:
        prof.disable()
        prof.dump_stats(str(profile))
    t1, cpu1, pg1 = time.perf_counter(), time.process_time(), backend_cpu(database)
    await writer.close()
    await engine.dispose()
    return {
        "rate": logins / (t1 - t0),
        "client_us": (cpu1 - cpu0) / logins * 1e6,
        "pg_us": (pg1 - pg0) / logins * 1e6,
        "batches": writer.batches,
        "committed": writer.committed_ops,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--logins", type=int, default=10_000)
    ap.add_argument("--parallel", type=int, default=128)
    ap.add_argument("--profile", type=Path)
    ap.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    args = ap.parse_args()
    configure_logging(level="warning")  # as the daemon runs in the login benchmark
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    if args.database == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"
            out = asyncio.run(run(url, "-", args.logins, args.parallel, args.profile))
    else:
        with postgres_database() as url:
            database = url.rsplit("/", 1)[1]
            out = asyncio.run(run(url, database, args.logins, args.parallel, args.profile))
    print(
        f"{out['rate']:,.0f} assignments/s, client CPU {out['client_us']:.1f} µs, PostgreSQL CPU "
        f"{out['pg_us']:.1f} µs per assignment ({out['batches']} batches, {out['committed']} ops)"
    )


if __name__ == "__main__":
    main()
