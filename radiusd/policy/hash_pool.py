"""A bounded pool for the slow password checks (PBKDF2, crypt, bcrypt).

``asyncio.to_thread`` would queue without limit on the default executor: a burst of logins
against slow hashes (or hashes that ask for many rounds) would pile up work that finishes long
after the NAS gave up, while every other request waits. Here a fixed number of threads does
the checks and at most ``max_pending`` checks are running or waiting; beyond that
:meth:`HashPool.submit` refuses at once, and the caller drops the request (counted as
``slow-hash-busy``; the NAS retransmits).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from radiusd.logs import get_logger

log = get_logger("radiusd.policy")

T = TypeVar("T")
#: seconds between two warnings about a full pool
WARN_EVERY = 60.0

#: the drop reason of a request refused because the pool is full
DROP_REASON = "slow-hash-busy"


class HashPool:
    """``workers`` threads (at least 1); ``max_pending`` checks running or queued at most
    (at least ``workers``)."""

    def __init__(self, workers: int = 2, max_pending: int = 64, name: str = "hash") -> None:
        self.name = name
        self.workers = max(1, workers)
        self.max_pending = max(self.workers, max_pending)
        self.pending = 0
        self.refused = 0
        self._executor: ThreadPoolExecutor | None = None
        self._warned = -WARN_EVERY

    def submit(self, func: Callable[..., T], *args: Any) -> asyncio.Future[T] | None:
        """The future of ``func(*args)`` on a worker thread; None (and counted) when full."""
        if self.pending >= self.max_pending:
            self.refused += 1
            now = time.monotonic()
            if now - self._warned >= WARN_EVERY:  # a burst must not fill the log
                self._warned = now
                log.warning(
                    "slow-hash.busy" if self.name == "hash" else f"{self.name}.busy",
                    pending=self.pending,
                    hint="logins against slow password hashes are dropped until checks finish "
                    "(slow_hash_workers, slow_hash_queue_max)",
                )
            return None
        if self._executor is None:  # threads only once a slow hash is met
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix=f"radiusd-{self.name}")
        self.pending += 1
        future = asyncio.get_running_loop().run_in_executor(self._executor, func, *args)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _future: asyncio.Future[Any]) -> None:
        self.pending -= 1

    def close(self) -> None:
        """Stop the threads; checks not started are cancelled."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
