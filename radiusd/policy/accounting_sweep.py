"""The stale-session sweep: open sessions with no news for too long are closed (Lost-Service).

A session is stale when nothing was heard of it within k x its Acct-Interim-Interval (the
plan's, the NAS's, else ``default_interim_interval``) + ``interim_grace`` seconds; which ones
are is decided by :func:`radiusd.policy.accounting_state.stale_sessions` (pure, given ``now``).
The sweep closes them in one change, stopped at their last update, tells the lease hooks (their
addresses end only if no node renewed them), and writes it all through the group-commit
writer. Wall-clock steps do not count towards a session's age (radiusd.clock.ClockWatch).
Sessions in doubt (radiusd.policy.accounting_doubt) wait until they are reread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

from radiusd.clock import ClockWatch
from radiusd.logs import get_logger
from radiusd.model.events import LOST_SERVICE, StatusType
from radiusd.model.sessions import Change, LiveSession
from radiusd.model.writes import Operation, WriterBusy, WriterClosed
from radiusd.tasks import reraise_if_cancelled

from .accounting_doubt import DoubtTracker, OpSink
from .accounting_state import event_of, lost_service, stale_sessions
from .seams import LeaseHooks
from .sessions import SessionTable

log = get_logger("radiusd.accounting")


class Sweeper:
    """Closes stale sessions of ``table``; ``make_op`` and ``hooks`` are called at each sweep
    (the policy may replace its own after construction: pass callables that read them then)."""

    def __init__(
        self,
        table: SessionTable,
        writer: OpSink,
        make_op: Callable[[Change], Operation],
        hooks: Callable[[], LeaseHooks],
        doubt: DoubtTracker,
        *,
        default_interim_interval: int,
        interim_grace_factor: float,
        interim_grace: float,
        clock: Callable[[], float],
        watch: ClockWatch,
    ) -> None:
        self.table = table
        self.writer = writer
        self.make_op = make_op
        self.hooks = hooks
        self.doubt = doubt
        self.default_interim_interval = default_interim_interval
        self.interim_grace_factor = interim_grace_factor
        self.interim_grace = interim_grace
        self.clock = clock
        self.watch = watch
        #: sessions closed by the sweep (metrics and tests)
        self.swept = 0

    def stale_limit(self, s: LiveSession) -> float:
        interval = s.interim_interval or self.default_interim_interval
        return self.interim_grace_factor * interval + self.interim_grace

    async def sweep_once(self, now: dt.datetime | None = None) -> int:
        """Close sessions with no news within k x interval + grace (Lost-Service); prune closed."""
        now = now if now is not None else dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        step = self.watch.look()
        if step:
            log.warning("clock.jump", seconds=round(step, 1), action="session ages do not count it")
        stepped = self.watch.stepped_since if self.watch.steps else None
        stale = stale_sessions(
            self.table.open_all(), now, self.stale_limit, stepped=stepped, skip=self.doubt.sessions
        )
        if stale:
            change = self.table.begin()
            ops: list[Operation] = []
            hooks = self.hooks()
            for s in stale:
                closed = lost_service(s)
                change.put(closed)
                ops.extend(hooks.on_stop(event_of(closed, StatusType.STOP)))
            ops.insert(0, self.make_op(change))
            try:
                futs = [self.writer.submit(op) for op in ops]
            except (WriterBusy, WriterClosed):
                change.rollback()
                return 0
            try:
                await asyncio.gather(*futs)
            except Exception as exc:
                change.rollback()
                log.warning(
                    "sessions.sweep-failed", sessions=len(stale), error=f"{type(exc).__name__}: {exc}"[:300]
                )
                return 0
            if change.stale:  # another node wrote some of them since: reread, sweep again later
                uids = change.touched()
                change.rollback()
                self.doubt.add(uids)
                return 0
            if change.cancelled:
                return 0
            change.committed()
            self.swept += len(stale)
            log.info("sessions.swept", closed=len(stale), cause=LOST_SERVICE)
        self.table.prune_closed(now)
        return len(stale)

    async def run(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep_once()
            except Exception as exc:  # keep sweeping; the next round retries
                reraise_if_cancelled(exc)
                log.exception("sessions.sweep-error")
