"""Where the TLS work runs: ``[eap] tls_cpus`` pins the EAP process, or the daemon's TLS
threads, to CPUs of their own (``sched_setaffinity``), so a handshake storm's private-key
operations never wait in the run queue of the CPU whose event loop answers PAP and accounting.

Linux applies an affinity to one thread: ``sched_setaffinity(0, ...)`` from a pool thread
moves that thread only, from the EAP process's single thread the whole process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar

from radiusd.logs import get_logger

log = get_logger("radiusd.eap")
T = TypeVar("T")


def pin(cpus: tuple[int, ...], daemon: int, *, home: bool = False, what: str = "process") -> None:
    """Run the calling thread on ``cpus`` only; empty: on the CPUs of the ``daemon`` (its
    main thread's pid) when ``home`` (a reload emptied the setting), else stay where it is.
    A set the kernel refuses (no such CPU, outside this cgroup's cpuset) is logged
    (``eap.<what>-cpus-refused``) and ignored: the work still runs, only not where asked.
    The log line names the daemon's CPUs too, with a hint when they overlap: the point is a
    CPU the event loop does not use."""
    explicit = bool(cpus)
    try:
        if not explicit:
            if not home:
                return
            cpus = tuple(os.sched_getaffinity(daemon))
        os.sched_setaffinity(0, cpus)
        now, loop = os.sched_getaffinity(0), os.sched_getaffinity(daemon)
    except (OSError, ValueError) as exc:
        log.warning(f"eap.{what}-cpus-refused", cpus=list(cpus), error=str(exc))
        return
    shared = {"hint": "the event loop may run there too: keep the daemon on other CPUs "
              "(systemd CPUAffinity=, taskset -c)"} if explicit and now & loop else {}  # fmt: skip
    log.info(f"eap.{what}-cpus", cpus=sorted(now), daemon_cpus=sorted(loop), **shared)


class ThreadPlacement:
    """Keeps the daemon's TLS pool threads on ``cpus``: each thread moves itself before its
    next step once the set differs from the one it last took (at its first step, and after a
    SIGHUP that changed ``tls_cpus``), so nothing has to reach into a thread from outside."""

    def __init__(self, cpus: tuple[int, ...] = ()) -> None:
        self.cpus = cpus
        self._taken = threading.local()

    def wrap(self, func: Callable[[], T]) -> Callable[[], T]:
        """``func`` run after the calling pool thread is where :attr:`cpus` says."""
        cpus = self.cpus

        def placed() -> T:
            if getattr(self._taken, "cpus", ()) != cpus:
                pin(cpus, os.getpid(), home=True, what="thread")
                self._taken.cpus = cpus
            return func()

        return placed
