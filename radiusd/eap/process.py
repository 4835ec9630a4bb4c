"""The daemon's side of the EAP process (radiusd.eap.worker): the same ``handle`` as
:class:`radiusd.eap.engine.EapEngine`, answered by a child process.

The daemon relays a step's EAP-Message and State attributes and gets the outcome back; an
inner method's credential lookup comes back as a question the daemon answers from its
subscribers. Nothing here waits: a step that cannot be sent (the socket's buffer is full,
``queue_max`` steps under way) is dropped as ``eap-busy`` and the NAS retransmits. If the
process dies, its steps under way are dropped, their conversations are gone (the peer's next
step is rejected with an EAP-Failure and it starts over) and a new process is started.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from radiusd.logs import get_logger
from radiusd.model.credentials import Credential

from . import packet as eap
from .engine import BUSY, Outcome
from .settings import EapSettings
from .worker import COUNT_KEYS, MAX_MESSAGE, Stats, encode, receive

log = get_logger("radiusd.eap")

#: the drop reason of the steps under way when the EAP process died
LOST = "eap-process-lost"
#: seconds between two starts of the EAP process (a process that dies at once must not spin)
RESTART_EVERY = 1.0
#: socket buffer octets each way (~100 steps of a full RADIUS packet)
BUFFER = 1 << 20
_RELAYED = (eap.EAP_MESSAGE, eap.STATE)


@dataclass(slots=True)
class _Step:
    future: asyncio.Future[Outcome]
    credential: Callable[[str], Credential | None]
    known: Callable[[str], bool]


class EapProcess:
    """One child process running the conversations of this daemon process."""

    def __init__(self, settings: EapSettings, log_format: str = "console", log_level: str = "info") -> None:
        settings.check_files()  # a bad file is refused here, in the daemon, with its name
        self.settings = settings
        self.log_format = log_format
        self.log_level = log_level
        #: as EapEngine's, as last reported by the process
        self.counts = dict.fromkeys(COUNT_KEYS, 0)
        self.handshakes: dict[tuple[str, str, bool], int] = {}
        self.buffered = 0
        self.in_flight = 0
        self.restarts = 0
        self._steps: dict[int, _Step] = {}
        self._seq = 0
        self._base = dict.fromkeys(self.counts, 0)  # the counts of processes that died
        self._refused = 0  # steps this side dropped (busy) without sending them
        self._reloads: list[asyncio.Future[str]] = []
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = 0.0
        self._closed = False
        self._start()

    # -- the process ----------------------------------------------------------------------

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        for s in (ours, theirs):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BUFFER)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER)
        with theirs:
            self._proc = subprocess.Popen(  # noqa: S603  (this interpreter, our own module)
                [sys.executable, "-m", "radiusd.eap.worker", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        init = ("init", self.settings, self.settings.process_nice, self.log_format, self.log_level)
        ours.send(encode(init))
        ours.setblocking(False)
        self._sock = ours
        self._started = time.monotonic()
        self._loop = None  # the reader is added by the first step, on the running loop
        log.info("eap.process-started", pid=self._proc.pid, nice=self.settings.process_nice)

    def _attach(self) -> socket.socket | None:
        if self._sock is None:
            if self._closed or time.monotonic() - self._started < RESTART_EVERY:
                return None
            try:
                self._start()
            except OSError as exc:
                self._started = time.monotonic()
                log.error("eap.process-start-failed", error=str(exc))
                return None
        sock = self._sock
        assert sock is not None
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(sock.fileno(), self._readable)
        return sock

    def _lost(self, why: str) -> None:
        """The process is gone: its steps are dropped, a new one starts with the next step."""
        sock, proc = self._sock, self._proc
        self._sock = self._proc = None
        if sock is not None:
            if self._loop is not None:
                self._loop.remove_reader(sock.fileno())
            sock.close()
        code = None
        if proc is not None:  # it has exited, or it ends now: nothing of it is worth keeping
            code = proc.poll()
            if code is None:
                proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    code = proc.wait(timeout=1.0)
        if not self._closed:
            self.restarts += 1
            log.error("eap.process-lost", why=why, exit_code=code, steps_dropped=len(self._steps))
        for k, v in self.counts.items():
            self._base[k] = v - (self._refused if k == "busy" else 0)
        self.in_flight = self.buffered = 0
        steps, self._steps = self._steps, {}
        for step in steps.values():
            if not step.future.done():
                step.future.set_result(Outcome("drop", reason=LOST))
        for waiter in self._reloads:
            if not waiter.done():
                waiter.set_result("the EAP process stopped")
        self._reloads.clear()

    # -- steps ----------------------------------------------------------------------------

    def handle(
        self,
        attributes: list[tuple[int, bytes]],
        credential: Callable[[str], Credential | None],
        known: Callable[[str], bool],
        framed_mtu: int | None = None,
        nas: str | None = None,
        trace: bool = True,
    ) -> Outcome | asyncio.Future[Outcome]:
        """As :meth:`EapEngine.handle`; the outcome always comes later."""
        sock = self._attach()
        if sock is None or len(self._steps) >= self.settings.queue_max:
            return self._busy("busy or restarting")
        self._seq += 1
        relayed = [(t, v) for t, v in attributes if t in _RELAYED]
        try:
            sock.send(encode(("step", self._seq, relayed, framed_mtu, nas, trace)))
        except BlockingIOError:
            return self._busy("behind")
        except OSError as exc:
            self._lost(str(exc))
            return Outcome("drop", reason=LOST)
        assert self._loop is not None
        future: asyncio.Future[Outcome] = self._loop.create_future()
        self._steps[self._seq] = _Step(future, credential, known)
        return future

    def _busy(self, why: str) -> Outcome:
        """A step dropped on this side, unsent (the NAS retransmits): counted as busy."""
        self._refused += 1
        self.counts["busy"] += 1
        return Outcome("drop", reason=BUSY, notes=[f"  not answered: the EAP process is {why}"])

    def _readable(self) -> None:
        sock = self._sock
        while sock is not None:
            try:
                data = sock.recv(MAX_MESSAGE)
            except BlockingIOError:
                return
            except OSError as exc:
                self._lost(str(exc))
                return
            if not data:
                self._lost("the EAP process closed its socket")
                return
            self._message(sock, receive(data))

    def _message(self, sock: socket.socket, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "done":
            _, seq, outcome, stats = message
            self._stats(stats)
            step = self._steps.pop(seq, None)
            if step is not None and not step.future.done():
                step.future.set_result(outcome)
        elif kind == "need":  # an inner method wants a credential: answer at once
            _, seq, name = message
            step = self._steps.get(seq)
            cred = step.credential(name) if step is not None else None
            known = step.known(name) if step is not None else False
            answer = encode(("cred", seq, name, cred, known))
            try:
                sock.send(answer)
            except BlockingIOError:  # the process waits for this answer: wait for room
                sock.setblocking(True)
                try:
                    sock.send(answer)
                finally:
                    sock.setblocking(False)
        elif kind == "stats":
            self._stats(message[1])
        elif kind == "reloaded" and self._reloads:
            waiter = self._reloads.pop(0)
            if not waiter.done():
                waiter.set_result(message[1])

    def _stats(self, stats: Stats) -> None:
        counts, self.in_flight, self.buffered, handshakes = stats
        for key, n in zip(COUNT_KEYS, counts, strict=True):
            self.counts[key] = self._base[key] + n
        self.counts["busy"] += self._refused
        if handshakes is not None:
            self.handshakes = handshakes

    # -- as EapEngine's -------------------------------------------------------------------

    def reload(self, settings: EapSettings) -> None:
        """New settings and files: checked here first (ValueError, the old ones stay), then
        sent to the process, which keeps its conversations' TLS."""
        settings.check_files()
        self.settings = settings
        sock = self._sock
        if sock is None:
            return  # the next process starts with the new settings
        try:
            sock.send(encode(("reload", settings)))
        except OSError as exc:
            log.error("eap.reload-failed", error=f"the EAP process did not take it: {exc}")
            return
        if self._loop is not None:
            waiter: asyncio.Future[str] = self._loop.create_future()
            waiter.add_done_callback(_log_reload)
            self._reloads.append(waiter)

    def sweep(self) -> None:
        """Nothing: the process forgets idle conversations itself, when each one's timeout
        passes, and reports the counts."""

    def close(self) -> None:
        self._closed = True
        self._lost("closed")

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None


def _log_reload(waiter: asyncio.Future[str]) -> None:
    error = waiter.result() if not waiter.cancelled() else ""
    if error:
        log.error("eap.reload-failed", error=f"the EAP process: {error}")
