"""Import benchmark (a mid-size ISP moving off FreeRADIUS): 100,000 FreeRADIUS subscribers and a
/16 pool with 50,000 live leases, from a SQLite (default) or PostgreSQL FreeRADIUS database into
SQLite or PostgreSQL.

    python bench/import_bench.py [--users 100000] [--leases 50000] [--target URL] [--source pg]

Reports the wall time of ``radiusd import freeradius`` (read + translate + one transaction),
split into its phases, and checks the counts. Target default: a fresh SQLite file.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sqlite3
import tempfile
import time
from pathlib import Path

from radiusd.codec.dictionary import default_dictionary
from radiusd.importer.source import read_tables
from radiusd.importer.translate import Translator
from radiusd.importer.writer import write_import
from radiusd.store.engine import create_engine, ensure_schema

SCHEMA = Path(__file__).resolve().parents[1] / "tests" / "data" / "freeradius" / "sqlite.sql"


def make_source(path: Path, users: int, leases: int) -> str:
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA.read_text())
        conn.execute(
            "INSERT INTO nas (nasname, shortname, type, secret) VALUES ('10.0.0.1', 'bras', 'mikrotik', 's')"
        )
        conn.execute(
            "INSERT INTO radgroupreply (groupname, attribute, op, value) VALUES ('gold', 'Mikrotik-Rate-Limit', ':=', '20M/20M')"  # noqa: E501
        )
        conn.execute(
            "INSERT INTO radgroupcheck (groupname, attribute, op, value) VALUES ('gold', 'Pool-Name', ':=', 'main')"  # noqa: E501
        )
        conn.executemany(
            "INSERT INTO radcheck (username, attribute, op, value) VALUES (?, 'Cleartext-Password', ':=', ?)",
            ((f"user{i:06d}", f"pw{i}") for i in range(users)),
        )
        conn.executemany(
            "INSERT INTO radusergroup (username, groupname, priority) VALUES (?, 'gold', 1)",
            ((f"user{i:06d}",) for i in range(users)),
        )
        rows = []
        for i in range(1, 65535):
            addr = f"10.64.{i >> 8}.{i & 255}"
            user = f"user{i - 1:06d}" if i <= leases else ""
            rows.append((i, addr, future if user else "2000-01-01 00:00:00", user))
        conn.executemany(
            "INSERT INTO radippool (id, pool_name, framedipaddress, nasipaddress, expiry_time, username)"
            " VALUES (?, 'main', ?, '10.0.0.1', ?, ?)",
            rows,
        )
    return f"sqlite:///{path}"


async def run(source: str, target: str) -> None:
    engine = create_engine(target)
    await ensure_schema(engine)
    t0 = time.perf_counter()
    tables, _notes = await read_tables(source)
    t1 = time.perf_counter()
    tr = Translator(default_dictionary())
    data = tr.translate(tables)
    t2 = time.perf_counter()
    report = await write_import(engine, data, tr.report)
    t3 = time.perf_counter()
    await engine.dispose()
    print(f"read {t1 - t0:.2f} s, translate {t2 - t1:.2f} s, write (one transaction) {t3 - t2:.2f} s")
    print(f"total {t3 - t0:.2f} s")
    for kind, per in report.counts.items():
        print(f"  {kind:13} {per}")
    print(f"  not carried over: {len(report.skipped)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--leases", type=int, default=50_000)
    ap.add_argument("--target", help="our database URL (default: a new SQLite file)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        source = make_source(Path(tmp) / "freeradius.sqlite3", args.users, args.leases)
        print(
            f"source built in {time.perf_counter() - start:.1f} s: {args.users} users, /16 pool, {args.leases} live leases"  # noqa: E501
        )
        target = args.target or f"sqlite+aiosqlite:///{Path(tmp) / 'radiusd.sqlite3'}"
        asyncio.run(run(source, target))


if __name__ == "__main__":
    main()
