"""PostgreSQL CPU of one execution of the accounting batch statement, variants alternated.

Usage: python3 bench/acct_stmt_bench.py [--phase Interim-Update] [--batch 1] [--rounds 400]
                                        [--against PATH] [--plans] [--partitions]

The batch-size A/B of ``acct_sql_bench.py`` (whole phases, one run per tree) moves by 10-15 %
between runs on a shared machine, more than most statement changes save. Here each variant
runs in turn on one connection, ``--rounds`` times: one batch of ``--phase`` (the same one every
time, in a transaction rolled back, so nothing accumulates), the backend's CPU read from
/proc/PID/schedstat around the execution alone (bind, executor, result; not BEGIN, COMMIT or
the WAL flush). Medians of the rounds after the first 20 are comparable to a few µs. Meant for
the fixed cost of the statement's shape (small batches): every round rewrites the same rows and
rolls back, so at large batches the dead row versions it leaves make per-row figures run high
(per-row costs: ``acct_sql_bench.py``).

Variants: ``this`` (the statement of the code under PYTHONPATH, as the store sends it);
``floor`` (a statement that only decodes the same parameters: what any statement carrying
them costs); ``--against PATH`` the statement of another tree's
radiusd/store/accounting_pg.py, with the arguments that code builds from the same batch;
``--plans`` this statement under plan_cache_mode force_custom_plan and force_generic_plan.
``--partitions`` first creates the partitions a deployment holds with the default retention
(35 daily interim partitions, 13 monthly closed-record ones) besides those ``db upgrade`` makes.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.util
import statistics
import sys
from pathlib import Path
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent))

from acct_sql_bench import T0, _change
from common import postgres_database, radiusd

from radiusd.model.sessions import Change
from radiusd.policy.sessions import SessionTable
from radiusd.store import accounting_ops, accounting_pg, rawpg
from radiusd.store.accounting_ops import AccountingOp
from radiusd.store.partitions import ACCOUNTING, INTERIMS, create_partition_sql

STORED = 2000  # sessions stored (Start) before the measured batch, which is taken from the middle
WARMUP = 20  # rounds left out: the first five executions are planned each (custom plans)


def _partitions_sql() -> list[str]:
    """The partitions older than T0's that the default retention keeps."""
    out: list[str] = []
    day = T0.date()
    for k in range(1, 36):
        out += create_partition_sql(INTERIMS, day - dt.timedelta(days=k))
    month = day.replace(day=1)
    for _ in range(13):
        month = (month - dt.timedelta(days=1)).replace(day=1)
        out += create_partition_sql(ACCOUNTING, month)
    return out


def _load_against(path: str) -> Any:
    """Another tree's accounting_pg, as a module of this tree's package (its relative imports
    resolve here: the statement and its arguments are what that file builds)."""
    spec = importlib.util.spec_from_file_location(
        "radiusd.store._against_accounting_pg", Path(path) / "radiusd/store/accounting_pg.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


Sent = tuple[str, tuple[Any, ...]]  # a statement and its arguments


async def _capture(url: str, args: argparse.Namespace, modules: dict[str, Any]) -> dict[str, Sent]:
    """Stores the sessions, then (statement, arguments) of one ``--phase`` batch per module."""
    engine = create_async_engine(url)
    table = SessionTable()
    out: dict[str, Sent] = {}
    try:
        async with engine.connect() as conn:
            if args.partitions:
                for sql in _partitions_sql():
                    await conn.execute(sa.text(sql))
                await conn.commit()
            for first in range(0, STORED, 100):
                changes = [_change(table, i, "Start") for i in range(first, first + 100)]
                async with conn.begin():
                    await AccountingOp.apply_batch(conn, [AccountingOp(c) for c in changes])
                for c in changes:
                    c.committed()
            inputs: list[Any] = []

            async def keep_inputs(_conn: Any, *rest: Any) -> tuple[int, set[str]]:
                inputs.extend(rest)
                return 0, set()

            mid = STORED // 2
            batch: list[Change] = [_change(table, i, args.phase) for i in range(mid, mid + args.batch)]
            real_apply, real_driver = getattr(accounting_ops, "_apply_postgresql"), rawpg.driver  # noqa: B009
            setattr(accounting_ops, "_apply_postgresql", keep_inputs)  # noqa: B010
            try:
                async with conn.begin() as tx:
                    await AccountingOp.apply_batch(conn, [AccountingOp(c) for c in batch])
                    await tx.rollback()
            finally:
                setattr(accounting_ops, "_apply_postgresql", real_apply)  # noqa: B010
            for c in reversed(batch):
                c.rollback()

            for name, module in modules.items():
                spy = _Spy()
                setattr(rawpg, "driver", spy.driver)  # noqa: B010
                try:
                    await module._apply_postgresql(conn, *inputs)
                finally:
                    setattr(rawpg, "driver", real_driver)  # noqa: B010
                out[name] = spy.sent
            await conn.commit()
    finally:
        await engine.dispose()
    return out


class _Spy:
    """Stands for the asyncpg connection: keeps the statement and arguments sent to it."""

    sent: Sent

    async def driver(self, _conn: Any) -> _Spy:
        return self

    async def fetchrow(self, sql: str, *params: Any) -> Any:
        self.sent = (sql, params)
        return 0, [], 0


def _cpu(stat: Path) -> int:
    """ns of CPU the backend has run (/proc/PID/schedstat)."""
    return int(stat.read_text().split()[0])


def _floor_sql(sql: str, params: tuple[Any, ...]) -> str:
    """A statement decoding the same parameters (their types as ``sql`` casts them) and
    returning what the batch statement returns, without touching a table."""
    casts = []
    for n in range(1, len(params) + 1):
        at = sql.index(f"${n}::") + len(f"${n}::")
        end = at
        while sql[end] not in ") ,":
            end += 1
        casts.append(f"cardinality(${n}::{sql[at:end]})")
    return f"SELECT txid_current(), ARRAY[]::TEXT[], {' + '.join(casts)}"


async def _measure(url: str, variants: dict[str, tuple[str, tuple[Any, ...], str]], rounds: int) -> None:
    pg = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        stat = Path(f"/proc/{await pg.fetchval('SELECT pg_backend_pid()')}/schedstat")
        prepared = {name: await pg.prepare(sql) for name, (sql, _, _) in variants.items()}
        spent: dict[str, list[float]] = {name: [] for name in variants}
        for k in range(rounds + WARMUP):
            for name, (_, params, mode) in variants.items():
                tx = pg.transaction()
                await tx.start()
                await pg.execute(f"SET LOCAL plan_cache_mode = {mode}")
                before = _cpu(stat)
                await prepared[name].fetchrow(*params)
                after = _cpu(stat)
                await tx.rollback()
                if k >= WARMUP:
                    spent[name].append((after - before) / 1000)
        for name, values in spent.items():
            q = statistics.quantiles(values, n=4)
            print(f"  {name}: median {q[1]:.1f} µs (quartiles {q[0]:.1f}-{q[2]:.1f})", file=sys.stderr)
    finally:
        await pg.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--phase", default="Interim-Update", choices=("Start", "Interim-Update", "Stop"))
    p.add_argument("--batch", type=int, default=1, help="requests in the batch (default 1)")
    p.add_argument("--rounds", type=int, default=400)
    p.add_argument("--against", metavar="PATH", help="another tree whose statement to alternate with")
    p.add_argument("--plans", action="store_true", help="also force custom and generic plans")
    p.add_argument("--partitions", action="store_true", help="the partitions of the default retention")
    args = p.parse_args()
    modules: dict[str, Any] = {"this": accounting_pg}
    if args.against:
        modules["against"] = _load_against(args.against)
    with postgres_database() as url:
        radiusd(url, "db", "upgrade")
        captured = asyncio.run(_capture(url, args, modules))
        sql, params = captured["this"]
        variants = {name: (s, a, "auto") for name, (s, a) in captured.items()}
        variants["floor"] = (_floor_sql(sql, params), params, "auto")
        if args.plans:
            variants["this, custom plans"] = (sql, params, "force_custom_plan")
            variants["this, generic plan"] = (sql, params, "force_generic_plan")
        print(f"{args.phase}, batch of {args.batch}, {args.rounds} rounds:", file=sys.stderr)
        asyncio.run(_measure(url, variants, args.rounds))


if __name__ == "__main__":
    main()
