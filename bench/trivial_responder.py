"""A minimal, fast RADIUS responder for measuring load generators (``radiusd loadtest``).

Answers every Access-Request with an Access-Accept (Message-Authenticator first, then a
Framed-IP-Address from 10.0.0.0/8) and every Accounting-Request with an Accounting-Response,
both with correct Response Authenticators. It checks nothing and stores nothing: a tight
non-blocking loop over two UDP sockets with epoll, written only with the standard library
(independent of the radiusd codec, so it also cross-checks the generator's datagrams).

    python bench/trivial_responder.py --secret s --port 18120 [--processes 2]

``--processes N`` binds the same ports N times with SO_REUSEPORT (one process each; the
kernel spreads clients by source port). For tests: ``--reject-every N`` answers every Nth
Access-Request with an Access-Reject, ``--drop-every N`` ignores every Nth datagram,
``--drop-first`` ignores the first copy of every distinct datagram (so each request is
answered only when retransmitted byte for byte), ``--no-framed-ip`` leaves the address out.
``--ready-file`` gets ``{"auth": PORT, "acct": PORT}`` once bound; on SIGTERM/SIGINT the first
process writes its counters to ``--summary-file``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import select
import signal
import socket
import struct
import sys
from pathlib import Path
from typing import Any

_HEADER = struct.Struct("!BBH")
_MA_ZERO = b"\x50\x12" + bytes(16)


class Responder:
    """The answering loop of one process, over its authentication and accounting sockets."""

    def __init__(self, auth: socket.socket, acct: socket.socket, args: argparse.Namespace) -> None:
        self.auth = auth
        self.acct = acct
        self.secret: bytes = args.secret.encode()
        self.reject_every: int = args.reject_every
        self.drop_every: int = args.drop_every
        self.drop_first: bool = args.drop_first
        self.framed_ip: bool = not args.no_framed_ip
        self.message_authenticator: bool = not args.no_message_authenticator
        self.counts = {"received": 0, "answered": 0, "dropped": 0, "rejects": 0, "identical_repeats": 0}
        self.seen: set[bytes] = set()
        self.access_count = 0
        self.next_ip = 0x0A000001
        self.running = True

    def answer(self, data: bytes) -> bytes | None:
        """The reply to one datagram, or None to drop it."""
        counts = self.counts
        counts["received"] += 1
        if len(data) < 20:
            return None
        if self.drop_first:
            if data not in self.seen:
                self.seen.add(data)
                counts["dropped"] += 1
                return None
            counts["identical_repeats"] += 1
        if self.drop_every and counts["received"] % self.drop_every == 0:
            counts["dropped"] += 1
            return None
        code, ident, req_auth = data[0], data[1], data[4:20]
        secret = self.secret
        if code == 1:
            self.access_count += 1
            if self.reject_every and self.access_count % self.reject_every == 0:
                code_out, attrs = 3, b""
                counts["rejects"] += 1
            else:
                code_out = 2
                attrs = b""
                if self.framed_ip:
                    attrs = b"\x08\x06" + self.next_ip.to_bytes(4, "big")
                    self.next_ip = self.next_ip + 1 if self.next_ip < 0x0AFFFFFE else 0x0A000001
            if self.message_authenticator:
                body = _MA_ZERO + attrs
                header = _HEADER.pack(code_out, ident, 20 + len(body))
                mac = hmac.digest(secret, header + req_auth + body, "md5")
                body = b"\x50\x12" + mac + attrs
            else:
                body = attrs
                header = _HEADER.pack(code_out, ident, 20 + len(body))
        elif code == 4:
            body = b""
            header = _HEADER.pack(5, ident, 20)
        else:
            return None
        resp = hashlib.md5(header + req_auth + body + secret).digest()
        counts["answered"] += 1
        return header + resp + body

    def serve(self) -> None:
        """Answer until stopped (SIGTERM/SIGINT)."""
        poller = select.epoll()
        socks = {self.auth.fileno(): self.auth, self.acct.fileno(): self.acct}
        for fd, s in socks.items():
            s.setblocking(False)
            poller.register(fd, select.EPOLLIN)
        answer = self.answer
        try:
            while self.running:
                try:
                    events = poller.poll(0.2)
                except InterruptedError:
                    continue
                for fd, _ in events:
                    s = socks[fd]
                    recvfrom, sendto = s.recvfrom, s.sendto
                    for _ in range(512):  # drain, but let the other socket have a turn
                        try:
                            data, addr = recvfrom(4096)
                        except (BlockingIOError, InterruptedError):
                            break
                        reply = answer(data)
                        if reply is not None:
                            try:
                                sendto(reply, addr)
                            except (BlockingIOError, ConnectionRefusedError):
                                self.counts["dropped"] += 1
        finally:
            poller.close()


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        try:
            s.setsockopt(socket.SOL_SOCKET, opt, 1 << 22)
        except OSError:
            pass
    s.bind((host, port))
    return s


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=1812, help="authentication port (0: any free one)")
    p.add_argument("--acct-port", type=int, default=None, help="accounting port (default PORT+1; 0: any)")
    p.add_argument("--secret", default="testing123")
    p.add_argument("--processes", type=int, default=1)
    p.add_argument("--reject-every", type=int, default=0, metavar="N")
    p.add_argument("--drop-every", type=int, default=0, metavar="N")
    p.add_argument("--drop-first", action="store_true")
    p.add_argument("--no-framed-ip", action="store_true")
    p.add_argument("--no-message-authenticator", action="store_true")
    p.add_argument("--ready-file", type=Path)
    p.add_argument("--summary-file", type=Path)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    auth = bind(args.host, args.port)
    acct_port = args.acct_port if args.acct_port is not None else (args.port + 1 if args.port else 0)
    acct = bind(args.host, acct_port)
    ports = {"auth": auth.getsockname()[1], "acct": acct.getsockname()[1]}
    children: list[int] = []
    for _ in range(max(1, args.processes) - 1):
        pid = os.fork()
        if pid == 0:  # child: its own pair of sockets on the same ports
            auth.close()
            acct.close()
            child = Responder(bind(args.host, ports["auth"]), bind(args.host, ports["acct"]), args)
            _on_stop(child)
            child.serve()
            os._exit(0)
        children.append(pid)
    responder = Responder(auth, acct, args)
    _on_stop(responder)
    if args.ready_file is not None:
        tmp = args.ready_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(ports))
        tmp.replace(args.ready_file)
    print(json.dumps(ports), flush=True)
    try:
        responder.serve()
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        if args.summary_file is not None:
            args.summary_file.write_text(json.dumps(responder.counts))
    return 0


def _on_stop(responder: Responder) -> None:
    def stop(signum: int, frame: Any) -> None:
        responder.running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


if __name__ == "__main__":
    sys.exit(main())
