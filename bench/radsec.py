"""PAP logins over RadSec (RADIUS over TLS, RFC 6614), over RADIUS/1.1 (RFC 9765, the same TLS
with ALPN radius/1.1: no MD5) and over UDP, in the same run.

Usage: python3 bench/radsec.py [--requests 20000] [--window 200] [--subscribers 2000]
                               [--rounds 3] [--output bench/results/radsec.md]

One ``radiusd serve`` (SQLite, one process) with N cleartext subscribers, a UDP NAS at
127.0.0.1 and a RadSec NAS known by its client certificate (a throw-away CA made with
``cryptography``). Per round and transport, an asyncio client keeps ``--window`` PAP
Access-Requests in flight (one UDP socket; one TLS connection: both carry at most 256
outstanding identifiers) until ``--requests`` are answered. The packets are built before the
clock starts (hashlib/hmac, Message-Authenticator included, a fresh authenticator each: no
reply comes from the dedupe cache). Reported: requests/s and the daemon's CPU per request (all
threads, /proc/PID/task/*/schedstat). Every request must get an Access-Accept.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import ssl
import statistics
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from common import (  # noqa: E402
    SECRET,
    daemon,
    free_tcp_port,
    new_workdir,
    password,
    proc_cpu,
    publish,
    radiusd,
    seed,
    sqlite_url,
    username,
)

from tests.integration.radsec_helpers import (  # noqa: E402
    CertificateAuthority,
    access_request,
    access_request11,
)


def packets(total: int, subscribers: int, secret: bytes) -> list[deque[bytes]]:
    """For each identifier, the requests that will use it, in order (built before timing)."""
    per_id: list[deque[bytes]] = [deque() for _ in range(256)]
    for n in range(total):
        i = n % subscribers
        per_id[n % 256].append(access_request(n % 256, username(i), password(i), secret=secret))
    return per_id


def packets11(total: int, subscribers: int) -> list[deque[bytes]]:
    """As :func:`packets` for RADIUS/1.1: a fresh Token per request, whose low octet is the
    slot (there is no Identifier)."""
    per_id: list[deque[bytes]] = [deque() for _ in range(256)]
    for n in range(total):
        i = n % subscribers
        per_id[n % 256].append(access_request11(n.to_bytes(4, "big"), username(i), password(i)))
    return per_id


class Window:
    """Which identifiers are free, and the next packet of each."""

    def __init__(self, per_id: list[deque[bytes]], slot: int = 1) -> None:
        self.per_id = per_id
        self.slot = slot  # the octet of a reply that names its slot: Identifier, or the Token's last
        self.free: deque[int] = deque(i for i in range(256) if per_id[i])
        self.left = sum(len(q) for q in per_id)
        self.accepts = 0
        self.others = 0
        self.resent = 0
        self.done = asyncio.get_running_loop().create_future()

    def next(self) -> bytes | None:
        while self.free:
            ident = self.free.popleft()
            if self.per_id[ident]:
                return self.per_id[ident].popleft()
        return None

    def answered(self, reply: bytes) -> None:
        if reply[0] == 2:
            self.accepts += 1
        else:
            self.others += 1
        self.left -= 1
        self.free.append(reply[self.slot])
        if self.left == 0 and not self.done.done():
            self.done.set_result(None)


async def run_udp(port: int, per_id: list[deque[bytes]], window: int) -> Window:
    """UDP may lose a datagram under load (either side's receive buffer): a request unanswered
    for a second is sent again (then answered from the daemon's dedupe cache; counted)."""
    loop = asyncio.get_running_loop()
    w = Window(per_id)
    sent: dict[int, tuple[float, bytes]] = {}

    class Proto(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: object) -> None:
            if sent.pop(data[1], None) is None:
                return  # a late reply to a resent request
            w.answered(data)
            send(w.next())

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.connect(("127.0.0.1", port))
    transport, _ = await loop.create_datagram_endpoint(Proto, sock=sock)

    def send(packet: bytes | None) -> None:
        if packet is not None:
            sent[packet[1]] = (loop.time(), packet)
            transport.sendto(packet)

    for _ in range(window):
        send(w.next())
    while not w.done.done():
        await asyncio.wait([w.done], timeout=0.5)
        now = loop.time()
        for _ident, (at, packet) in list(sent.items()):
            if now - at > 1.0:
                w.resent += 1
                send(packet)
    transport.close()
    return w


async def run_tls(
    port: int, ctx: ssl.SSLContext, per_id: list[deque[bytes]], window: int, slot: int = 1
) -> Window:
    w = Window(per_id, slot)
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=ctx, server_hostname="radiusd.bench"
    )
    writer.write(b"".join(p for p in (w.next() for _ in range(window)) if p is not None))

    async def read() -> None:
        buf = b""
        while w.left:
            chunk = await reader.read(65536)
            if not chunk:
                raise ConnectionError("the daemon closed the connection")
            buf += chunk
            out = []
            while len(buf) >= 4 and len(buf) >= (n := (buf[2] << 8) | buf[3]):
                w.answered(buf[:n])
                buf = buf[n:]
                nxt = w.next()
                if nxt is not None:
                    out.append(nxt)
            if out:
                writer.write(b"".join(out))

    await asyncio.wait_for(read(), 120)
    writer.close()
    return w


def measure(pid: int, run: object) -> tuple[float, float, Window]:
    """(requests/s, daemon µs/request, the window) of one coroutine run."""
    _, cpu0 = proc_cpu(pid)
    t0 = time.perf_counter()
    w: Window = uvloop.run(run)  # type: ignore[arg-type]
    wall = time.perf_counter() - t0
    _, cpu1 = proc_cpu(pid)
    n = w.accepts + w.others
    return n / wall, (cpu1 - cpu0) / n * 1e6, w


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--window", type=int, default=200)
    ap.add_argument("--subscribers", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "radsec.md")
    args = ap.parse_args()
    if not 1 <= args.window <= 256:
        ap.error("--window: 1 to 256 (RADIUS identifiers per socket or connection)")
    with tempfile.TemporaryDirectory(prefix="radsec-bench-") as tmp:
        work = new_workdir(tmp, "sqlite")
        url = sqlite_url(work)
        seed(url, work, args.subscribers)
        ca = CertificateAuthority(work / "pki")
        server = ca.issue("radiusd.bench", server=True, dns=("radiusd.bench",))
        client = ca.issue("pop.bench")
        radiusd(url, "nas", "add", "pop", "--address", "192.0.2.50", "--secret", SECRET + "-coa",
                "--radsec-fingerprint", client.fingerprint)  # fmt: skip
        tls_port = free_tcp_port()
        os.environ.update(
            RADIUSD_RADSEC="true", RADIUSD_RADSEC_PORT=str(tls_port), RADIUSD_RADSEC_CERT=str(server.cert),
            RADIUSD_RADSEC_KEY=str(server.key), RADIUSD_RADSEC_CA=str(ca.path),
        )  # fmt: skip
        ctx = ssl.create_default_context(cafile=str(ca.path))
        ctx.load_cert_chain(client.cert, client.key)
        ctx11 = ssl.create_default_context(cafile=str(ca.path))
        ctx11.load_cert_chain(client.cert, client.key)
        ctx11.set_alpn_protocols(["radius/1.1"])
        rows: dict[str, list[tuple[float, float]]] = {"udp": [], "radsec": [], "radius11": []}
        version = ""
        with daemon(url, work) as d:
            # warm-up: the PAP fast path's caches, the TLS session
            measure(
                d.pid, run_udp(d.auth_port, packets(2000, args.subscribers, SECRET.encode()), args.window)
            )
            measure(d.pid, run_tls(tls_port, ctx, packets(2000, args.subscribers, b"radsec"), args.window))
            measure(d.pid, run_tls(tls_port, ctx11, packets11(2000, args.subscribers), args.window, slot=7))
            for r in range(args.rounds):
                for kind in ("udp", "radsec", "radius11"):
                    if kind == "udp":
                        per_id = packets(args.requests, args.subscribers, SECRET.encode())
                        coro = run_udp(d.auth_port, per_id, args.window)
                    elif kind == "radsec":
                        per_id = packets(args.requests, args.subscribers, b"radsec")
                        coro = run_tls(tls_port, ctx, per_id, args.window)
                    else:
                        per_id = packets11(args.requests, args.subscribers)
                        coro = run_tls(tls_port, ctx11, per_id, args.window, slot=7)
                    rps, us, w = measure(d.pid, coro)
                    if w.others:
                        raise SystemExit(f"{kind}: {w.others} replies were not Access-Accept")
                    rows[kind].append((rps, us))
                    resent = f", {w.resent} resent" if w.resent else ""
                    print(
                        f"round {r + 1} {kind}: {rps:,.0f} req/s, {us:.1f} µs CPU/request{resent}",
                        file=sys.stderr,
                    )
        version = ssl.OPENSSL_VERSION
    lines = [
        f"PAP Access-Requests, {args.requests} per round and transport, {args.window} in flight, "
        f"{args.subscribers} subscribers, SQLite, one daemon process (uvloop). "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {version}. Client and daemon on one machine.",
        "",
        "| transport | requests/s (median) | daemon CPU µs/request (median) | rounds |",
        "|---|---:|---:|---|",
    ]
    for kind, label in (
        ("udp", "UDP (MD5 shared secret)"),
        ("radsec", "RadSec (TLS 1.3, one connection)"),
        ("radius11", "RADIUS/1.1 (RadSec + ALPN radius/1.1: no MD5)"),
    ):
        rps = statistics.median(x for x, _ in rows[kind])
        us = statistics.median(y for _, y in rows[kind])
        each = ", ".join(f"{x:,.0f}/s {y:.1f} µs" for x, y in rows[kind])
        lines.append(f"| {label} | {rps:,.0f} | {us:.1f} | {each} |")
    publish(args.output, "RadSec and RADIUS/1.1 vs UDP: PAP logins", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
