"""The web console's server time per page on a database of 100,000 subscribers.

Seeds (bench/common.seed) 100,000 subscribers, then writes what a busy network leaves behind
straight into the tables: an open session for every other subscriber (address, MAC, NAS port),
the assignment history of each address (three holders over the last days) and 30 days of
usage for every subscriber. Starts ``radiusd serve --api-bind`` on it, logs an operator in and
fetches each page ``--rounds`` times over loopback: the server's own time (the page's
``Server-Timing`` header, from the session check to the rendered page) and the HTTP round trip
the client sees. Target: every page under 200 ms.

    python3 bench/web.py [--sqlite] [--subscribers 100000] [--rounds 20]   # results/web.md
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    calling_station_id,
    daemon,
    free_tcp_port,
    new_workdir,
    postgres_database,
    publish,
    radiusd,
    seed,
    sqlite_url,
    username,
)

OPERATOR, OPERATOR_PASSWORD = "bench-admin", "bench-admin-pw-1"
TARGET_MS = 200.0


def address(i: int) -> str:
    """Subscriber ``i``'s address in 100.64.0.0/10 (the pool covers it)."""
    n = (100 << 24 | 64 << 16) + 256 + i
    return ".".join(str(n >> s & 255) for s in (24, 16, 8, 0))


async def fill(url: str, subscribers: int) -> dict[str, float]:
    """Sessions, assignment history and usage rows (the store's tables, bulk inserts)."""
    import sqlalchemy as sa

    from radiusd.store.engine import create_engine
    from radiusd.store.models import RadiusSession, ServiceIPAssignment, ServiceUsageTracking

    engine = create_engine(url)
    now = dt.datetime.now(dt.UTC)
    today = now.date()
    timings: dict[str, float] = {}
    async with engine.connect() as conn:
        router_id = await conn.scalar(sa.text("SELECT id FROM routers WHERE name = 'bench'"))

    async def insert(table: sa.Table, rows: list[dict[str, object]], label: str) -> None:
        t0 = time.perf_counter()
        for k in range(0, len(rows), 5000):
            async with engine.begin() as conn:
                await conn.execute(sa.insert(table), rows[k : k + 5000])
        timings[label] = timings.get(label, 0.0) + time.perf_counter() - t0

    sessions = [
        {
            "acct_unique_id": f"bench-{i:06d}", "acct_session_id": f"{i:08x}", "username": username(i),
            "router_id": router_id, "nas_address": "127.0.0.1", "nas_port": i,
            "nas_port_id": f"ether{i % 48}",
            "framed_ip": address(i), "calling_station_id": calling_station_id(i),
            "started_at": now - dt.timedelta(hours=3), "updated_at": now, "status": "open",
            "input_octets": 10**8, "output_octets": 10**9,
        }
        for i in range(0, subscribers, 2)
    ]  # fmt: skip
    await insert(RadiusSession.__table__, sessions, "sessions")  # type: ignore[arg-type]
    history = [
        {
            "username": username((i + back * 7919) % subscribers), "address": address(i), "family": 4,
            "pool_name": "cgnat", "router_id": router_id,
            "assigned_at": now - dt.timedelta(days=back + 1), "released_at": now - dt.timedelta(days=back),
        }
        for back in range(3)
        for i in range(subscribers)
    ]  # fmt: skip
    await insert(ServiceIPAssignment.__table__, history, "history")  # type: ignore[arg-type]
    for day in range(30):
        usage = [
            {"username": username(i), "day": today - dt.timedelta(days=day), "input_octets": 10**8 + i,
             "output_octets": 10**9 + i, "session_time": 86400, "sessions": 1}
            for i in range(subscribers)
        ]  # fmt: skip
        await insert(ServiceUsageTracking.__table__, usage, "usage")  # type: ignore[arg-type]
    if url.startswith("postgresql"):
        async with engine.connect() as conn:
            await conn.execute(sa.text("COMMIT"))
            await conn.execute(sa.text("ANALYZE"))
    await engine.dispose()
    return timings


def pages(subscribers: int) -> list[tuple[str, str]]:
    i = subscribers // 2 + 2  # online, in the middle of the table
    return [
        ("dashboard", "/ui/dashboard"),
        ("subscriber search: username prefix", f"/ui/subscribers?q={username(i)[:-2]}"),
        ("subscriber search: address", f"/ui/subscribers?q={address(i)}"),
        ("subscriber search: address at a time", f"/ui/subscribers?q={address(i)}+{dt.date.today()}"),
        ("subscriber search: /24 prefix", f"/ui/subscribers?q={address(i).rsplit('.', 1)[0]}.0/24"),
        ("subscriber search: MAC", f"/ui/subscribers?q={calling_station_id(i).lower().replace(':', '-')}"),
        ("subscriber search: NAS port", f"/ui/subscribers?q=ether{i % 48}&kind=port"),
        ("subscriber page (30 days)", f"/ui/subscribers/{username(i)}"),
        ("subscriber page (90 days)", f"/ui/subscribers/{username(i)}?days=90"),
        ("sessions online", "/ui/sessions"),
        ("sessions online, by NAS", "/ui/sessions?nas=bench"),
        ("sessions online, by pool", "/ui/sessions?pool=cgnat"),
        ("IPAM pools", "/ui/ipam"),
        ("address history", f"/ui/ipam/address?q={address(i)}"),
        ("inventory", "/ui/inventory"),
        ("router page", "/ui/inventory/router/bench"),
        ("NAS", "/ui/nas"),
        ("audit log", "/ui/audit"),
    ]


def measure(base: str, subscribers: int, rounds: int) -> list[tuple[str, float, float, float, float]]:
    out = []
    with httpx.Client(base_url=base, timeout=30) as c:
        form = c.get("/ui/login").text
        token = re.search(r'name="csrf" value="([^"]+)"', form)[1]  # type: ignore[index]
        r = c.post("/ui/login", data={"username": OPERATOR, "password": OPERATOR_PASSWORD, "csrf": token})
        assert r.status_code == 303, r.text
        for name, path in pages(subscribers):
            times, server = [], []
            for _ in range(rounds + 2):
                t0 = time.perf_counter()
                r = c.get(path)
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, (path, r.status_code, r.text[:300])
                server.append(float(r.headers["server-timing"].split("dur=")[1]))
            times = sorted(times[2:])  # two warm-up fetches
            server = sorted(server[2:])
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            out.append((name, statistics.median(server), statistics.median(times), p95, times[-1]))
    return out


def run(url: str, workdir: Path, subscribers: int, rounds: int, *, seeded_already: bool = False) -> str:
    t0 = time.perf_counter()
    filled: dict[str, float] = {}
    if not seeded_already:
        seed(url, workdir, subscribers)
        radiusd(url, "pool", "add", "cgnat", "--range", "100.64.0.0/14")
        subprocess.run(
            ["radiusd", "--database", url, "operator", "add", OPERATOR, "--role", "admin", "--password", "-"],
            input=OPERATOR_PASSWORD + "\n", text=True, check=True, capture_output=True,
        )  # fmt: skip
        filled = asyncio.run(fill(url, subscribers))
    seeded = time.perf_counter() - t0
    port = free_tcp_port()
    with daemon(url, workdir, extra_args=("--api-bind", f"127.0.0.1:{port}")):
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/ui/login", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        rows = measure(f"http://127.0.0.1:{port}", subscribers, rounds)
    lines = [
        f"{subscribers:,} subscribers, {subscribers // 2:,} open sessions, {subscribers * 3:,} assignment "
        f"history rows, {subscribers * 30:,} usage rows ("
        + (f"seeded in {seeded:.0f} s: " + ", ".join(f"{k} {v:.0f} s" for k, v in filled.items())
           if filled else "a database seeded by an earlier run")
        + f"); {rounds} fetches per page "
        "after 2 warm-ups; server time (Server-Timing) and HTTP round trip on loopback (httpx); "
        "shared 2-core machine.",
        "",
        "| page | server median ms | round trip median ms | p95 ms | max ms | p95 under 200 ms |",
        "|---|---:|---:|---:|---:|---|",
    ]  # fmt: skip
    for name, app, median, p95, worst in rows:
        ok = "yes" if p95 < TARGET_MS else "NO"
        lines.append(f"| {name} | {app:.1f} | {median:.1f} | {p95:.1f} | {worst:.1f} | {ok} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "web.md")
    parser.add_argument("--database", metavar="URL", help="seed this database, or reuse it if seeded (kept)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = new_workdir(tmp, "web")
        if args.database:
            listed = subprocess.run(["radiusd", "--database", args.database, "operator", "list"],
                                    capture_output=True, text=True, check=False)  # fmt: skip
            again = OPERATOR in listed.stdout
            backend = "PostgreSQL" if args.database.startswith("postgresql") else "SQLite"
            text = f"## {backend}\n\n" + run(
                args.database, work, args.subscribers, args.rounds, seeded_already=again
            )
        elif args.sqlite:
            text = "## SQLite\n\n" + run(sqlite_url(work), work, args.subscribers, args.rounds)
        else:
            with postgres_database() as url:
                text = "## PostgreSQL\n\n" + run(url, work, args.subscribers, args.rounds)
    publish(args.output, "Web console: server time per page", text)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("RADIUSD_LOG_LEVEL", "warning")
    sys.exit(main())
