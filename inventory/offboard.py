"""Removing a subscriber who may be online: refuse, or disconnect its sessions through their
NAS's plugin first (the path of ``session disconnect``). Used by the CLI and the admin API."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.coa.service import CoaService
from radiusd.coa.sessions import open_sessions_of
from radiusd.store.errors import Conflict
from radiusd.store.subscribers import get_subscriber, remove_subscriber

from .actions import SessionAction, disconnect_sessions


async def remove_online_subscriber(
    engine: AsyncEngine, username: str, *, disconnect: bool, coa: CoaService | None = None
) -> list[SessionAction]:
    """Remove ``username``. Without ``disconnect``: Conflict naming its open sessions, if any.
    With it: disconnect them first; a session left connected (NAK, timeout, no plugin) keeps
    the subscriber (Conflict naming it). Returns what was done to each session."""
    if not disconnect:
        await remove_subscriber(engine, username)
        return []
    await get_subscriber(engine, username)  # NotFound before any NAS is bothered
    sessions = await open_sessions_of(engine, username)
    actions = await disconnect_sessions(engine, sessions, coa or CoaService(engine)) if sessions else []
    left = [a for a in actions if not a.ok and not a.closed]
    if left:
        a = left[0]
        why = a.error or (a.result.describe() if a.result is not None else "no answer")
        raise Conflict(
            f"subscriber {username!r} not removed: {len(left)} of {len(actions)} session(s) still "
            f"connected (session {a.session.acct_session_id} on {a.nas or a.session.nas_address}: {why})"
        )
    await remove_subscriber(engine, username, open_sessions_ok=True)
    return actions
