"""Reference checks shared by the CRUD functions: a named pool or subscriber must exist.

Each check runs on the caller's connection, inside its transaction, so the write that follows
sees the same rows the check saw.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .errors import InvalidInput
from .models import IPPool, RadiusSession, Subscriber


async def require_pool(conn: AsyncConnection, name: str | None, what: str = "pool") -> str | None:
    """``name`` when a pool of that name exists (None passes); InvalidInput otherwise."""
    if name is None:
        return None
    found = await conn.scalar(sa.select(IPPool.id).where(IPPool.name == name).limit(1))
    if found is None:
        raise InvalidInput(f"{what} {name!r} does not exist")
    return name


async def require_subscriber(conn: AsyncConnection, username: str | None) -> str | None:
    """``username`` when that subscriber exists (None passes); InvalidInput otherwise."""
    if username is None:
        return None
    found = await conn.scalar(sa.select(Subscriber.id).where(Subscriber.username == username))
    if found is None:
        raise InvalidInput(f"subscriber {username!r} does not exist")
    return username


async def open_session_ids(conn: AsyncConnection, username: str) -> list[str]:
    """``ACCT-SESSION-ID on NAS-ADDRESS`` of ``username``'s open sessions, oldest first."""
    query = (
        sa.select(RadiusSession.id, RadiusSession.acct_session_id, RadiusSession.nas_address)
        .where(RadiusSession.username == username, RadiusSession.status == "open")
        .order_by(RadiusSession.started_at, RadiusSession.id)
    )
    return [f"{row.acct_session_id} on {row.nas_address}" for row in await conn.execute(query)]
