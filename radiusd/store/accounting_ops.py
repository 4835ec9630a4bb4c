"""Writer operations for accounting: session upserts, interim rows, closed records, usage roll-up.

All the accounting of one group commit is written by four executemany statements, whatever
the number of requests (DESIGN.md, "The writer"):

1. ``radius_sessions``: INSERT ... ON CONFLICT (acct_unique_id) DO UPDATE with the session's
   whole state as computed in memory (the last state per session in the batch wins), so a
   retransmission writes the same row again (idempotent);
2. ``radius_interim_updates``: INSERT ... SELECT the session id ... ON CONFLICT DO NOTHING
   (the retransmit unique constraint makes a repeated point one row);
3. ``radius_accounting``: the closed record, upserted by acct_unique_id;
4. ``service_usage``: the batch's deltas summed per (username, day) and *added* to the row,
   except deltas whose time-series row existed before this transaction (one SELECT by the
   retransmit key): a transaction that committed although its connection dropped during
   COMMIT is not counted again when the unanswered request is retransmitted.

Deltas are computed by the policy against the in-memory state at submit time, and a change
whose commit fails is undone in memory (:meth:`AccountingOp.rolled_back`), so the same usage
is never added twice. The meaning of every column is documented in radiusd.policy.accounting.
A change cancelled in memory (an earlier write of its session failed) writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from radiusd.policy.sessions import Change, InterimPoint, LiveSession, UsageDelta

from .models import RadiusAccounting, RadiusInterimUpdate, RadiusSession, ServiceUsageTracking, UTCDateTime

_SESSIONS: sa.Table = RadiusSession.__table__  # type: ignore[assignment]
_ACCOUNTING: sa.Table = RadiusAccounting.__table__  # type: ignore[assignment]
_USAGE: sa.Table = ServiceUsageTracking.__table__  # type: ignore[assignment]
_INTERIMS: sa.Table = RadiusInterimUpdate.__table__  # type: ignore[assignment]
_CHUNK = 500  # points per lookup: well under SQLite's and asyncpg's bound-parameter limits
PointKey = tuple[str, str, int, int, int]


def _point_key(p: InterimPoint) -> PointKey:
    return (p.unique_id, p.status_type, p.session_time, p.input_octets, p.output_octets)


async def _stored_points(conn: AsyncConnection, points: list[InterimPoint]) -> set[PointKey]:
    """Which of ``points`` are already rows (the retransmit unique constraint's columns)."""
    found: set[PointKey] = set()
    c = _INTERIMS.c
    cols = (c.acct_unique_id, c.status_type, c.session_time, c.input_octets, c.output_octets)
    for i in range(0, len(points), _CHUNK):
        keys = [(p.unique_id, p.status_type, p.session_time) for p in points[i : i + _CHUNK]]
        stmt = sa.select(*cols).where(sa.tuple_(c.acct_unique_id, c.status_type, c.session_time).in_(keys))
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
            set_={c.name: ins.excluded[c.name] for c in _SESSIONS.c if c.name not in keep},
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
    """One request's accounting change, written with the rest of its batch."""

    order: ClassVar[int] = 50  # after leases (IPAM), which sessions may refer to
    __slots__ = ("change",)

    def __init__(self, change: Change) -> None:
        self.change = change

    def rolled_back(self) -> None:
        self.change.rollback()

    @classmethod
    async def apply_batch(cls, conn: AsyncConnection, ops: Sequence[AccountingOp]) -> None:
        sessions: dict[str, dict[str, Any]] = {}
        closed: dict[str, dict[str, Any]] = {}
        interims: list[dict[str, Any]] = []
        deltas: list[UsageDelta] = []
        for op in ops:
            ch = op.change
            if ch.cancelled:
                continue
            for s in ch.sessions:
                sessions[s.unique_id] = session_row(s)
            for s in ch.closed:
                closed[s.unique_id] = accounting_row(s)
            interims.extend(interim_row(p) for p in ch.interims)
            deltas.extend(ch.usage)
        dialect = conn.dialect.name
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
            await conn.execute(_statement(dialect, "sessions"), list(sessions.values()))
        if interims:
            await conn.execute(_INTERIM_SQL, interims)
        if closed:
            await conn.execute(_statement(dialect, "accounting"), list(closed.values()))
        rows = [
            {"username": user, "day": day, "input_octets": a[0], "output_octets": a[1],
             "session_time": a[2], "sessions": a[3]}
            for (user, day), a in sorted(usage.items())
            if any(a)
        ]  # fmt: skip
        if rows:
            await conn.execute(_statement(dialect, "usage"), rows)
