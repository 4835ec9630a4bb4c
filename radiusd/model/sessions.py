"""Session states, time-series points, usage deltas, and the undo record of one request.

A :class:`LiveSession` is one ``radius_sessions`` row; the accounting state machine
(``radiusd.policy.accounting_state``) makes a new value per request, and a :class:`Change`
records the state each session had before, so that a failed commit can be undone in the
in-memory table (``radiusd.policy.sessions.SessionTable``, seen here as :class:`SessionStore`).
The store writes a Change's rows (``radiusd.store.accounting_ops``) and loads LiveSessions back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar, dataclass_transform

OPEN = "open"
CLOSED = "closed"

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True)
def record(cls: type[_T]) -> type[_T]:
    """A frozen dataclass for the type checker, a plain slotted one at run time.

    Per-request values (the parsed event, each new session state, time-series points) are
    built several times per Accounting-Request; a frozen dataclass's ``__init__`` sets each
    field through ``object.__setattr__``, about ten times the cost of a plain one (2.5 µs vs
    0.27 µs for 28 fields). mypy still rejects any assignment to a field (``frozen_default``);
    equality and hashing are the frozen dataclass's (``unsafe_hash``). Changed copies are made
    with ``dataclasses.replace``, never by assignment.
    """
    return dataclass(slots=True, unsafe_hash=True)(cls)


@record
class LiveSession:
    """One session's state, as stored in a ``radius_sessions`` row.

    ``input_octets``/``output_octets`` are the NAS's 64-bit counters as last reported
    (Gigawords x 2^32 + Octets, RFC 2869 §5.1-5.2); ``input_base``/``output_base`` hold what
    was counted before those counters last went down (a NAS counter reset). The session's
    usage is always ``base + octets`` (:attr:`input_total`). Immutable: a request makes a new
    value, so the previous one is its own undo record.
    """

    unique_id: str
    acct_session_id: str
    username: str
    nas_address: str
    started_at: dt.datetime
    updated_at: dt.datetime
    router_id: int | None = None
    subscriber_id: int | None = None
    nas_port: int | None = None
    nas_port_id: str | None = None
    nas_port_type: str | None = None
    framed_ip: str | None = None
    framed_ipv6_prefix: str | None = None
    delegated_ipv6_prefix: str | None = None
    calling_station_id: str | None = None
    called_station_id: str | None = None
    class_: str | None = None
    stopped_at: dt.datetime | None = None
    session_time: int = 0
    input_octets: int = 0
    output_octets: int = 0
    input_packets: int = 0
    output_packets: int = 0
    input_base: int = 0
    output_base: int = 0
    terminate_cause: str | None = None
    status: str = OPEN
    interim_interval: int | None = None
    #: the row's revision once this state is stored (:meth:`Change.put` sets it): several nodes
    #: write a session only over the revision their memory was computed from
    rev: int = 0

    @property
    def input_total(self) -> int:
        return self.input_base + self.input_octets

    @property
    def output_total(self) -> int:
        return self.output_base + self.output_octets

    @property
    def is_open(self) -> bool:
        return self.status == OPEN


@record
class InterimPoint:
    """One row of ``radius_interim_updates``: cumulative session totals at ``event_time``."""

    unique_id: str
    event_time: dt.datetime
    status_type: str  # "Start", "Interim-Update", "Stop"
    session_time: int
    input_octets: int  # session total (base + NAS counter): monotonic, resets already absorbed
    output_octets: int
    input_packets: int
    output_packets: int


@record
class UsageDelta:
    """What to add to ``service_usage`` for ``username`` on UTC ``day``."""

    username: str
    day: dt.date
    input_octets: int = 0
    output_octets: int = 0
    session_time: int = 0
    sessions: int = 0
    #: the time-series row this delta belongs to: the delta is added only when that row is new
    #: (a commit whose acknowledgement was lost must not be counted again when retransmitted)
    point: InterimPoint | None = None


class Change:
    """The in-memory effects of one request (or one sweep), pending until its commit.

    ``sessions`` are the new states to upsert, ``interims`` the time-series rows to add,
    ``closed`` the sessions to write as closed records (``radius_accounting``), ``usage`` the
    roll-up deltas. :meth:`rollback` restores the table; :meth:`committed` forgets the undo data.
    """

    __slots__ = ("_before", "cancelled", "closed", "done", "interims", "sessions", "stale", "table", "usage")

    def __init__(self, table: SessionStore) -> None:
        self.table = table
        self._before: dict[str, LiveSession | None] = {}
        self.sessions: list[LiveSession] = []
        self.interims: list[InterimPoint] = []
        self.closed: list[LiveSession] = []
        self.usage: list[UsageDelta] = []
        self.cancelled = False
        self.done = False
        #: committed without its sessions: another node had written one of them since this
        #: change was computed (radiusd.store.accounting_ops); to be undone and reread
        self.stale = False

    def put(self, new: LiveSession) -> None:
        """Make ``new`` the session's state now (pending) and queue its upsert. Its revision
        becomes the current state's plus one (``new`` is a value this request made, so it is
        set in place; copied when the request kept the current value as it was)."""
        uid = new.unique_id
        current = self.table.get(uid)
        rev = 1 if current is None else current.rev + 1
        if new is current:
            new = replace(new, rev=rev)
        else:
            object.__setattr__(new, "rev", rev)
        if uid not in self._before:
            self._before[uid] = current
            self.table._pending.setdefault(uid, []).append(self)
        self.table._put(uid, new)
        if self.sessions:  # (most changes put one session: no copy of an empty list)
            self.sessions = [s for s in self.sessions if s.unique_id != uid]
        self.sessions.append(new)
        if self.closed:
            self.closed = [s for s in self.closed if s.unique_id != uid]
        if new.status != OPEN:
            self.closed.append(new)

    def touch(self, uid: str) -> None:
        """Depend on ``uid``'s pending changes without changing it (a duplicate request)."""
        if uid not in self._before and uid in self.table._pending:
            self._before[uid] = self.table.get(uid)
            self.table._pending[uid].append(self)

    def stored_rev(self, uid: str) -> int:
        """The revision the database holds for ``uid`` when this change is written first in
        its transaction (earlier changes committed): -1 for a session this change creates."""
        before = self._before.get(uid)
        return -1 if before is None else before.rev

    def touched(self) -> set[str]:
        """The sessions this change writes or waits on (before it is committed or rolled back)."""
        return {s.unique_id for s in self.sessions} | set(self._before)

    @property
    def depends(self) -> bool:
        """True when this change waits on (or is) a pending change of some session."""
        return bool(self._before)

    @property
    def writes(self) -> bool:
        return bool(self.sessions or self.interims or self.closed or self.usage)

    def rollback(self) -> None:
        """Undo this change and every later pending change stacked on the same sessions."""
        if self.cancelled or self.done:
            return
        self.cancelled = True
        table = self.table
        for uid, previous in self._before.items():
            stack = table._pending.get(uid)
            if stack is None or self not in stack:
                continue
            i = stack.index(self)
            for later in reversed(stack[i + 1 :]):
                later.rollback()
            table._put(uid, previous)
            stack.remove(self)
            if not stack:
                del table._pending[uid]
        self._before.clear()

    def committed(self) -> None:
        """The transaction holding this change committed: keep its effects for good."""
        if self.done or self.cancelled:
            return
        self.done = True
        pending = self.table._pending
        for uid in self._before:
            stack = pending.get(uid)
            if stack is not None and self in stack:
                stack.remove(self)
                if not stack:
                    del pending[uid]
        self._before.clear()


class SessionStore(Protocol):
    """What a :class:`Change` needs of the session table it changes (the in-memory table,
    ``radiusd.policy.sessions.SessionTable``): the current state, a way to set it, and the
    stacks of pending changes per session."""

    _pending: dict[str, list[Change]]

    def get(self, unique_id: str) -> LiveSession | None: ...

    def _put(self, uid: str, new: LiveSession | None) -> None: ...
