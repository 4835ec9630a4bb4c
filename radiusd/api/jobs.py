"""Disconnect and CoA jobs of the admin API: a Disconnect- or CoA-Request runs as a task of its
own, so an HTTP request waits for it only as long as the caller asked (``?wait=SECONDS``) and a
NAS that never answers (up to 30 s of retransmissions) holds no connection and no concurrency
slot meanwhile. A job's result is read at ``/radius/{kind}/{id}`` (``disconnects`` or ``coa``).

Jobs live in memory (they end with the daemon); finished ones are kept for their result until
``keep`` newer jobs have been started, and at most ``keep`` may run at once.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass, field
from typing import Any


class TooManyJobs(RuntimeError):
    """``keep`` jobs are still running: no new one is started."""


@dataclass
class Job:
    id: str
    session: str
    task: asyncio.Future[dict[str, Any]]
    started: float = field(default_factory=time.time)
    kind: str = "disconnects"  # the path of its result: /radius/KIND/ID

    @property
    def done(self) -> bool:
        return self.task.done()

    async def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the job (never cancelling it); whether it is done."""
        if not self.task.done() and seconds > 0:
            await asyncio.wait({self.task}, timeout=seconds)
        return self.task.done()

    @property
    def result_url(self) -> str:
        return f"/radius/{self.kind}/{self.id}"

    def pending_json(self) -> dict[str, Any]:
        return {
            "job": self.id,
            "session": self.session,
            "status": "pending",
            "result_url": self.result_url,
        }


class Jobs:
    """Running and recently finished jobs by id."""

    def __init__(self, keep: int = 1000) -> None:
        self.keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()

    def start(self, work: Awaitable[dict[str, Any]], session: str, kind: str = "disconnects") -> Job:
        running = sum(1 for j in self._jobs.values() if not j.done)
        if running >= self.keep:
            if isinstance(work, Coroutine):
                work.close()
            raise TooManyJobs(f"{running} disconnects or CoAs are still waiting for their NAS")
        job = Job(secrets.token_urlsafe(12), session, asyncio.ensure_future(work), kind=kind)
        job.task.add_done_callback(_retrieve)
        self._jobs[job.id] = job
        while len(self._jobs) > self.keep:
            oldest = next((k for k, j in self._jobs.items() if j.done), None)
            if oldest is None:
                break
            del self._jobs[oldest]
        return job

    def get(self, job_id: str, kind: str = "disconnects") -> Job | None:
        job = self._jobs.get(job_id)
        return job if job is not None and job.kind == kind else None

    def cancel_all(self) -> None:
        """Stop every running job (the daemon is stopping)."""
        for job in self._jobs.values():
            job.task.cancel()


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Mark an exception as seen (a job nobody asks about must not log "never retrieved");
    whoever asks for the job's result gets it raised then."""
    if not task.cancelled():
        task.exception()
