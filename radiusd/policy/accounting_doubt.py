"""Sessions whose stored state memory cannot trust: commits in doubt, writes by other nodes.

Commit outcome unknown. When the connection drops during COMMIT the transaction may have
committed although the writer reports a failure: memory is rolled back and no reply is sent, as
for any failure, and the sessions of that batch are marked *in doubt*
(:meth:`DoubtTracker.commit_in_doubt`, the writer's ``on_in_doubt``). A newer request for such
a session would otherwise be computed against the rolled-back state and count the committed
delta a second time; instead the handler (radiusd.policy.accounting) does not answer it, and the
stored rows of the doubtful sessions are read back through the writer (:class:`ReloadOp`, first
in its transaction; on PostgreSQL only once ``txid_status()`` says the lost transaction is no
longer in progress). Once read, memory holds what the database holds and the NAS's
retransmissions are computed on it (a retransmission of the doubtful request itself then finds
its update stored and adds nothing). Accounting-On/Off and the sweep wait for the doubt to
clear too.

Written elsewhere. Another node announces the sessions it opened or closed
(:meth:`DoubtTracker.written_elsewhere`); they are read through the writer too, after this
node's own writes, so that Simultaneous-Use counts them. Sessions this node closed in the
database without holding them in memory (a NAS's Accounting-On/Off: radiusd.store.nas_reset)
are taken as committed (:meth:`DoubtTracker.take_closed`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from radiusd.logs import get_logger
from radiusd.model.sessions import Change, LiveSession
from radiusd.model.writes import Operation, WriterBusy, WriterClosed

from .sessions import SessionTable

log = get_logger("radiusd.accounting")


class ReloadOp(Operation, Protocol):
    """Reads the stored state of sessions in doubt (radiusd.store.accounting_ops.SessionReloadOp);
    once the transaction holding it has committed, ``found`` holds the rows read, or
    ``settled`` is False when a lost transaction was still running (nothing read yet)."""

    found: list[LiveSession]
    settled: bool


class OpSink(Protocol):
    """What the policy needs of the writer (radiusd.store.writer.Writer)."""

    def submit(self, op: Operation) -> asyncio.Future[None]: ...


MakeReloadOp = Callable[[list[str], list[int]], ReloadOp]


class DoubtTracker:
    """The sessions in doubt, and the reads that clear them. ``make_reload_op`` None: doubt
    is not tracked (nothing is ever in doubt) and announcements from other nodes are ignored."""

    def __init__(self, table: SessionTable, writer: OpSink, make_reload_op: MakeReloadOp | None) -> None:
        self.table = table
        self.writer = writer
        self.make_reload_op = make_reload_op
        #: the unique ids in doubt (read by the handler on every request: a plain set)
        self.sessions: set[str] = set()
        self._doubt_xids: set[int] = set()  # the lost transactions (PostgreSQL ids), if known
        self._reloading = False
        self._elsewhere: set[str] = set()  # sessions another node opened or closed, to read
        self._reading_elsewhere = False
        #: sessions another node opened or closed, taken into memory
        self.taken_elsewhere = 0

    def __len__(self) -> int:
        return len(self.sessions)

    def add(self, uids: Iterable[str]) -> None:
        """Put ``uids`` in doubt (their stored rows moved under us) and queue a read."""
        self.sessions.update(uids)
        self.resolve()

    # -- commits with an unknown outcome ---------------------------------------------------

    def commit_in_doubt(self, ops: Sequence[Operation]) -> None:
        """The writer lost its connection during the COMMIT of ``ops`` (Writer.on_in_doubt):
        their sessions are in doubt until reread from the database."""
        if self.make_reload_op is None:
            return
        uids: set[str] = set()
        for op in ops:
            change = getattr(op, "change", None)
            if isinstance(change, Change):
                uids |= change.touched()
            xid = getattr(op, "xid", None)
            if isinstance(xid, int):
                self._doubt_xids.add(xid)
        if uids - self.sessions:
            self.sessions |= uids
            log.warning("accounting.in-doubt", sessions=len(self.sessions))
            self.resolve()

    def resolve(self) -> None:
        """Queue one read of the sessions in doubt (again after a failed one: called by every
        request that finds its session in doubt, so the NAS's retransmissions retry it)."""
        if self._reloading or not self.sessions or self.make_reload_op is None:
            return
        uids = sorted(self.sessions)
        xids = sorted(self._doubt_xids)
        op = self.make_reload_op(uids, xids)
        try:
            fut = self.writer.submit(op)
        except (WriterBusy, WriterClosed):
            return
        self._reloading = True
        fut.add_done_callback(lambda done: self._reloaded(uids, xids, op, done))

    def _reloaded(self, uids: list[str], xids: list[int], op: ReloadOp, done: asyncio.Future[None]) -> None:
        self._reloading = False
        if done.cancelled() or done.exception() is not None or not op.settled:
            return  # still in doubt: the next request for one of them asks again
        self._doubt_xids.difference_update(xids)
        stored = {s.unique_id: s for s in op.found}
        resolved = 0
        for uid in uids:
            if self.table.pending(uid):
                continue  # never expected (their requests are not taken); stays in doubt
            self.table.reloaded(uid, stored.get(uid))
            self.sessions.discard(uid)
            resolved += 1
        log.info("accounting.in-doubt-resolved", sessions=resolved, left=len(self.sessions))
        if self.sessions - set(uids):
            self.resolve()  # sessions put in doubt while this read was on its way

    # -- sessions opened or closed at other nodes -----------------------------------------

    def take_closed(self, sessions: Iterable[LiveSession]) -> None:
        """Sessions this node's transaction closed in the database, as stored, once committed
        (Accounting-On/Off closing what other nodes wrote). One with a write of this node
        pending, or in doubt, is left to that write's outcome (a lost write rereads it)."""
        for s in sessions:
            uid = s.unique_id
            if not self.table.pending(uid) and uid not in self.sessions:
                self.table.reloaded(uid, s)

    def written_elsewhere(self, unique_ids: list[str]) -> None:
        """Another node opened or closed these sessions (its announcement): read them through
        the writer, after this node's own writes, so that Simultaneous-Use counts them."""
        self._elsewhere.update(unique_ids)
        self._read_elsewhere()

    def _read_elsewhere(self) -> None:
        if self._reading_elsewhere or not self._elsewhere or self.make_reload_op is None:
            return
        uids, self._elsewhere = sorted(self._elsewhere), set()
        op = self.make_reload_op(uids, [])
        try:
            fut = self.writer.submit(op)
        except (WriterBusy, WriterClosed):
            self._elsewhere.update(uids)
            return
        self._reading_elsewhere = True

        def done(read: asyncio.Future[None]) -> None:
            self._reading_elsewhere = False
            if read.cancelled() or read.exception() is not None or not op.settled:
                self._elsewhere.update(uids)  # read again with the next announcement
                return
            stored = {s.unique_id: s for s in op.found}
            for uid in uids:
                if uid in stored and not self.table.pending(uid) and uid not in self.sessions:
                    self.table.reloaded(uid, stored[uid])
                    self.taken_elsewhere += 1
            self._read_elsewhere()

        fut.add_done_callback(done)
