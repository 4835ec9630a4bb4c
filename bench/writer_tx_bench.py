"""The writer's fixed cost per group commit on PostgreSQL: its transaction begun and committed
on asyncpg directly (operations that write through asyncpg alone, ``raw_postgresql``) against
SQLAlchemy's transaction, alternated.

Usage: python3 bench/writer_tx_bench.py [--rounds 6] [--batches 1500]

One-row batches (one operation each, one ``INSERT ... unnest($1)`` through asyncpg) through
``radiusd.store.writer.Writer`` on a fresh PostgreSQL database (127.0.0.1:5432, dropped
afterwards): the same operation class with and without ``raw_postgresql``, each round
``--batches`` of one then of the other. Reported: the medians of the rounds after the first,
of this process's CPU per batch (``time.process_time``: the writer, SQLAlchemy, asyncpg) and of
the PostgreSQL backend's (its /proc/PID/schedstat). The difference is what the transaction's
BEGIN and COMMIT cost the daemon per batch; a request's share is that over the batch size.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PG_ADMIN_URL

from radiusd.logs import configure_logging
from radiusd.store import rawpg
from radiusd.store.engine import create_engine
from radiusd.store.writer import Writer

DB = "radiusd_writer_tx_bench"


class RawInsert:
    order: ClassVar[int] = 10
    raw_postgresql: ClassVar[bool] = True

    @classmethod
    async def apply_batch(cls, conn: Any, ops: Sequence[Any]) -> None:
        pg = await rawpg.driver(conn)
        await pg.execute("INSERT INTO tx_rows (v) SELECT unnest($1::int[])", [1] * len(ops))

    def rolled_back(self) -> None:
        pass


class SqlAlchemyTransaction(RawInsert):
    raw_postgresql: ClassVar[bool] = False


def _backend_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/schedstat") as fh:
        return int(fh.read().split()[0]) / 1e9


async def bench(rounds: int, batches: int) -> dict[str, list[tuple[float, float]]]:
    admin = await asyncpg.connect(PG_ADMIN_URL)
    await admin.execute(f"DROP DATABASE IF EXISTS {DB}")
    await admin.execute(f"CREATE DATABASE {DB}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{DB}"
    setup = await asyncpg.connect(url)
    await setup.execute("CREATE TABLE tx_rows (v int)")
    await setup.close()
    engine = create_engine("postgresql+asyncpg" + url.removeprefix("postgresql"))
    writer = Writer(engine)
    writer.start()
    results: dict[str, list[tuple[float, float]]] = {"asyncpg": [], "SQLAlchemy": []}
    try:
        await writer.submit(RawInsert())
        raw = rawpg.idle_driver(await writer._connection())
        pid = raw.get_server_pid()
        for r in range(rounds + 1):
            for name, cls in (("asyncpg", RawInsert), ("SQLAlchemy", SqlAlchemyTransaction)):
                cpu0, pg0 = time.process_time(), _backend_cpu(pid)
                for _ in range(batches):
                    await writer.submit(cls())
                cpu, pg = time.process_time() - cpu0, _backend_cpu(pid) - pg0
                if r:  # round 0 warms up
                    results[name].append((cpu / batches * 1e6, pg / batches * 1e6))
    finally:
        await writer.close()
        await engine.dispose()
        await admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        await admin.close()
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--batches", type=int, default=1500)
    args = ap.parse_args()
    configure_logging("console", "warning")
    results = asyncio.run(bench(args.rounds, args.batches))
    print("transaction   daemon µs CPU/batch   PostgreSQL backend µs/batch   (median of rounds; rounds)")
    for name, rows in results.items():
        cpu = statistics.median(c for c, _ in rows)
        pg = statistics.median(p for _, p in rows)
        print(f"{name:12} {cpu:10.1f} {pg:26.1f}   {[round(c) for c, _ in rows]}")


if __name__ == "__main__":
    main()
