"""The load generator: sessions over many UDP sockets, retransmission, pacing, worker processes.

Each session has at most one request in flight. A request takes a free Identifier on one of
the sockets of its port (each socket has its own 256), and its reply is matched by socket
and Identifier, then checked (Response Authenticator, and Message-Authenticator when the
reply has one) before it counts; anything else is a bad reply and ignored, as a NAS would.
Unanswered requests are sent again, byte for byte (same Identifier and authenticator), every
``timeout`` seconds up to ``retries`` times, then counted as timeouts. Because the timeout is
one constant, deadlines come in send order: a FIFO of ``(deadline, flight)`` swept a few
times per timeout replaces one timer per request.

All of it runs in callbacks (``datagram_received`` advances the session and sends its next
datagram at once); there are no per-request futures or tasks. With ``rate`` set, every first
transmission takes a token from a pacer ticking every millisecond; without, sessions run as
fast as replies come back. Several workers are processes that split the sessions (and rate
and concurrency), start together at a barrier and send back their statistics to be merged.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import multiprocessing
import os
import queue
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, cast

from radiusd import gcpacing
from radiusd.loadtest.sessions import (
    ACCESS_ACCEPT,
    Profile,
    Session,
    SessionBuilder,
    User,
    UserKeys,
    reply_valid,
)
from radiusd.loadtest.stats import ACCESS, KINDS, RunStats

IDENTIFIERS = 256
PACER_TICK = 0.001
PROGRESS_TICK = 0.25
GC_FREEZE_INTERVAL = 1.0  # seconds (radiusd.gcpacing)
START_TIMEOUT = 60.0  # seconds for worker processes to start


@dataclass(frozen=True)
class LoadConfig:
    """One run (or one worker's share of it). Picklable: it is what a worker process gets."""

    auth_addr: tuple[str, int]
    acct_addr: tuple[str, int]
    profile: Profile
    users: tuple[User, ...]
    sessions: int | None = None  # None: until ``duration`` ends
    first_index: int = 0
    rate: float | None = None  # requests/s (first transmissions, all types); None: max
    timeout: float = 3.0
    retries: int = 2
    sockets: int = 4  # per port (authentication, accounting)
    concurrency: int = 1024  # sessions in progress at once
    duration: float | None = None  # stop starting sessions after this many seconds


class Flight:
    """A request in flight."""

    __slots__ = ("auth", "datagram", "done", "first", "ident", "kind", "session", "sock", "tries")

    def __init__(
        self, sock: _Socket, ident: int, kind: int, session: Session, datagram: bytes, auth: bytes, now: float
    ) -> None:
        self.sock = sock
        self.ident = ident
        self.kind = kind
        self.session = session
        self.datagram = datagram
        self.auth = auth
        self.first = now
        self.tries = 1
        self.done = False


class _Socket(asyncio.DatagramProtocol):
    """One connected UDP socket: its 256 Identifiers and the requests in flight on them."""

    def __init__(self, engine: Engine, group: int) -> None:
        self.engine = engine
        self.group = group  # 0 authentication, 1 accounting
        self.slots: list[Flight | None] = [None] * IDENTIFIERS
        self.free = list(range(IDENTIFIERS - 1, -1, -1))
        self.transport: asyncio.DatagramTransport | None = None
        self.send: Callable[[bytes], None] = _unconnected

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # uvloop's is not a subclass
        self.send = self.transport.sendto

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.engine.on_reply(self, data)

    def error_received(self, exc: Exception) -> None:
        self.engine.socket_errors += 1  # e.g. ICMP port unreachable: the request times out

    def connection_lost(self, exc: Exception | None) -> None:
        self.send = _unconnected


def _unconnected(data: bytes) -> None:
    pass


class Engine:
    """Runs the sessions of one :class:`LoadConfig` on the running event loop."""

    def __init__(self, config: LoadConfig, on_tick: Callable[[Engine], None] | None = None) -> None:
        if not config.users:
            raise ValueError("no users")
        self.config = config
        self.builder = SessionBuilder(config.profile)
        self.secret = config.profile.secret
        self.stats = RunStats()
        self.kinds = self.stats.kinds
        self.keys: list[UserKeys | None] = [None] * len(config.users)
        self.groups: tuple[list[_Socket], list[_Socket]] = ([], [])
        self.rr = [0, 0]
        self.blocked: tuple[deque[Session], deque[Session]] = (deque(), deque())
        self.ready: deque[Session] = deque()
        self.deadlines: deque[tuple[float, Flight]] = deque()
        self.next_index = config.first_index
        self.end_index = None if config.sessions is None else config.first_index + config.sessions
        self.active = 0
        self.starting = True
        self.paced = 0
        self.socket_errors = 0
        self.on_tick = on_tick
        self.started = 0.0
        self.finished = 0.0
        self._done: asyncio.Future[None] | None = None
        self._handles: list[asyncio.TimerHandle] = []

    # -- setup ----------------------------------------------------------------------------

    async def open(self) -> None:
        """Open ``sockets`` connected UDP sockets per port."""
        loop = asyncio.get_running_loop()
        for group, addr in enumerate((self.config.auth_addr, self.config.acct_addr)):
            family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
            for _ in range(max(1, self.config.sockets)):
                _, proto = await loop.create_datagram_endpoint(
                    functools.partial(_Socket, self, group), remote_addr=addr, family=family
                )
                sock = proto.transport.get_extra_info("socket") if proto.transport else None
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 21)
                self.groups[group].append(proto)

    def close(self) -> None:
        for handle in self._handles:
            handle.cancel()
        for group in self.groups:
            for sock in group:
                if sock.transport is not None:
                    sock.transport.close()

    # -- running --------------------------------------------------------------------------

    async def run(self) -> RunStats:
        """Run every session to its end (or the interrupt); the statistics."""
        loop = asyncio.get_running_loop()
        if not self.groups[0]:
            await self.open()
        self._done = loop.create_future()
        self.started = self.finished = time.monotonic()
        sweep = max(0.002, min(0.05, self.config.timeout / 4))
        self._every(sweep, self._sweep)
        on_tick = self.on_tick
        if on_tick is not None:
            self._every(PROGRESS_TICK, lambda: on_tick(self))
        if self.config.rate is not None:
            self._every(PACER_TICK, self._pace)
        if self.config.duration is not None:
            self._handles.append(loop.call_later(self.config.duration, self._stop_starting))
        self._start_sessions()
        try:
            await self._done
        finally:
            self.close()
        self.stats.elapsed = max(0.0, self.finished - self.started)
        return self.stats

    def interrupt(self) -> None:
        """Stop now: requests in flight are neither answered nor timed out."""
        self.starting = False
        self.stats.interrupted = True
        self.finished = time.monotonic()
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    def _every(self, interval: float, fn: Callable[[], object]) -> None:
        loop = asyncio.get_running_loop()

        def tick() -> None:
            fn()
            self._handles.append(loop.call_later(interval, tick))
            if len(self._handles) > 64:
                del self._handles[: len(self._handles) - 16]

        self._handles.append(loop.call_later(interval, tick))

    def _stop_starting(self) -> None:
        """``duration`` is over: no new session; those in progress run to their end."""
        self.starting = False
        self._maybe_finish()

    def _start_sessions(self) -> None:
        users = self.config.users
        n_users = len(users)
        limit = self.config.concurrency
        while self.starting and self.active < limit:
            index = self.next_index
            if self.end_index is not None and index >= self.end_index:
                break
            self.next_index = index + 1
            u = index % n_users
            keys = self.keys[u]
            if keys is None:
                keys = self.keys[u] = UserKeys(users[u])
            self.active += 1
            self.stats.sessions += 1
            self._schedule(Session(index, keys))
        self._maybe_finish()

    def _maybe_finish(self) -> None:
        if self.active == 0 and self._done is not None and not self._done.done():
            exhausted = self.end_index is not None and self.next_index >= self.end_index
            if exhausted or not self.starting:
                self.finished = time.monotonic()
                self._done.set_result(None)

    def _schedule(self, session: Session) -> None:
        if self.config.rate is None:
            self._send(session)
        else:
            self.ready.append(session)

    def _pace(self) -> None:
        rate = self.config.rate
        assert rate is not None
        allowed = int((time.monotonic() - self.started) * rate) - self.paced
        ready = self.ready
        if not ready:
            burst = max(1, int(rate * 0.005))
            if allowed > burst:
                self.paced += allowed - burst  # idle: do not save up for a burst
            return
        send = self._send
        while allowed > 0 and ready:
            send(ready.popleft())
            self.paced += 1
            allowed -= 1

    def _send(self, session: Session) -> None:
        kind = self.builder.kind_of(session.step)
        group = 0 if kind == ACCESS else 1
        socks = self.groups[group]
        n = len(socks)
        start = self.rr[group]
        sock = None
        for i in range(n):
            candidate = socks[(start + i) % n]
            if candidate.free:
                sock = candidate
                break
        if sock is None:
            self.blocked[group].append(session)
            return
        self.rr[group] = start + 1
        ident = sock.free.pop()
        if group == 0:
            datagram, auth = self.builder.access_request(session, ident)
        else:
            datagram, auth = self.builder.accounting_request(session, ident)
        now = time.monotonic()
        flight = Flight(sock, ident, kind, session, datagram, auth, now)
        sock.slots[ident] = flight
        self.kinds[kind].requests += 1
        self.deadlines.append((now + self.config.timeout, flight))
        sock.send(datagram)

    def _release(self, sock: _Socket, ident: int) -> None:
        sock.slots[ident] = None
        sock.free.append(ident)
        blocked = self.blocked[sock.group]
        if blocked:
            self._send(blocked.popleft())

    def _advance(self, session: Session) -> None:
        """The session's request is over (answered or timed out): its next step, or its end."""
        session.step += 1
        if session.step > self.builder.last_step:
            self._end(session)
        else:
            self._schedule(session)

    def _end(self, session: Session) -> None:
        self.active -= 1
        self.finished = time.monotonic()
        self._start_sessions()

    def on_reply(self, sock: _Socket, data: bytes) -> None:
        """A datagram on ``sock``: match it, check it, count it, move its session on."""
        if len(data) < 20:
            self.stats.bad_replies += 1
            return
        ident = data[1]
        flight = sock.slots[ident]
        if flight is None or not reply_valid(data, flight.auth, self.secret):
            self.stats.bad_replies += 1
            return
        now = time.monotonic()
        flight.done = True
        kind = flight.kind
        stats = self.kinds[kind]
        stats.record(int((now - flight.first) * 1_000_000))
        session = flight.session
        self._release(sock, ident)
        if kind == ACCESS:
            if data[0] == ACCESS_ACCEPT:
                self.builder.accept(session, data)
                self._advance(session)
            else:  # Access-Reject (or a Challenge this NAS cannot answer): no session
                stats.rejects += 1
                self._end(session)
        else:
            self._advance(session)

    def _sweep(self) -> None:
        """Retransmit or time out the requests whose deadline has passed."""
        deadlines = self.deadlines
        if not deadlines:
            return
        now = time.monotonic()
        timeout = self.config.timeout
        tries = 1 + self.config.retries
        while deadlines and deadlines[0][0] <= now:
            _, flight = deadlines.popleft()
            if flight.done:
                continue
            if flight.tries < tries:
                flight.tries += 1
                self.kinds[flight.kind].retransmissions += 1
                deadlines.append((now + timeout, flight))
                flight.sock.send(flight.datagram)
                continue
            flight.done = True
            self.kinds[flight.kind].timeouts += 1
            self._release(flight.sock, flight.ident)
            if flight.kind == ACCESS:
                self._end(flight.session)  # no Access-Accept: the subscriber is not online
            else:
                self._advance(flight.session)  # a NAS goes on with the session

    # -- progress -------------------------------------------------------------------------

    def totals(self) -> tuple[int, int, int, int]:
        """``(requests, responses, timeouts, rejects)`` so far, all packet types."""
        ks = self.kinds
        return (
            sum(k.requests for k in ks),
            sum(k.responses for k in ks),
            sum(k.timeouts for k in ks),
            ks[ACCESS].rejects,
        )


def _install_loop_policy() -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


async def _run_engine(
    config: LoadConfig,
    on_tick: Callable[[Engine], None] | None,
    ready: Callable[[], bool] | None = None,
) -> RunStats:
    """Open the sockets, take SIGINT as "stop and report", wait for ``ready`` (the start
    signal of a worker), then run."""
    engine = Engine(config, on_tick)
    loop = asyncio.get_running_loop()
    installed = False
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGINT, engine.interrupt)
        installed = True
    try:
        await engine.open()
        if ready is not None and not await loop.run_in_executor(None, ready):
            engine.close()
            return engine.stats
        # the generator's own collector pauses would count as reply latency: paced as the daemon's
        gcpacing.settle()
        freezer = loop.create_task(gcpacing.run_freezer(GC_FREEZE_INTERVAL))
        try:
            return await engine.run()
        finally:
            freezer.cancel()
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)


def run_local(config: LoadConfig, on_tick: Callable[[Engine], None] | None = None) -> RunStats:
    """Run ``config`` in this process (uvloop when installed)."""
    _install_loop_policy()
    return asyncio.run(_run_engine(config, on_tick))


# -- worker processes ---------------------------------------------------------------------


def split(config: LoadConfig, workers: int) -> list[LoadConfig]:
    """``workers`` configs sharing out the sessions, rate and concurrency of ``config``."""
    shares = []
    first = config.first_index
    for w in range(workers):
        sessions = None
        if config.sessions is not None:
            sessions = config.sessions // workers + (1 if w < config.sessions % workers else 0)
        shares.append(
            replace(
                config,
                sessions=sessions,
                first_index=first,
                rate=None if config.rate is None else config.rate / workers,
                concurrency=max(1, config.concurrency // workers),
            )
        )
        first += sessions if sessions is not None else 1 << 26  # disjoint index ranges
    return [s for s in shares if s.sessions != 0]


def _worker_main(
    number: int, config: LoadConfig, go: Any, results: Any, progress: Any
) -> None:  # pragma: no cover - runs in a child process (covered by the integration tests)
    def tick(engine: Engine) -> None:
        for i, value in enumerate(engine.totals()):
            progress[number * 4 + i] = value

    def ready() -> bool:
        results.put(("ready", number, None))
        return bool(go.wait(START_TIMEOUT))

    try:
        _install_loop_policy()
        stats = asyncio.run(_run_engine(config, tick, ready))
        results.put(("done", number, stats.to_state()))
    except BaseException as exc:
        results.put(("error", number, f"{type(exc).__name__}: {exc}"))


class Interrupted(Exception):
    """SIGINT before every worker was ready: nothing was measured."""


def run_workers(  # noqa: C901  (start, progress and SIGINT of the workers together, so their clean-up order shows)
    config: LoadConfig, workers: int, on_progress: Callable[[tuple[int, int, int, int], float], None] | None
) -> RunStats:
    """Run ``config`` split over ``workers`` processes; their statistics merged.

    The workers start with SIGINT ignored (a disposition that survives exec) and take it as
    "stop and report" once their loop runs; a SIGINT here is forwarded to them.
    """
    shares = split(config, workers)
    ctx = multiprocessing.get_context("spawn")
    go = ctx.Event()
    results = ctx.Queue()
    progress = ctx.Array("q", 4 * len(shares), lock=False)
    procs = [
        ctx.Process(target=_worker_main, args=(i, share, go, results, progress), daemon=True)
        for i, share in enumerate(shares)
    ]
    interrupted = False

    def forward(signum: int, frame: Any) -> None:
        nonlocal interrupted
        interrupted = True
        for p in procs:
            if p.pid is not None and p.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGINT)

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
    merged = RunStats()
    errors: list[str] = []
    try:
        for p in procs:
            p.start()
        if main_thread:
            signal.signal(signal.SIGINT, forward)
        waiting = len(shares)
        deadline = time.monotonic() + START_TIMEOUT
        while waiting and not errors:
            if interrupted:
                raise Interrupted("interrupted before the workers started")
            try:
                tag, _, value = results.get(timeout=PROGRESS_TICK)
            except queue.Empty:
                if time.monotonic() > deadline or not all(p.is_alive() for p in procs):
                    errors.append("a worker process did not start")
                continue
            if tag == "ready":
                waiting -= 1
            elif tag == "error":
                errors.append(str(value))
        go.set()
        started = time.monotonic()
        pending = len(shares)
        while pending and not errors:
            try:
                tag, _, value = results.get(timeout=PROGRESS_TICK)
            except queue.Empty:
                if not any(p.is_alive() for p in procs) and results.empty():
                    errors.append("a worker process died")
                    break
                if on_progress is not None:
                    totals = [sum(progress[w * 4 + i] for w in range(len(shares))) for i in range(4)]
                    on_progress((totals[0], totals[1], totals[2], totals[3]), time.monotonic() - started)
                continue
            pending -= 1
            if tag == "error":
                errors.append(str(value))
            else:
                merged.merge(RunStats.from_state(value))
    finally:
        go.set()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        for p in procs:
            p.join(1 if errors or interrupted else 5)
            if p.is_alive():
                p.kill()
                p.join()
    if errors:
        raise RuntimeError(f"worker failed: {errors[0]}")
    merged.interrupted = merged.interrupted or interrupted
    return merged


__all__ = ["KINDS", "Engine", "Interrupted", "LoadConfig", "run_local", "run_workers", "split"]
