"""The EAP process: the conversations (TLS handshakes, tunnels, inner methods) run here, out
of the daemon's event loop, at a lower CPU priority (``python -m radiusd.eap.worker FD``).

Why a process: a PEAP step costs the event loop ~0.1-0.4 ms of Python (TLS records, the inner
MS-CHAPv2), and the TLS thread pool contends with the loop for the GIL; under a handshake storm
PAP logins and accounting requests waited behind both. Here the daemon only relays the
EAP-Message and State attributes over a socket pair and the kernel schedules this process
after the daemon (``[eap] process_nice``), so a storm costs the loop a relay per step.

The wire (one pickled tuple per SOCK_SEQPACKET message, between two processes of the same
installation, never a network peer):

- daemon -> here: ``("init", EapSettings, nice, log_format, log_level)`` first, then
  ``("step", seq, attributes, framed_mtu, nas, trace)``, ``("cred", seq, name, credential,
  known)`` answering a ``need``, ``("reload", EapSettings)``.
- here -> daemon: ``("done", seq, Outcome, stats)``, ``("need", seq, name)`` (an inner method
  wants a subscriber's credential: the subscribers live in the daemon), ``("reloaded",
  error)``, ``("stats", stats)``.

Closing the socket (the daemon stopped or died) ends this process.
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import sys
from collections import deque
from typing import Any

from radiusd.cpuslice import set_slice
from radiusd.logs import configure_logging, get_logger
from radiusd.model.credentials import Credential

from .engine import EapEngine, Outcome
from .placement import pin
from .settings import EapSettings

log = get_logger("radiusd.eap")

#: the largest message either side sends (a step's attributes: at most one RADIUS packet)
MAX_MESSAGE = 65536
#: seconds between two sweeps of idle conversations at most (their count reaches /metrics)
SWEEP_EVERY = 1.0

#: EapEngine.counts in the order a Stats tuple carries them
COUNT_KEYS = ("started", "accepted", "rejected", "expired", "busy")
#: (counts in COUNT_KEYS order, conversations held, octets buffered, handshakes when changed)
Stats = tuple[tuple[int, ...], int, int, dict[tuple[str, str, bool], int] | None]


def encode(message: tuple[Any, ...]) -> bytes:
    return pickle.dumps(message, pickle.HIGHEST_PROTOCOL)


def send(sock: socket.socket, message: tuple[Any, ...]) -> None:
    """One message (this process's socket blocks: it waits for room when the daemon is behind;
    the daemon's side never waits, see radiusd.eap.process)."""
    sock.sendall(encode(message))


def receive(data: bytes) -> tuple[Any, ...]:
    message = pickle.loads(data)  # noqa: S301  (our own daemon's socket pair, see the docstring)
    if not isinstance(message, tuple) or not message:
        raise ValueError("not a message")
    return message


class Worker:
    """The engine of this process and its side of the socket pair: one thread, one message at
    a time (a TLS step's private-key operation included: this process has nothing else to do,
    and a thread pool would only add wake-ups per step)."""

    def __init__(self, sock: socket.socket, settings: EapSettings) -> None:
        self.sock = sock
        self.engine = EapEngine(settings, inline=True)
        #: messages read while waiting for a credential, handled once the step is done
        self.backlog: deque[tuple[Any, ...]] = deque()
        self.seq = 0  # the step whose method is running (its credential requests carry it)
        self.handshakes_sent = -1
        self.swept: tuple[object, ...] = ()  # the stats the last sweep sent
        self.next_sweep = 0.0

    def run(self) -> None:
        """Until the daemon closes its end of the socket."""
        clock = self.engine.clock
        self.next_sweep = clock() + SWEEP_EVERY
        while True:
            while self.backlog:
                self.handle(self.backlog.popleft())
            self.sock.settimeout(max(self.next_sweep - clock(), 0.001))  # 0 would mean blocking
            try:
                data = self.sock.recv(MAX_MESSAGE)
            except TimeoutError:
                data = None
            if data == b"":
                return
            if data is not None:
                self.handle(receive(data))
            if clock() >= self.next_sweep:
                self.sweep()

    # -- the daemon's messages ------------------------------------------------------------

    def handle(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "step":
            _, seq, attributes, mtu, nas, trace = message
            self.seq = seq
            outcome = self.engine.handle(attributes, self.credential, self.known, mtu, nas, trace)
            assert isinstance(outcome, Outcome)  # inline: never a future
            send(self.sock, ("done", seq, outcome, self.stats()))
        elif kind == "reload":
            before = self.engine.settings.tls_cpus
            try:
                self.engine.reload(message[1])
                if message[1].tls_cpus != before:  # moved only when the set changed
                    pin(message[1].tls_cpus, os.getppid(), home=True)
                send(self.sock, ("reloaded", ""))
            except Exception as exc:  # told to the daemon, which keeps the old settings
                send(self.sock, ("reloaded", str(exc) or type(exc).__name__))

    def stats(self) -> Stats:
        e = self.engine
        c = e.counts
        total = sum(e.handshakes.values())
        handshakes = None
        if total != self.handshakes_sent:  # the dict only when it changed (once per handshake)
            self.handshakes_sent = total
            handshakes = dict(e.handshakes)
        return tuple(c[k] for k in COUNT_KEYS), len(e.conversations), e.buffered, handshakes

    def sweep(self) -> None:
        """Forget idle conversations when their timeout passes (not at the next step), so the
        daemon's /metrics sees them go; again when the oldest one left will be due."""
        engine = self.engine
        engine.sweep()
        stats = self.stats()
        if stats[:3] != self.swept or stats[3] is not None:
            self.swept = stats[:3]
            send(self.sock, ("stats", stats))
        delay = SWEEP_EVERY
        if engine.conversations:
            oldest = next(iter(engine.conversations.values()))
            delay = oldest.last + engine.settings.timeout - engine.clock() + 0.01
        self.next_sweep = engine.clock() + min(max(delay, 0.05), SWEEP_EVERY)

    # -- what the methods ask of the daemon -----------------------------------------------

    def credential(self, name: str) -> Credential | None:
        return self._ask(name)[0]

    def known(self, name: str) -> bool:
        return self._ask(name)[1]

    def _ask(self, name: str) -> tuple[Credential | None, bool]:
        """The daemon's answer for one user name (a round trip, once per authentication: the
        methods ask synchronously); other messages meanwhile wait in the backlog."""
        send(self.sock, ("need", self.seq, name))
        self.sock.settimeout(None)
        while True:
            data = self.sock.recv(MAX_MESSAGE)
            if not data:
                raise EOFError("the daemon closed the EAP socket")
            message = receive(data)
            if message[0] == "cred" and message[2] == name:
                return message[3], message[4]
            self.backlog.append(message)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].isdigit():
        print("usage: python -m radiusd.eap.worker FD (started by radiusd, not by hand)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the process group: the
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # daemon decides, and closes the socket
    sock = socket.socket(fileno=int(args[0]))
    _, settings, nice, log_format, log_level = receive(sock.recv(MAX_MESSAGE))
    configure_logging(log_format, log_level)
    if nice:
        os.nice(nice)
        set_slice(0)  # the daemon's short slice (inherited) is for its loop, not for this work
    pin(settings.tls_cpus, os.getppid())
    worker = Worker(sock, settings)
    try:
        worker.run()
    except EOFError:
        pass
    finally:
        worker.engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
