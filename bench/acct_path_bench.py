"""CPU of the daemon's whole accounting path, in-process, against a real PostgreSQL.

Usage: python3 bench/acct_path_bench.py [--sessions 10000] [--rounds 3] [--window 128]
       [--profile FILE] [--database URL] [--keep]

The daemon is built as ``radiusd serve`` builds it (``radiusd.daemon.Daemon``, started on a
fresh PostgreSQL database with its migrations, sweeps, change feeds and IPAM), on uvloop.
Instead of UDP, datagrams go straight into the accounting dispatcher
(``Dispatcher.datagram_received``) with ``--window`` requests in flight, as ``radclient -p 128``
keeps them: each reply lets the next request in. Each round sends every session's Start, then
its Interim-Update, then its Stop (the attributes ``bench/acct_bench.py`` sends: Acct-Session-Id,
User-Name, NAS-Port, NAS-Port-Type, Framed-IP-Address, Calling-Station-Id, Acct-Delay-Time,
counters with Gigawords on every seventh session), new sessions in every round.

Reported per phase and round: the process's CPU per request (``time.process_time``: the
dispatcher, the accounting policy, the writer, asyncpg's encoding and the event loop's steps,
without the two UDP system calls per request ``acct_bench.py`` also counts) and the writer's
mean batch. PostgreSQL's CPU is not counted (another process). Every request must be answered.
``--profile FILE`` writes a cProfile of the measured rounds (read it with ``pstats``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from acct_bench import PHASES, counters, framed_ip
from common import PG_ADMIN_URL, calling_station_id, seed, username

from radiusd.codec.codes import Code
from radiusd.codec.dictionary import default_dictionary
from radiusd.codec.packet import Packet, encode_request
from radiusd.config import Settings
from radiusd.daemon import Daemon
from radiusd.logs import configure_logging

SECRET = b"benchsecret"
ADDR = ("127.0.0.1", 40000)


def requests(first: int, count: int, phase: str, offset: int) -> list[bytes]:
    """One Accounting-Request of ``phase`` per session (as acct_bench.py's radclient files)."""
    d = default_dictionary()
    out = []
    for i in range(first, first + count):
        stime, ins, outs = counters(i, phase)
        p = Packet(Code.ACCOUNTING_REQUEST, i & 255, dictionary=d)
        p.add("Acct-Status-Type", phase)
        p.add("Acct-Session-Id", f"81{offset + i:06X}")
        p.add("User-Name", username(i))
        p.add("NAS-IP-Address", "127.0.0.1")
        p.add("NAS-Port", i)
        p.add("NAS-Port-Type", "Ethernet")
        p.add("Framed-IP-Address", framed_ip(i))
        p.add("Calling-Station-Id", calling_station_id(i))
        p.add("Acct-Delay-Time", 0)
        p.add("Acct-Session-Time", stime)
        p.add("Acct-Input-Octets", ins & 0xFFFFFFFF)
        p.add("Acct-Output-Octets", outs & 0xFFFFFFFF)
        p.add("Acct-Input-Gigawords", ins >> 32)
        p.add("Acct-Output-Gigawords", outs >> 32)
        p.add("Acct-Input-Packets", ins // 1000)
        p.add("Acct-Output-Packets", outs // 1000)
        if phase == "Stop":
            p.add("Acct-Terminate-Cause", "User-Request")
        out.append(encode_request(p, SECRET))
    return out


async def drive(daemon: Daemon, datagrams: list[bytes], window: int) -> None:
    """Send ``datagrams`` with ``window`` in flight; return when all are answered."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    receive = daemon.acct_dispatcher.datagram_received
    left = iter(datagrams)
    answered = [0]
    total = len(datagrams)

    def next_one() -> None:
        data = next(left, None)
        if data is not None:
            receive(data, ADDR, send)

    def send(reply: bytes, addr: object) -> None:
        if reply[0] != Code.ACCOUNTING_RESPONSE:
            raise AssertionError(f"unexpected reply code {reply[0]}")
        answered[0] += 1
        if answered[0] == total:
            done.set_result(None)
        else:
            loop.call_soon(next_one)

    for _ in range(min(window, total)):
        next_one()
    await asyncio.wait_for(done, 300)


async def bench(url: str, args: argparse.Namespace) -> list[tuple[str, int, float, float]]:
    settings = Settings(database_url=url, bind=("127.0.0.1",), auth_port=0, acct_port=0, log_level="warning")
    daemon = Daemon(settings)
    await daemon.start()
    n = args.sessions
    rows: list[tuple[str, int, float, float]] = []
    gc_time = [0.0, 0.0, 0]  # seconds in collections, start of the current one, collections

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_time[1] = time.process_time()
        else:
            gc_time[0] += time.process_time() - gc_time[1]
            gc_time[2] += 1
            if os.environ.get("ACCT_PATH_GC_TRACE"):
                ms = (time.process_time() - gc_time[1]) * 1e3
                print(f"  gc generation {info['generation']}: {ms:.1f} ms, {info['collected']} collected")

    gc.callbacks.append(on_gc)
    prof = cProfile.Profile(time.process_time) if args.profile else None
    try:
        for r in range(args.rounds + 1):  # round 0 warms up
            batches = {ph: requests(0, n, ph, (r + 1) * n) for ph in PHASES}
            for ph in PHASES:
                b0, ops0 = daemon.writer.batches, daemon.writer.committed_ops
                gc0, gcn0 = gc_time[0], gc_time[2]
                if prof is not None and r:
                    prof.enable()
                t0, sys0 = time.process_time(), os.times().system
                await drive(daemon, batches[ph], args.window)
                spent, system = time.process_time() - t0, os.times().system - sys0
                if prof is not None:
                    prof.disable()
                nb = daemon.writer.batches - b0
                mean = (daemon.writer.committed_ops - ops0) / nb if nb else 0.0
                if r:
                    rows.append((ph, r, spent / n * 1e6, mean))
                    gc_us = (gc_time[0] - gc0) / n * 1e6
                    print(
                        f"round {r} {ph:15} {spent / n * 1e6:7.1f} µs/request "
                        f"(system {system / n * 1e6:.1f})  batch {mean:.0f}  "
                        f"gc {gc_us:.1f} µs/request ({gc_time[2] - gcn0} collections)",
                        flush=True,
                    )
    finally:
        gc.callbacks.remove(on_gc)
        await daemon.stop()
    if prof is not None:
        prof.dump_stats(args.profile)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--window", type=int, default=128)
    ap.add_argument("--profile", metavar="FILE")
    ap.add_argument("--database", help="an existing, seeded PostgreSQL URL (default: a fresh database)")
    args = ap.parse_args()
    configure_logging("console", "warning")
    dbname = f"radiusd_acct_path_{os.getpid()}"
    url = args.database
    created = False
    try:
        if url is None:
            asyncio.run(_admin(f"CREATE DATABASE {dbname}"))
            created = True
            url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{dbname}"
            subprocess.run(["radiusd", "--database", url, "db", "upgrade"], check=True,
                           capture_output=True)  # fmt: skip
            with tempfile.TemporaryDirectory() as tmp:
                seed(url, Path(tmp), args.sessions)
        import uvloop

        rows = uvloop.run(bench(url, args))
    finally:
        if created:
            asyncio.run(_admin(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)"))
    for ph in PHASES:
        us = [u for p, _, u, _ in rows if p == ph]
        print(f"{ph:15} best {min(us):.1f} median {sorted(us)[len(us) // 2]:.1f} µs/request")


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
