"""Removing a subscriber who may be online: refuse, or disconnect its sessions through their
NAS's plugin first (the path of ``session disconnect``). Used by the CLI and the admin API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.coa.service import CoaService
from radiusd.coa.sessions import SessionRef, open_sessions_of
from radiusd.store.errors import Conflict
from radiusd.store.subscribers import get_subscriber, remove_subscriber

from .actions import disconnect_sessions

#: ``sessions -> [SessionAction.to_json(), ...]``: how the sessions are disconnected
Disconnect = Callable[[list[SessionRef]], Awaitable[list[dict[str, Any]]]]


def plugin_disconnect(engine: AsyncEngine, coa: CoaService | None = None) -> Disconnect:
    """Disconnect through each session's NAS plugin (:func:`inventory.actions.disconnect_sessions`)."""
    service = coa or CoaService(engine)

    async def send(sessions: list[SessionRef]) -> list[dict[str, Any]]:
        return [a.to_json() for a in await disconnect_sessions(engine, sessions, service)]

    return send


async def remove_online_subscriber(
    engine: AsyncEngine, username: str, *, disconnect: bool, send: Disconnect | None = None
) -> list[dict[str, Any]]:
    """Remove ``username``. Without ``disconnect``: Conflict naming its open sessions, if any.
    With it: disconnect them first (``send``, default: the NAS plugins); a session left
    connected (NAK, timeout, no plugin) keeps the subscriber (Conflict naming it).
    Returns what was done to each session (``SessionAction.to_json()`` objects)."""
    if not disconnect:
        await remove_subscriber(engine, username)
        return []
    await get_subscriber(engine, username)  # NotFound before any NAS is bothered
    sessions = await open_sessions_of(engine, username)
    done = await (send or plugin_disconnect(engine))(sessions) if sessions else []
    left = [d for d in done if not d.get("ok") and not d.get("session_closed")]
    if left:
        d = left[0]
        raise Conflict(
            f"subscriber {username!r} not removed: {len(left)} of {len(done)} session(s) still "
            f"connected (session {d.get('acct_session_id')} on {d.get('nas')}: {_why(d)})"
        )
    await remove_subscriber(engine, username, open_sessions_ok=True)
    return done


def _why(done: dict[str, Any]) -> str:
    """Why a session is still connected: the answer (``nak Resources-Unavailable``) and its
    detail (an error, or who sent it: ``by the daemon, over RadSec ...``)."""
    answer = " ".join(str(x) for x in (done.get("outcome"), done.get("error_cause_name")) if x)
    return "; ".join(x for x in (answer, done.get("detail")) if x) or "no answer"
