"""Load the session table at daemon start: open sessions, and closed ones still worth knowing.

Open rows make Simultaneous-Use and the state machine right after a restart; sessions closed
less than ``closed_ttl`` ago are loaded too, so that a Stop retransmitted across a restart, or
an Interim-Update arriving after the Stop, is recognised and not counted again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from radiusd.model.sessions import LiveSession

from .models import RadiusSession
from .tables import core_table

_T = core_table(RadiusSession)


def session_from_row(row: Any) -> LiveSession:
    return LiveSession(
        unique_id=row["acct_unique_id"],
        acct_session_id=row["acct_session_id"],
        username=row["username"],
        nas_address=row["nas_address"],
        started_at=row["started_at"],
        updated_at=row["updated_at"],
        router_id=row["router_id"],
        subscriber_id=row["subscriber_id"],
        nas_port=row["nas_port"],
        nas_port_id=row["nas_port_id"],
        nas_port_type=row["nas_port_type"],
        framed_ip=row["framed_ip"],
        framed_ipv6_prefix=row["framed_ipv6_prefix"],
        delegated_ipv6_prefix=row["delegated_ipv6_prefix"],
        calling_station_id=row["calling_station_id"],
        called_station_id=row["called_station_id"],
        class_=row["class"],
        stopped_at=row["stopped_at"],
        session_time=row["session_time"],
        input_octets=row["input_octets"],
        output_octets=row["output_octets"],
        input_packets=row["input_packets"],
        output_packets=row["output_packets"],
        input_base=row["input_base"],
        output_base=row["output_base"],
        terminate_cause=row["terminate_cause"],
        status=row["status"],
        interim_interval=row["interim_interval"],
        rev=row["rev"],
    )


async def load_sessions(conn: AsyncConnection, closed_since: dt.datetime) -> list[LiveSession]:
    """Open sessions, plus closed ones updated at or after ``closed_since``.

    ``closed_updated_at`` is ``updated_at`` for a closed session, NULL for an open one (a
    generated column: its index does not block HOT updates of open sessions).
    """
    stmt = sa.select(_T).where(sa.or_(_T.c.status == "open", _T.c.closed_updated_at >= closed_since))
    result = await conn.execute(stmt)
    return [session_from_row(row) for row in result.mappings()]


async def load_sessions_by_id(conn: AsyncConnection, unique_ids: list[str]) -> list[LiveSession]:
    """The stored sessions with these Acct-Unique-Session-Ids (for change-feed updates)."""
    out: list[LiveSession] = []
    for start in range(0, len(unique_ids), 500):
        chunk = unique_ids[start : start + 500]
        result = await conn.execute(sa.select(_T).where(_T.c.acct_unique_id.in_(chunk)))
        out.extend(session_from_row(row) for row in result.mappings())
    return out
