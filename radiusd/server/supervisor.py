"""``radiusd serve --workers N``: a supervisor process and N forked workers, each a full daemon.

Every worker is a node of its own in the registry (radiusd.server.cluster), loads the tables,
and binds the same UDP ports with SO_REUSEPORT: Linux hashes a datagram's source address and
port to one socket of the group, so a NAS's retransmissions reach the worker whose reply cache
holds the answer, as long as the set of workers does not change. Worker 0 alone runs what must
run once per database (HTTP API, change-log prune, session sweep, registry prune).

The supervisor starts worker 0 first (it migrates the schema, and a refused start ends there,
with one line), then the others; writes the ready file once all are ready; restarts a worker
that dies (with backoff); passes SIGTERM/SIGINT/SIGHUP on; exits when its workers have exited.
Port 0 is resolved by the supervisor, which holds the ports until every worker has bound them.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from radiusd.config import Settings
from radiusd.logs import configure_logging, get_logger
from radiusd.store.engine import multi_host

from .cluster import StartRefused
from .protocol import bind_udp

log = get_logger("radiusd.supervisor")

Runner = Callable[..., Any]  # radiusd.daemon.run(settings, config_path=..., worker=...)

EXIT_REFUSED = 3  # a worker's start was refused: restarting it would be refused again
STOP_GRACE = 20.0  # seconds workers get after SIGTERM before SIGKILL
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0
STABLE_AFTER = 30.0  # a worker that ran this long restarts without backoff
_SIGNALS = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


def is_sqlite(settings: Settings) -> bool:
    return make_url(multi_host(settings.effective_database_url())).get_backend_name() == "sqlite"


def resolve_workers(settings: Settings) -> int:
    """How many processes ``serve`` runs; :class:`StartRefused` for several on SQLite."""
    sqlite = is_sqlite(settings)
    n = settings.workers or (1 if sqlite else (os.cpu_count() or 1))
    if n < 0:
        raise StartRefused(f"workers must be 1 or more, not {n}")
    if sqlite and n > 1:
        raise StartRefused(
            f"--workers {n} on SQLite: SQLite serves one process; use PostgreSQL to run several workers"
        )
    return n


def serve_workers(settings: Settings, run: Runner, config_path: str | None) -> None:
    """Entry point of ``radiusd serve``: one process (exactly as before) or a supervisor."""
    n = resolve_workers(settings)
    if n == 1:
        run(replace(settings, workers=1), config_path=config_path)
        return
    code = Supervisor(replace(settings, workers=n), run, config_path).main()
    if code:
        sys.exit(code)


@dataclass
class Worker:
    index: int
    pid: int = 0
    started: float = 0.0  # monotonic
    ready: bool = False
    failures: int = 0  # quick deaths in a row (backoff exponent)
    restart_at: float | None = None  # monotonic; None: running or not to restart


class Supervisor:
    def __init__(self, settings: Settings, run: Runner, config_path: str | None) -> None:
        self.settings = settings
        self.run = run
        self.config_path = config_path
        self.n = settings.workers
        self.workers = [Worker(i) for i in range(self.n)]
        self.stopping = False
        self.stop_deadline = 0.0
        self.failed_code = 0
        self.ready_dir = Path(tempfile.mkdtemp(prefix="radiusd-workers-"))
        self.probes: list[socket.socket] = []
        self.bound: dict[str, Any] | None = None

    # -- the main loop --------------------------------------------------------------------

    def main(self) -> int:
        s = self.settings
        configure_logging(s.log_format, "debug" if s.debug else s.log_level)
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)  # taken with sigtimedwait below
        try:
            self.settings = self._reserve_ports()
            log.info("supervisor.starting", workers=self.n, pid=os.getpid())
            self._spawn(self.workers[0])
            while self.workers:
                sig = signal.sigtimedwait(_SIGNALS, 0.05 if self.bound is None else 0.25)
                if sig is not None:
                    self._on_signal(sig.si_signo)
                self._reap()
                self._check_ready()
                self._restart_due()
                if self.stopping and not any(w.pid for w in self.workers):
                    break
            return self.failed_code
        finally:
            for probe in self.probes:
                probe.close()
            shutil.rmtree(self.ready_dir, ignore_errors=True)
            log.info("supervisor.stopped")

    def _on_signal(self, signo: int) -> None:
        if signo in (signal.SIGTERM, signal.SIGINT):
            if not self.stopping:
                log.info("supervisor.stopping", signal=signal.Signals(signo).name)
            self._stop_all()
        elif signo == signal.SIGHUP:
            log.info("supervisor.reload", workers=self.n)
            self._send_all(signal.SIGHUP)

    def _stop_all(self, code: int | None = None) -> None:
        if code is not None and not self.failed_code:
            self.failed_code = code
        if not self.stopping:
            self.stopping = True
            self.stop_deadline = time.monotonic() + STOP_GRACE
            self._send_all(signal.SIGTERM)
        elif time.monotonic() > self.stop_deadline:
            log.warning("supervisor.killing", pids=[w.pid for w in self.workers if w.pid])
            self._send_all(signal.SIGKILL)

    def _send_all(self, sig: int) -> None:
        for w in self.workers:
            if w.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w.pid, sig)

    # -- workers --------------------------------------------------------------------------

    def _worker_settings(self, index: int) -> Settings:
        return replace(self.settings, ready_file=str(self.ready_dir / f"worker-{index}.json"))

    def _spawn(self, w: Worker) -> None:
        settings = self._worker_settings(w.index)
        Path(settings.ready_file).unlink(missing_ok=True)
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the worker: never returns
            for probe in self.probes:  # an unread socket in the port group would swallow packets
                probe.close()
            _worker_main(self.run, settings, self.config_path, w.index, parent)
        w.pid, w.started, w.ready, w.restart_at = pid, time.monotonic(), False, None
        log.info("supervisor.worker-started", worker=w.index, pid=pid)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            w = next((w for w in self.workers if w.pid == pid), None)
            if w is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            w.pid = 0
            self._on_exit(w, code)

    def _on_exit(self, w: Worker, code: int) -> None:
        if self.stopping:
            log.info("supervisor.worker-exited", worker=w.index, code=code)
            if code != 0 and not self.failed_code:
                self.failed_code = 1
            return
        if not w.ready and (self.bound is None or code == EXIT_REFUSED):
            # never came up at start (refused, bad config, port taken): restarting would loop
            log.error("supervisor.worker-failed", worker=w.index, code=code)
            self._stop_all(code=1)
            return
        lived = time.monotonic() - w.started
        w.failures = 0 if lived >= STABLE_AFTER else w.failures + 1
        delay = 0.0 if w.failures == 0 else min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (w.failures - 1))
        w.restart_at = time.monotonic() + delay
        log.warning(
            "supervisor.worker-died", worker=w.index, code=code, lived=round(lived, 1), restart_in=delay
        )

    def _restart_due(self) -> None:
        if self.stopping:
            if any(w.pid for w in self.workers):
                self._stop_all()  # past the grace: SIGKILL
            return
        now = time.monotonic()
        for w in self.workers:
            if w.restart_at is not None and now >= w.restart_at:
                self._spawn(w)

    def _check_ready(self) -> None:
        for w in self.workers:
            if w.pid and not w.ready and Path(self._worker_settings(w.index).ready_file).exists():
                w.ready = True
                if self.bound is not None:
                    log.info("supervisor.worker-ready", worker=w.index, pid=w.pid)
                    self._write_ready()
        if self.bound is not None or self.stopping:
            return
        first = self.workers[0]
        if first.ready and not any(w.pid or w.restart_at for w in self.workers[1:]):
            for w in self.workers[1:]:  # worker 0 migrated the schema and joined: the rest now
                self._spawn(w)
        if all(w.ready for w in self.workers):
            self.bound = json.loads(Path(self._worker_settings(0).ready_file).read_text())
            for probe in self.probes:  # every worker has bound the ports: let them go
                probe.close()
            self.probes = []
            self._write_ready()
            log.info("supervisor.ready", workers=self.n, pids=[w.pid for w in self.workers])

    def _write_ready(self) -> None:
        if not self.settings.ready_file or self.bound is None:
            return
        target = Path(self.settings.ready_file)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps({**self.bound, "workers": [w.pid for w in self.workers]}))
        tmp.replace(target)

    # -- ports ----------------------------------------------------------------------------

    def _reserve_ports(self) -> Settings:
        """Bind each port once here (SO_REUSEPORT), so port 0 becomes one port all workers share.

        Each port is first bound without SO_REUSEPORT: that fails when anything holds it, even
        another daemon's workers, which the shared bind would otherwise silently join."""
        s = self.settings
        ports = {"auth": s.auth_port, "acct": s.acct_port}
        for kind in ("auth", "acct"):
            for host in s.bind:
                try:
                    with bind_udp(host, ports[kind], 4096) as alone:
                        ports[kind] = alone.getsockname()[1]
                    self.probes.append(bind_udp(host, ports[kind], 4096, reuse_port=True))
                except OSError as exc:
                    raise StartRefused(
                        f"cannot listen on {host} port {ports[kind]}: {exc.strerror or exc}"
                    ) from None
        return replace(s, auth_port=ports["auth"], acct_port=ports["acct"])


def _worker_main(run: Runner, settings: Settings, config_path: str | None, index: int, parent: int) -> None:
    """The forked worker: default signals, die with the supervisor, serve, exit with a code."""
    code = 1
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        for sig in _SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        _die_with_parent(parent)
        import structlog

        structlog.contextvars.bind_contextvars(worker=index)
        run(settings, config_path=config_path, worker=index)
        code = 0
    except StartRefused as exc:
        print(f"radiusd: error: {exc}", file=sys.stderr)
        code = EXIT_REFUSED
    except KeyboardInterrupt:
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _die_with_parent(parent: int) -> None:
    """Linux: SIGTERM this worker when the supervisor dies (even by SIGKILL)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it died before prctl took effect
        os._exit(1)
