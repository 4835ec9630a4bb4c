"""Writer operations for accounting: session upserts, interim rows, closed records, usage roll-up.

All the accounting of one group commit is written by a fixed number of statements, whatever
the number of requests. On PostgreSQL that is one statement: the four
writes below as data-modifying CTEs, each table's rows passed as one array of a composite row
type and expanded by ``unnest`` (one round trip and one plan execution per table; about half the
PostgreSQL CPU of executemany, which executes the plan once per row). Elsewhere (SQLite) they
are four executemany statements:

1. ``radius_sessions``: the session's whole state as computed in memory (the last state per
   session in the batch wins), so a retransmission writes the same row again (idempotent):
   INSERT ... ON CONFLICT (acct_unique_id) DO UPDATE on SQLite; on PostgreSQL an UPDATE over
   the revision the node computed from (radiusd.store.accounting_pg) and an INSERT ... ON
   CONFLICT DO NOTHING of the sessions not stored yet;
2. ``radius_interim_updates``: INSERT ... SELECT the session id ... ON CONFLICT DO NOTHING
   (the retransmit unique constraint makes a repeated point one row);
3. ``radius_accounting``: the closed record, upserted by acct_unique_id;
4. ``service_usage``: the batch's deltas summed per (username, day) and *added* to the row,
   except deltas whose time-series row existed before this transaction (PostgreSQL: those the
   time-series insert did not RETURN; elsewhere one SELECT by the retransmit key): a
   transaction that committed although its connection dropped during COMMIT is not counted
   again when the unanswered request is retransmitted.

Deltas are computed by the policy against the in-memory state at submit time, and a change
whose commit fails is undone in memory (:meth:`AccountingOp.rolled_back`), so the same usage
is never added twice. The meaning of every column is documented in radiusd.policy.accounting_state.
A change cancelled in memory (an earlier write of its session failed) writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from radiusd.model.events import OtherEvent
from radiusd.model.sessions import Change, InterimPoint, LiveSession, UsageDelta

from .accounting_pg import _apply_postgresql
from .lease_ops import notify_payloads
from .models import (
    RadiusAccounting,
    RadiusAccountingEvent,
    RadiusInterimUpdate,
    RadiusSession,
    ServiceUsageTracking,
    UTCDateTime,
)
from .sessions_load import load_sessions_by_id
from .tables import core_table

_SESSIONS = core_table(RadiusSession)
_ACCOUNTING = core_table(RadiusAccounting)
_USAGE = core_table(ServiceUsageTracking)
_INTERIMS = core_table(RadiusInterimUpdate)
_EVENTS = core_table(RadiusAccountingEvent)
_CHUNK = 500  # points per lookup: well under SQLite's and asyncpg's bound-parameter limits
PointKey = tuple[str, str, int, int, int]


def _point_key(p: InterimPoint) -> PointKey:
    return (p.unique_id, p.status_type, p.session_time, p.input_octets, p.output_octets)


async def _stored_points(conn: AsyncConnection, points: list[InterimPoint]) -> set[PointKey]:
    """Which of ``points`` are already rows (by the retransmit unique constraint's columns:
    the session's id, found by its acct_unique_id, then the point's own)."""
    found: set[PointKey] = set()
    c = _INTERIMS.c
    uids = sorted({p.unique_id for p in points})
    session_ids: dict[str, int] = {}
    for i in range(0, len(uids), _CHUNK):
        stmt = sa.select(_SESSIONS.c.acct_unique_id, _SESSIONS.c.id).where(
            _SESSIONS.c.acct_unique_id.in_(uids[i : i + _CHUNK])
        )
        session_ids.update((row[0], row[1]) for row in await conn.execute(stmt))
    known = [p for p in points if p.unique_id in session_ids]
    cols = (c.acct_unique_id, c.status_type, c.session_time, c.input_octets, c.output_octets)
    for i in range(0, len(known), _CHUNK):
        keys = [(session_ids[p.unique_id], p.status_type, p.session_time) for p in known[i : i + _CHUNK]]
        stmt = sa.select(*cols).where(sa.tuple_(c.session_id, c.status_type, c.session_time).in_(keys))
        for row in await conn.execute(stmt):
            found.add((row[0], row[1], row[2], row[3], row[4]))
    return found


# INSERT ... SELECT (the session's id without a round trip); the casts give PostgreSQL the
# parameters' types, which it cannot infer from a select list.
_INTERIM_SQL = sa.text(
    "INSERT INTO radius_interim_updates (session_id, acct_unique_id, event_time, status_type, "
    "session_time, input_octets, output_octets, input_packets, output_packets) "
    "SELECT id, CAST(:uid AS VARCHAR(255)), :event_time, CAST(:status_type AS VARCHAR(16)), "
    "CAST(:session_time AS BIGINT), CAST(:input_octets AS BIGINT), CAST(:output_octets AS BIGINT), "
    "CAST(:input_packets AS BIGINT), CAST(:output_packets AS BIGINT) "
    "FROM radius_sessions WHERE acct_unique_id = CAST(:uid AS VARCHAR(255)) "
    "ON CONFLICT DO NOTHING"
).bindparams(sa.bindparam("event_time", type_=UTCDateTime()))


def _insert(dialect: str, table: sa.Table) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for dialect {dialect!r}")


_cache: dict[tuple[str, str], Any] = {}


def _statement(dialect: str, which: str) -> Any:
    key = (dialect, which)
    stmt = _cache.get(key)
    if stmt is not None:
        return stmt
    if which == "sessions":
        ins = _insert(dialect, _SESSIONS)
        keep = {"id", "acct_unique_id"}
        stmt = ins.on_conflict_do_update(
            index_elements=["acct_unique_id"],
            set_={
                c.name: ins.excluded[c.name]
                for c in _SESSIONS.c
                if c.name not in keep and c.computed is None  # generated columns are not written
            },
        )
    elif which == "accounting":
        ins = _insert(dialect, _ACCOUNTING)
        keep = {"id", "acct_unique_id"}
        stmt = ins.on_conflict_do_update(
            index_elements=["acct_unique_id"],
            set_={c.name: ins.excluded[c.name] for c in _ACCOUNTING.c if c.name not in keep},
        )
    else:
        ins = _insert(dialect, _USAGE)
        stmt = ins.on_conflict_do_update(
            index_elements=["username", "day"],
            set_={
                name: _USAGE.c[name] + ins.excluded[name]
                for name in ("input_octets", "output_octets", "session_time", "sessions")
            },
        )
    _cache[key] = stmt
    return stmt


def session_row(s: LiveSession) -> dict[str, Any]:
    return {
        "acct_unique_id": s.unique_id,
        "acct_session_id": s.acct_session_id,
        "username": s.username,
        "subscriber_id": s.subscriber_id,
        "router_id": s.router_id,
        "nas_address": s.nas_address,
        "nas_port": s.nas_port,
        "nas_port_id": s.nas_port_id,
        "nas_port_type": s.nas_port_type,
        "framed_ip": s.framed_ip,
        "framed_ipv6_prefix": s.framed_ipv6_prefix,
        "delegated_ipv6_prefix": s.delegated_ipv6_prefix,
        "calling_station_id": s.calling_station_id,
        "called_station_id": s.called_station_id,
        "class": s.class_,
        "started_at": s.started_at,
        "updated_at": s.updated_at,
        "stopped_at": s.stopped_at,
        "session_time": s.session_time,
        "input_octets": s.input_octets,
        "output_octets": s.output_octets,
        "input_packets": s.input_packets,
        "output_packets": s.output_packets,
        "input_base": s.input_base,
        "output_base": s.output_base,
        "terminate_cause": s.terminate_cause,
        "status": s.status,
        "interim_interval": s.interim_interval,
        "rev": s.rev,
    }


def accounting_row(s: LiveSession) -> dict[str, Any]:
    return {
        "acct_unique_id": s.unique_id,
        "acct_session_id": s.acct_session_id,
        "username": s.username,
        "router_id": s.router_id,
        "nas_address": s.nas_address,
        "framed_ip": s.framed_ip,
        "framed_ipv6_prefix": s.framed_ipv6_prefix,
        "delegated_ipv6_prefix": s.delegated_ipv6_prefix,
        "calling_station_id": s.calling_station_id,
        "started_at": s.started_at,
        "stopped_at": s.stopped_at or s.updated_at,
        "session_time": s.session_time,
        "input_octets": s.input_total,
        "output_octets": s.output_total,
        "terminate_cause": s.terminate_cause,
    }


def interim_row(p: InterimPoint) -> dict[str, Any]:
    return {
        "uid": p.unique_id,
        "event_time": p.event_time,
        "status_type": p.status_type,
        "session_time": p.session_time,
        "input_octets": p.input_octets,
        "output_octets": p.output_octets,
        "input_packets": p.input_packets,
        "output_packets": p.output_packets,
    }


class AccountingOp:
    """One request's accounting change, written with the rest of its batch. On PostgreSQL a
    session another node wrote since this node's memory of it was computed is not written:
    the op's change is then marked ``stale`` (the policy rereads the session; no reply).
    With ``node`` set, the sessions the batch opened or closed are announced (PostgreSQL)."""

    order: ClassVar[int] = 50  # after leases (IPAM), which sessions may refer to
    raw_postgresql: ClassVar[bool] = True  # one asyncpg statement per batch (accounting_pg)
    __slots__ = ("change", "node", "xid")

    def __init__(self, change: Change, node: str | None = None) -> None:
        self.change = change
        self.node = node
        #: the PostgreSQL transaction id that wrote it (None elsewhere): when the connection is
        #: lost during its COMMIT, txid_status() tells whether that transaction is still running
        self.xid: int | None = None

    def rolled_back(self) -> None:
        self.change.rollback()

    @classmethod
    async def apply_batch(cls, conn: AsyncConnection, ops: Sequence[AccountingOp]) -> None:  # noqa: C901  (one group commit: each kind of operation collected, then written once)
        sessions: dict[str, LiveSession] = {}
        closed: dict[str, LiveSession] = {}
        interims: list[InterimPoint] = []
        deltas: list[UsageDelta] = []
        stored_rev: dict[str, int] = {}
        for op in ops:
            ch = op.change
            if ch.cancelled:
                continue
            for s in ch.sessions:
                if s.unique_id not in stored_rev:
                    stored_rev[s.unique_id] = ch.stored_rev(s.unique_id)
                sessions[s.unique_id] = s
            for s in ch.closed:
                closed[s.unique_id] = s
            interims.extend(ch.interims)
            deltas.extend(ch.usage)
        if not (sessions or closed or interims or deltas):
            return
        dialect = conn.dialect.name
        if dialect == "postgresql":
            # sessions opened or closed, announced in the same statement; one another node
            # wrote first (lost) is announced too: a reader of it finds that node's state
            node = next((op.node for op in ops if op.node is not None), None)
            moved = [uid for uid, rev in stored_rev.items() if rev < 0 or uid in closed]
            notify = notify_payloads(node, moved) if node is not None else []
            xid, lost = await _apply_postgresql(conn, sessions, closed, interims, deltas, stored_rev, notify)
            for op in ops:
                op.xid = xid
                if lost and not op.change.cancelled and lost & op.change.touched():
                    op.change.stale = True
            return
        stored = await _stored_points(conn, [u.point for u in deltas if u.point is not None])
        usage: dict[tuple[str, dt.date], list[int]] = {}
        for u in deltas:
            if u.point is not None and _point_key(u.point) in stored:
                continue  # committed before, its acknowledgement lost: counted already
            acc = usage.setdefault((u.username, u.day), [0, 0, 0, 0])
            acc[0] += u.input_octets
            acc[1] += u.output_octets
            acc[2] += u.session_time
            acc[3] += u.sessions
        if sessions:
            await conn.execute(_statement(dialect, "sessions"), [session_row(s) for s in sessions.values()])
        if interims:
            await conn.execute(_INTERIM_SQL, [interim_row(p) for p in interims])
        if closed:
            await conn.execute(
                _statement(dialect, "accounting"), [accounting_row(s) for s in closed.values()]
            )
        rows = [
            {"username": user, "day": day, "input_octets": a[0], "output_octets": a[1],
             "session_time": a[2], "sessions": a[3]}
            for (user, day), a in sorted(usage.items())
            if any(a)
        ]  # fmt: skip
        if rows:
            await conn.execute(_statement(dialect, "usage"), rows)


class AccountingEventOp:
    """One Accounting-Request that is not a session event (radiusd.model.events.OtherEvent),
    written with the rest of its batch; a retransmission (same digest) adds nothing."""

    order: ClassVar[int] = 60
    __slots__ = ("event",)

    def __init__(self, event: OtherEvent) -> None:
        self.event = event

    def rolled_back(self) -> None:
        """Nothing in memory to undo."""

    @classmethod
    async def apply_batch(cls, conn: AsyncConnection, ops: Sequence[AccountingEventOp]) -> None:
        rows = {op.event.digest: op.event for op in ops}  # a retransmission within the batch
        names = [f.name for f in _EVENTS.c if f.name != "id"]
        # no conflict target: on PostgreSQL the digest is unique per partition (migration 0016)
        stmt = _insert(conn.dialect.name, _EVENTS).on_conflict_do_nothing()
        await conn.execute(stmt, [{n: getattr(e, n) for n in names} for e in rows.values()])


class SessionReloadOp:
    """Reads back sessions whose last commit lost its connection (outcome unknown): what the
    database holds is the truth the state machine must continue from
    (radiusd.policy.accounting_doubt). First in its transaction.

    On PostgreSQL it first asks ``txid_status()`` of the lost transactions (``xids``): while one
    is still ``in progress`` (its backend has not finished the COMMIT it received), reading now
    could miss it, so nothing is read and ``settled`` stays False (asked again later).
    """

    order: ClassVar[int] = 0
    __slots__ = ("found", "settled", "unique_ids", "xids")

    def __init__(self, unique_ids: list[str], xids: list[int] | None = None) -> None:
        self.unique_ids = unique_ids
        self.xids = xids or []
        self.found: list[LiveSession] = []
        self.settled = False

    def rolled_back(self) -> None:
        self.found = []
        self.settled = False

    @classmethod
    async def apply_batch(cls, conn: AsyncConnection, ops: Sequence[SessionReloadOp]) -> None:
        xids = sorted({x for op in ops for x in op.xids})
        if xids and conn.dialect.name == "postgresql":
            statuses = await conn.execute(_TXID_STATUS, {"xids": xids})
            if any(row[0] == "in progress" for row in statuses):
                return  # not settled: the lost COMMIT is still being carried out
        wanted = sorted({uid for op in ops for uid in op.unique_ids})
        stored = {s.unique_id: s for s in await load_sessions_by_id(conn, wanted)}
        for op in ops:
            op.found = [stored[uid] for uid in op.unique_ids if uid in stored]
            op.settled = True


_TXID_STATUS = sa.text("SELECT txid_status(x) FROM unnest(CAST(:xids AS BIGINT[])) AS x")
