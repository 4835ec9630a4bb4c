"""What a helpdesk or admin operator can do from the console, each through the code path the
admin API's route takes (radiusd.api.subscribers, POST /radius/sessions/{id}/disconnect):
the same store functions and the same ``send`` (the NAS's plugin: RFC 5176 Disconnect-Request
or the vendor's API). Every action, done or failed, is one line of the audit log.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from radiusd.store import subscribers as subs
from radiusd.store.errors import StoreError
from radiusd.store.operators import WebSession, audit

Send = Callable[[Any, str], Awaitable[dict[str, Any]]]
SUBSCRIBER_ACTIONS = ("suspend", "resume", "disconnect", "set-plan", "reset-password")


@dataclass
class Outcome:
    """What the result page shows."""

    title: str
    ok: bool = True
    lines: list[str] = field(default_factory=list)
    #: a new password, shown once on the result page and nowhere else
    secret: str | None = None


def _describe(done: dict[str, Any]) -> str:
    what = "disconnected" if done.get("ok") else f"not disconnected ({done.get('outcome') or 'no plugin'})"
    extra = f": {done['detail']}" if done.get("detail") and not done.get("ok") else ""
    return f"session {done.get('session')} ({done.get('username')} on {done.get('nas')}): {what}{extra}"


class Actions:
    def __init__(self, state: Any, send: Send) -> None:
        self.state = state
        self.engine = state.engine
        self.send = send

    async def _audit(
        self, web: WebSession, action: str, target: str, ok: bool, detail: str, source: str | None
    ) -> None:
        await audit(self.engine, web.operator, action, target, "ok" if ok else "failed", detail, source)

    async def unlock(self, web: WebSession, operator: str, source: str | None) -> Outcome:
        """Clear an operator's lockout (admin only; as ``radiusd operator set NAME --unlock``)."""
        from radiusd.store.operators import set_operator

        try:
            info = await set_operator(self.engine, operator, unlock=True)
        except StoreError as exc:
            await self._audit(web, "operator-unlock", operator, False, str(exc), source)
            return Outcome(f"unlock {operator}", ok=False, lines=[str(exc)])
        await self._audit(web, "operator-unlock", info.name, True, "unlocked", source)
        return Outcome(f"unlock {info.name}", lines=["unlocked"])

    async def disconnect(self, web: WebSession, session_ids: list[str], source: str | None) -> Outcome:
        from radiusd.api.queries import find_session

        out = Outcome(f"Disconnect {len(session_ids)} session(s)")
        for key in session_ids:
            found = await find_session(self.engine, key)
            if found is None or found["status"] != "open":
                line = f"session {key}: {'not found' if found is None else 'already closed'}"
                out.ok = False
                out.lines.append(line)
                await self._audit(web, "disconnect", found["username"] if found else key, False, line, source)
                continue
            done = await self.send(self.state, str(found["id"]))
            line = _describe(done)
            out.ok = out.ok and bool(done.get("ok"))
            out.lines.append(line)
            await self._audit(web, "disconnect", str(found["username"]), bool(done.get("ok")), line, source)
        return out

    async def subscriber(
        self, web: WebSession, action: str, username: str, form: dict[str, str], source: str | None
    ) -> Outcome:
        try:
            out = await self._subscriber(action, username, form)
        except StoreError as exc:
            await self._audit(web, action, username, False, str(exc), source)
            return Outcome(f"{action} {username}", ok=False, lines=[str(exc)])
        detail = "; ".join(out.lines) or None
        await self._audit(web, action, username, out.ok, detail or "", source)
        return out

    async def _subscriber(self, action: str, username: str, form: dict[str, str]) -> Outcome:
        from radiusd.coa.sessions import open_sessions_of

        out = Outcome(f"{action} {username}")
        if action in ("suspend", "resume"):
            status = "suspended" if action == "suspend" else "active"
            record = await subs.set_subscriber_status(self.engine, username, status)
            out.lines.append(f"status is now {record.status}")
            if action == "suspend":  # as POST /subscribers/{u}/suspend: its sessions end
                for ref in await open_sessions_of(self.engine, username):
                    done = await self.send(self.state, str(ref.id))
                    out.ok = out.ok and bool(done.get("ok"))
                    out.lines.append(_describe(done))
        elif action == "disconnect":
            for ref in await open_sessions_of(self.engine, username):
                done = await self.send(self.state, str(ref.id))
                out.ok = out.ok and bool(done.get("ok"))
                out.lines.append(_describe(done))
            if not out.lines:
                out.lines.append("no open session")
        elif action == "set-plan":
            await self._set_plan(username, form.get("plan", "").strip() or None, out)
        elif action == "reset-password":
            password = form.get("password", "")
            generated = not password
            if generated:
                password = secrets.token_urlsafe(9)
            await subs.update_subscriber(self.engine, username, password=password)
            out.lines.append("password changed" + (" (generated)" if generated else ""))
            out.secret = password if generated else None
        else:
            raise ValueError(action)
        return out

    async def _set_plan(self, username: str, plan: str | None, out: Outcome) -> None:
        """As POST /subscribers/{u}/set-plan: open sessions get the plan through their NAS."""
        from inventory.actions import apply_plan
        from radiusd.api.coa import daemon_coa
        from radiusd.coa.sessions import open_sessions_of
        from radiusd.store.plans import get_plan

        record = await subs.set_subscriber_plan(self.engine, username, plan)
        out.lines.append(f"plan is now {record.plan or '(none)'}")
        sessions = await open_sessions_of(self.engine, username)
        if record.plan and sessions:
            plan_record = await get_plan(self.engine, record.plan)
            for action in await apply_plan(self.engine, sessions, plan_record, daemon_coa(self.state)):
                done = action.to_json()
                out.ok = out.ok and bool(done.get("ok"))
                out.lines.append(f"session {done['session']}: {done['action']} {done['outcome']}")
