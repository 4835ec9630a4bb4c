"""Accounting-Request policy (RFC 2866): the handler, from a request to a durable acknowledgement.

An Accounting-Request becomes an :class:`~radiusd.model.events.AcctEvent`
(radiusd.policy.accounting_events), the event changes the in-memory
:class:`~radiusd.policy.sessions.SessionTable` at once through the state machine
(radiusd.policy.accounting_state; so Simultaneous-Use sees it), the change goes to the
group-commit writer, and the Accounting-Response is sent only after the transaction holding it
commits (RFC 2866 §2: "upon receipt of an Accounting-Request, the server MUST transmit an
Accounting-Response reply if it successfully records the accounting packet"). Commit failed: no
reply (the NAS retransmits) and the table is restored. Writer queue full: the request is dropped
and counted (``dropped_busy``), nothing changes.

A request that is not a session event (another Acct-Status-Type) is recorded in
``radius_accounting_events`` and acknowledged after the commit, as RFC 2866 §2 asks, so the NAS
does not retransmit it forever or mark the server dead. A request for a session whose last
commit had an unknown outcome is not answered until that session is reread
(radiusd.policy.accounting_doubt). Stale sessions are closed by the sweep
(radiusd.policy.accounting_sweep), which this handler owns and runs.

Lease hooks (IPAM) are called for every Start, Interim-Update of an open session,
Stop, Accounting-On/Off and swept session; their operations join the same writer batch.
Hooks must be idempotent: a retransmitted request calls them again.

Accounting-On/Off (RFC 2866 §5.1) ends every session of the NAS. The state machine closes
those in this node's memory; with several nodes on one database, ``make_reset_op`` adds an
operation that closes, in the same transaction, those still open in the database that another
node wrote (radiusd.store.nas_reset), and the sessions it closed are taken into memory here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from radiusd.clock import ClockWatch
from radiusd.codec.codes import Code
from radiusd.codec.dictionary import Dictionary
from radiusd.codec.packet import Packet
from radiusd.logs import get_logger
from radiusd.model.events import AcctEvent, OtherEvent, StatusType
from radiusd.model.request import HandlerResult, Request
from radiusd.model.sessions import Change, LiveSession
from radiusd.model.writes import Operation, WriterBusy, WriterClosed

from .accounting_doubt import DoubtTracker, MakeReloadOp, OpSink
from .accounting_events import (
    NAS_RESET,
    InvalidAccounting,
    OtherStatusType,
    other_event,
    parse_event,
    sent_at,
)
from .accounting_state import apply_event
from .accounting_sweep import Sweeper
from .directory import Directory
from .seams import LeaseHooks, NoLeaseHooks
from .sessions import SessionTable

log = get_logger("radiusd.accounting")


MakeOp = Callable[[Change], Operation]


class ResetOp(Operation, Protocol):
    """Closes, in the database, the sessions of a NAS that sent Accounting-On/Off which this
    node's memory does not hold open (radiusd.store.nas_reset.NasSessionsOp); once its
    transaction has committed, ``closed`` holds them as stored."""

    closed: list[LiveSession]


#: (the event, the moment before which a session must have started to be closed)
MakeResetOp = Callable[[AcctEvent, dt.datetime], ResetOp]


class AccountingPolicy:
    """The Accounting-Request handler; also runs the stale-session sweep."""

    def __init__(
        self,
        table: SessionTable,
        writer: OpSink,
        make_op: MakeOp,
        *,
        dictionary: Dictionary | None = None,
        directory: Directory | None = None,
        hooks: LeaseHooks | None = None,
        make_event_op: Callable[[OtherEvent], Operation] | None = None,
        make_reload_op: MakeReloadOp | None = None,
        make_reset_op: MakeResetOp | None = None,
        default_interim_interval: int = 300,
        interim_grace_factor: float = 3.0,
        interim_grace: float = 120.0,
        clock: Callable[[], float] = time.time,
        watch: ClockWatch | None = None,
    ) -> None:
        self.table = table
        self.writer = writer
        self.make_op = make_op
        self.dictionary = dictionary
        self.directory = directory
        self.hooks: LeaseHooks = hooks if hooks is not None else NoLeaseHooks()
        #: writes an :class:`OtherEvent`; None: such requests are dropped unanswered, as invalid
        self.make_event_op = make_event_op
        #: closes a rebooted NAS's sessions written by other nodes (None: memory holds them all)
        self.make_reset_op = make_reset_op
        #: sessions in doubt, reread after a commit with an unknown outcome (None: not tracked)
        self.doubt = DoubtTracker(table, writer, make_reload_op)
        self.sweeper = Sweeper(
            table,
            writer,
            lambda change: self.make_op(change),  # read at each sweep: the daemon replaces make_op
            lambda: self.hooks,
            self.doubt,
            default_interim_interval=default_interim_interval,
            interim_grace_factor=interim_grace_factor,
            interim_grace=interim_grace,
            clock=clock,
            # wall-clock steps, noticed by the sweep: a session's age does not count them
            watch=watch if watch is not None else ClockWatch.for_clock(interim_grace, clock),
        )
        # figures for metrics and tests
        self.dropped_busy = 0
        self.dropped_invalid = 0
        self.other_events = 0
        self.dropped_in_doubt = 0
        self.dropped_stale = 0  # requests computed on a session another node had written since
        self.failed = 0

    def _plan_interval(self, username: str) -> int | None:
        d = self.directory
        if d is None:
            return None
        sub = d.subscribers.get(username)
        plan = d.plans.get(sub.plan) if sub is not None and sub.plan else None
        return plan.interim_interval if plan is not None else None

    def handle(self, req: Request) -> HandlerResult:
        try:
            ev = parse_event(req, self.dictionary)
        except InvalidAccounting as exc:
            if isinstance(exc, OtherStatusType) and self.make_event_op is not None:
                return self._record_other(req, exc.status, exc.event_time)
            self.dropped_invalid += 1
            log.info("accounting.invalid", nas=req.nas.name, reason=str(exc))
            req.note(f"  not recorded: {exc}")
            req.drop_reason = "invalid-accounting"
            return None
        if req.trace is not None:
            req.note(f"  {ev.status_name} session {ev.unique_id or '-'} user {ev.username!r}")
        doubt = self.doubt.sessions
        if doubt and (ev.unique_id in doubt or ev.status in NAS_RESET):
            self.dropped_in_doubt += 1
            req.note("  not answered: a commit of this session lost its connection; rereading it first")
            req.drop_reason = "commit-in-doubt"
            self.doubt.resolve()
            return None
        change = self.table.begin()
        # the plan's interval is read only for a session seen for the first time
        first = ev.username and self.table.get(ev.unique_id) is None
        # a reset: a session started after the NAS sent it is not one the reboot ended (a login
        # since, met by a late retransmission); the later of the two times, in case the NAS's
        # clock is wrong
        since = max(ev.event_time, sent_at(req)) if ev.status in NAS_RESET else None
        interval = self._plan_interval(ev.username) if first else None
        apply_event(self.table, ev, change, interval, reset_before=since)
        ops = self._lease_ops(ev, change, shared_entry=req.nas.network is not None, since=since)
        reset = None
        if since is not None and self.make_reset_op is not None:
            reset = self.make_reset_op(ev, since)
            ops.append(reset)
        if change.writes:
            ops.insert(0, self.make_op(change))
        elif not ops and not change.depends:
            change.committed()
            return req.packet.reply(Code.ACCOUNTING_RESPONSE)  # nothing new and nothing pending
        else:
            ops.insert(0, self.make_op(change))  # waits for the pending writes it depends on
        return self._submit(req, change, ops, reset)

    def _record_other(self, req: Request, status: int, event_time: dt.datetime) -> HandlerResult:
        """Record a request that is not a session event, then acknowledge it (RFC 2866 §2)."""
        assert self.make_event_op is not None
        event = other_event(req, status, event_time, self.dictionary)
        req.note(f"  Acct-Status-Type {event.status_name}: not a session event; recorded, then answered")
        self.other_events += 1
        return self._submit(req, self.table.begin(), [self.make_event_op(event)])

    # -- what the daemon and the metrics read (the work is in accounting_doubt/_sweep) ------

    def commit_in_doubt(self, ops: Sequence[Operation]) -> None:
        """The writer's ``on_in_doubt``: see :meth:`DoubtTracker.commit_in_doubt`."""
        self.doubt.commit_in_doubt(ops)

    def written_elsewhere(self, unique_ids: list[str]) -> None:
        """Another node's announcement: see :meth:`DoubtTracker.written_elsewhere`."""
        self.doubt.written_elsewhere(unique_ids)

    @property
    def in_doubt(self) -> int:
        return len(self.doubt)

    @property
    def taken_elsewhere(self) -> int:
        return self.doubt.taken_elsewhere

    @property
    def swept(self) -> int:
        return self.sweeper.swept

    async def sweep_once(self, now: dt.datetime | None = None) -> int:
        """One sweep: see :meth:`Sweeper.sweep_once`."""
        return await self.sweeper.sweep_once(now)

    async def run_sweeper(self, interval: float) -> None:
        await self.sweeper.run(interval)

    def _lease_ops(
        self, ev: AcctEvent, change: Change, shared_entry: bool = False, since: dt.datetime | None = None
    ) -> list[Operation]:
        """The lease hooks' operations for ``ev``. A reset (``since``: when the NAS sent it)
        spares the leases of the NAS's sessions it left open (started since); with
        ``shared_entry`` (the NAS was matched by a subnet entry, which other NASes share) it
        ends only its own closed sessions' leases."""
        h = self.hooks
        if ev.status == StatusType.START:
            return list(h.on_start(ev))
        if ev.status == StatusType.STOP:
            return list(h.on_stop(ev))
        if ev.status == StatusType.INTERIM_UPDATE:
            s = self.table.get(ev.unique_id)
            return list(h.on_interim(ev)) if s is not None and s.is_open else []
        ended = {s.unique_id for s in change.sessions}
        spared = {s.unique_id for s in self.table.open_of_nas(ev.nas_address)} - ended
        return list(h.on_nas_reset(ev.nas_address, ev, ended if shared_entry else None, spared, since))

    def _submit(
        self, req: Request, change: Change, ops: list[Operation], reset: ResetOp | None = None
    ) -> HandlerResult:
        futs: list[asyncio.Future[None]] = []
        try:
            for op in ops:
                futs.append(self.writer.submit(op))
        except (WriterBusy, WriterClosed) as exc:
            change.rollback()  # a queued op of this change is now cancelled: it writes nothing
            self.dropped_busy += 1
            req.note(f"  dropped: {exc}")
            req.drop_reason = "writer-busy" if isinstance(exc, WriterBusy) else "shutting-down"
            for fut in futs:  # lease ops already queued still commit (hooks are idempotent)
                fut.add_done_callback(_consume)
            return None
        # A plain future resolved from the writer's callback, not a coroutine: no Task and no
        # extra event-loop steps per request (the dispatcher awaits any awaitable).
        reply: asyncio.Future[Packet | None] = futs[0].get_loop().create_future()
        if len(futs) == 1:
            futs[0].add_done_callback(lambda done: self._finish(req, change, done, reply, reset))
            return reply
        # Several operations (lease hooks): finish at the first failure or after the last
        # success, as gather() would, without its wrapper future.
        left = [len(futs)]

        def one_done(done: asyncio.Future[None]) -> None:
            failed = done.cancelled() or done.exception() is not None  # (retrieves it)
            if left[0] <= 0:
                return  # finished already, by an earlier failure
            left[0] = 0 if failed else left[0] - 1
            if not left[0]:
                self._finish(req, change, done, reply, reset)

        for fut in futs:
            fut.add_done_callback(one_done)
        return reply

    def _finish(
        self,
        req: Request,
        change: Change,
        done: asyncio.Future[Any],
        reply: asyncio.Future[Packet | None],
        reset: ResetOp | None = None,
    ) -> None:
        """The writer is done with this request's operations: reply, or fail without a reply."""
        if done.cancelled() or done.exception() is not None:
            self.failed += 1
            change.rollback()  # already done by the writer; harmless when repeated
            if not reply.done():
                if done.cancelled():
                    reply.cancel()
                else:
                    reply.set_exception(done.exception())  # type: ignore[arg-type]
            return
        if reset is not None and reset.closed:  # committed, whatever becomes of the change
            self.doubt.take_closed(reset.closed)
            req.note(f"  closed in the database: {len(reset.closed)} session(s) written by other nodes")
        if change.stale:  # another node wrote one of its sessions first: nothing of it was written
            self.dropped_stale += 1
            uids = change.touched()
            change.rollback()
            req.note("  not answered: another node updated this session first; rereading it")
            req.drop_reason = "session-moved"
            log.info("accounting.session-moved", sessions=len(uids), nas=req.nas.name)
            self.doubt.add(uids)
            result: Packet | None = None
        elif change.cancelled:
            req.note("  not answered: an earlier write of this session failed")
            req.drop_reason = "earlier-write-failed"
            result = None
        else:
            change.committed()
            result = req.packet.reply(Code.ACCOUNTING_RESPONSE)
        if not reply.done():
            reply.set_result(result)


def _consume(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled():
        fut.exception()
