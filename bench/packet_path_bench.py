"""CPU micro benchmark of the whole PAP packet path, without sockets or an event loop.

Usage: python3 bench/packet_path_bench.py [--subscribers 10000] [--rounds 3] [--profile]
       [--drive N] [--no-fast-path]

Drives ``Dispatcher.datagram_received`` with pre-built Access-Requests (the attributes
``bench/pap_bench.py`` sends: User-Name, User-Password, NAS-IP-Address, NAS-Port,
Service-Type, Framed-Protocol, Calling-Station-Id, Message-Authenticator) against 10,000
in-memory subscribers with the benchmark plan: NAS lookup, strict decode, dedupe cache,
Message-Authenticator check, subscriber lookup, PAP, Access-Accept with Message-Authenticator,
stats. Reports µs per request; the gap to ``pap_bench.py`` is the event loop and the two
UDP system calls. ``--profile`` prints the cProfile top functions instead.

Instructions per request (callgrind, independent of the machine's load): run twice under
``valgrind --tool=callgrind`` with the same ``--rounds`` and ``--drive 1`` then ``--drive 3``;
the difference of the totals divided by 2 x subscribers. ``--no-fast-path`` sends every
request through the general path (Dispatcher(fast_path=False)).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
from typing import Any

from radiusd.codec.codes import Code
from radiusd.codec.dictionary import default_dictionary
from radiusd.codec.packet import Packet, encode_request
from radiusd.model.request import NasClient
from radiusd.policy.access import AccessPolicy
from radiusd.policy.directory import Directory
from radiusd.server.dispatcher import Dispatcher
from radiusd.server.nas import NasRegistry
from radiusd.store.records import PlanRecord, SubscriberRecord

SECRET = b"benchsecret"
ADDR = ("127.0.0.1", 40000)


def build(subscribers: int, fast_path: bool = True) -> Dispatcher:
    d = default_dictionary()
    directory = Directory(d)
    directory.set_plans([PlanRecord(id=1, name="bench", interim_interval=300, rate_limit="10M/20M")])
    directory.set_subscribers(
        SubscriberRecord(
            id=i, username=f"user{i:05d}", credential=f"cleartext:pw-{i:05d}-secret", plan="bench"
        )
        for i in range(subscribers)
    )
    registry = NasRegistry([NasClient(1, "bench", "127.0.0.1", SECRET)])
    # passed only when off, so the script also runs against trees from before the fast path
    off: dict[str, Any] = {} if fast_path else {"fast_path": False}
    return Dispatcher(
        registry=registry,
        handlers={Code.ACCESS_REQUEST: AccessPolicy(directory, d)},
        dictionary=d,
        **off,
    )


def requests(subscribers: int) -> list[bytes]:
    d = default_dictionary()
    out = []
    for i in range(subscribers):
        p = Packet(Code.ACCESS_REQUEST, i & 255, os.urandom(16), dictionary=d)
        p.add("User-Name", f"user{i:05d}")
        p.set_user_password(f"pw-{i:05d}-secret".encode(), SECRET)
        p.add("NAS-IP-Address", "127.0.0.1")
        p.add("NAS-Port", i)
        p.add("Service-Type", "Framed-User")
        p.add("Framed-Protocol", "PPP")
        p.add("Calling-Station-Id", f"02:00:00:{i >> 16 & 255:02X}:{i >> 8 & 255:02X}:{i & 255:02X}")
        out.append(encode_request(p, SECRET, message_auth=True))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subscribers", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--drive", type=int, default=0, help="drive only N of the rounds (callgrind diffs)")
    ap.add_argument("--no-fast-path", action="store_true")
    args = ap.parse_args()
    dispatcher = build(args.subscribers, fast_path=not args.no_fast_path)
    batches = [requests(args.subscribers) for _ in range(args.rounds + 1)]
    replies: list[bytes] = []

    def send(data: bytes, addr: object) -> None:
        replies.append(data)

    receive = dispatcher.datagram_received
    for data in batches[0]:  # warm-up
        receive(data, ADDR, send)
    assert all(r[0] == Code.ACCESS_ACCEPT for r in replies), "not every request accepted"
    if args.drive:
        for batch in batches[1 : 1 + args.drive]:
            for data in batch:
                receive(data, ADDR, send)
        print(f"drove {args.drive} rounds of {args.subscribers}")
        return
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        for batch in batches[1:]:
            for data in batch:
                receive(data, ADDR, send)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return
    results = []
    for batch in batches[1:]:
        t0 = time.process_time()
        for data in batch:
            receive(data, ADDR, send)
        results.append((time.process_time() - t0) / len(batch) * 1e6)
    assert len(replies) == sum(map(len, batches)) and all(r[0] == Code.ACCESS_ACCEPT for r in replies)
    print(
        "packet path (datagram in -> Access-Accept out, no sockets): "
        + ", ".join(f"{us:.2f}" for us in results)
        + f" µs/request (best {min(results):.2f})"
    )


if __name__ == "__main__":
    main()
