"""The sessions a Disconnect/CoA acts on, read from ``radius_sessions``, and closing one the
NAS does not know (Error-Cause 503 Session-Context-Not-Found, RFC 5176 §3.5).

Closing writes the session row (status closed, stop time, terminate cause), its closed record
in ``radius_accounting`` (unless the daemon already wrote one) and a change-feed entry of topic
``session`` keyed by the Acct-Unique-Session-Id, in one transaction; a running daemon reads
that topic and closes its in-memory copy (its lease then ends with the IPAM expiry sweep).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from radiusd.store import session_view
from radiusd.store.changes import TOPIC_SESSION, record_change
from radiusd.store.engine import begin_write
from radiusd.store.errors import NotFound
from radiusd.store.models import RadiusAccounting, RadiusSession, utcnow
from radiusd.store.tables import core_table

#: Acct-Terminate-Cause recorded when the NAS says it has no such session (as the sweep does).
CLOSED_BY_NAS_CAUSE = "Lost-Service"


@dataclass(frozen=True, slots=True)
class SessionRef:
    """What a NAS needs to find a session (RFC 5176 §3 session identification attributes)."""

    username: str
    id: int | None = None  # radius_sessions.id
    acct_session_id: str | None = None
    acct_unique_id: str | None = None
    router_id: int | None = None
    nas_address: str | None = None
    nas_port_id: str | None = None
    framed_ip: str | None = None


_COLUMNS = (
    RadiusSession.id,
    RadiusSession.username,
    RadiusSession.acct_session_id,
    RadiusSession.acct_unique_id,
    RadiusSession.router_id,
    RadiusSession.nas_address,
    RadiusSession.nas_port_id,
    RadiusSession.framed_ip,
)


def _ref(row: Any) -> SessionRef:
    m = row._mapping
    return SessionRef(
        username=str(m["username"]),
        id=int(m["id"]),
        acct_session_id=m["acct_session_id"],
        acct_unique_id=m["acct_unique_id"],
        router_id=m["router_id"],
        nas_address=m["nas_address"],
        nas_port_id=m["nas_port_id"],
        framed_ip=m["framed_ip"],
    )


async def open_sessions_of(engine: AsyncEngine, username: str) -> list[SessionRef]:
    """The open sessions of ``username``, oldest first."""
    q = sa.select(*_COLUMNS).where(RadiusSession.username == username, RadiusSession.status == "open")
    async with engine.connect() as conn:
        return [_ref(r) for r in await conn.execute(q.order_by(RadiusSession.started_at, RadiusSession.id))]


async def find_open_session(engine: AsyncEngine, key: str) -> SessionRef:
    """An open session by numeric id or Acct-Unique-Session-Id; NotFound otherwise."""
    cond = RadiusSession.acct_unique_id == key
    if key.isdigit():
        cond = sa.or_(cond, RadiusSession.id == int(key))
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(*_COLUMNS, RadiusSession.status).where(cond))).all()
    if not rows:
        raise NotFound(f"session {key!r} does not exist")
    row = rows[0]
    if row._mapping["status"] != "open":
        raise NotFound(f"session {key!r} is already closed")
    return _ref(row)


def _insert(conn: AsyncConnection, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    return postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)


async def close_session(engine: AsyncEngine, session_id: int, cause: str = CLOSED_BY_NAS_CAUSE) -> bool:
    """Close an open session row the NAS no longer has; False when it was not open."""
    now = utcnow()
    async with begin_write(engine) as conn:
        row = (
            (await conn.execute(sa.select(RadiusSession).where(RadiusSession.id == session_id)))
            .mappings()
            .first()
        )
        if row is None or row["status"] != "open":
            return False
        await conn.execute(
            sa.update(RadiusSession)
            .where(RadiusSession.id == session_id, RadiusSession.status == "open")
            .values(status="closed", stopped_at=now, updated_at=now, terminate_cause=cause)
        )
        record = {
            "acct_unique_id": row["acct_unique_id"],
            "acct_session_id": row["acct_session_id"],
            "username": row["username"],
            "router_id": row["router_id"],
            "nas_address": row["nas_address"],
            "framed_ip": row["framed_ip"],
            "framed_ipv6_prefix": row["framed_ipv6_prefix"],
            "delegated_ipv6_prefix": row["delegated_ipv6_prefix"],
            "calling_station_id": row["calling_station_id"],
            "started_at": row["started_at"],
            "stopped_at": now,
            "session_time": row["session_time"],
            "input_octets": session_view.octets(row, "input"),
            "output_octets": session_view.octets(row, "output"),
            "terminate_cause": cause,
        }
        table = core_table(RadiusAccounting)
        await conn.execute(_insert(conn, table).values(record).on_conflict_do_nothing())
        await record_change(conn, TOPIC_SESSION, str(row["acct_unique_id"]))
    return True


def with_id(ref: SessionRef, session_id: int | None) -> SessionRef:
    return dataclasses.replace(ref, id=session_id)
