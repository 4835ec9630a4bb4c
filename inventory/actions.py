"""Acting on subscribers through their NAS's plugin: disconnect sessions, apply a plan live,
and the provisioning flow (address -> account -> PPPoE credentials on the router).

Used by the CLI (radiusd.cli.coa) and usable by the admin API; no output here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ipam.groups import load_allocator
from radiusd.coa.client import CoaResult, Outcome
from radiusd.coa.service import CoaService
from radiusd.coa.sessions import SessionRef
from radiusd.store.errors import Conflict, NotFound, StoreError
from radiusd.store.models import Router
from radiusd.store.records import NasRecord, PlanRecord, SubscriberRecord

from .plugins.base import PluginError, Unsupported
from .plugins.registry import plugin_for


@dataclass(frozen=True, slots=True)
class SessionAction:
    """What happened to one session: ``action`` is disconnect | change-plan | none."""

    session: SessionRef
    nas: str | None
    action: str
    result: CoaResult | None = None
    closed: bool = False  # our record closed after Error-Cause 503
    error: str | None = None
    fallback: str | None = None  # e.g. "disconnected: CoA refused"

    @property
    def ok(self) -> bool:
        return self.error is None and self.result is not None and self.result.ok

    def to_json(self) -> dict[str, Any]:
        r = self.result
        return {
            "session": self.session.id,
            "acct_session_id": self.session.acct_session_id,
            "username": self.session.username,
            "nas": self.nas,
            "action": self.action,
            "outcome": None if r is None else str(r.outcome),
            "error_cause": None if r is None else r.error_cause,
            "error_cause_name": None if r is None else r.error_cause_name,
            "attempts": None if r is None else r.attempts,
            "detail": self.error or (r.detail if r is not None and r.detail else None),
            "session_closed": self.closed,
            "ok": self.ok,
            "fallback": self.fallback,
        }


async def routers_by_id(engine: AsyncEngine) -> dict[int, NasRecord]:
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(Router.__table__))).mappings()
        return {int(row["id"]): NasRecord.from_row(row) for row in rows}


def nas_of(session: SessionRef, routers: dict[int, NasRecord]) -> NasRecord | None:
    """The NAS a session came through: by its router id, else by its NAS address."""
    if session.router_id is not None and session.router_id in routers:
        return routers[session.router_id]
    return next((n for n in routers.values() if n.address == session.nas_address), None)


async def disconnect_sessions(
    engine: AsyncEngine, sessions: list[SessionRef], coa: CoaService
) -> list[SessionAction]:
    """Disconnect each session through its NAS's plugin (one after another)."""
    routers = await routers_by_id(engine)
    return [await disconnect_session(s, nas_of(s, routers), coa) for s in sessions]


async def disconnect_session(s: SessionRef, nas: NasRecord | None, coa: CoaService) -> SessionAction:
    """Disconnect ``s`` through the plugin of ``nas`` (its NAS, :func:`nas_of`)."""
    if nas is None:
        return SessionAction(s, None, "disconnect", error=f"its NAS {s.nas_address} is not configured")
    try:
        result = await plugin_for(nas, coa).disconnect(s)
    except PluginError as exc:
        return SessionAction(s, nas.name, "disconnect", error=str(exc))
    return SessionAction(s, nas.name, "disconnect", result, closed=s.id in coa.closed_sessions)


async def apply_plan(
    engine: AsyncEngine, sessions: list[SessionRef], plan: PlanRecord, coa: CoaService
) -> list[SessionAction]:
    """:func:`apply_plan_to` each session, one after another."""
    routers = await routers_by_id(engine)
    return [await apply_plan_to(s, nas_of(s, routers), plan, coa) for s in sessions]


async def apply_plan_to(
    s: SessionRef, nas: NasRecord | None, plan: PlanRecord, coa: CoaService
) -> SessionAction:
    """CoA ``s`` (on ``nas``, its NAS) with ``plan``; disconnect it when its NAS cannot change the
    plan live or refuses the CoA (other than 503: that session is gone), so the plan applies at
    re-login."""
    if nas is None:
        return SessionAction(s, None, "change-plan", error=f"its NAS {s.nas_address} is not configured")
    try:
        plugin = plugin_for(nas, coa)
        reason = None
        if plugin.can_change_plan_live:
            try:
                result = await plugin.change_plan(s, plan)
            except Unsupported as exc:
                reason = str(exc)
            else:
                if result.ok or result.outcome is Outcome.TIMEOUT or result.error_cause == 503:
                    closed = s.id in coa.closed_sessions
                    return SessionAction(s, nas.name, "change-plan", result, closed=closed)
                reason = f"CoA refused: {result.describe()}"
        else:
            reason = f"{plugin.name} NAS cannot change a plan live"
        result = await plugin.disconnect(s)
    except PluginError as exc:
        return SessionAction(s, nas.name, "change-plan", error=str(exc))
    closed = s.id in coa.closed_sessions
    return SessionAction(s, nas.name, "disconnect", result, closed=closed, fallback=reason)


# -- provisioning -----------------------------------------------------------------------------


class ProvisionError(StoreError):
    """A provisioning step failed; what was undone (or could not be) is in the message."""

    def __init__(self, username: str, step: str, reason: str, undone: list[str], left: list[str]) -> None:
        self.step, self.reason, self.undone, self.left = step, reason, undone, left
        text = f"provisioning {username!r} failed at step '{step}': {reason}"
        if undone:
            text += f"; undone: {', '.join(undone)}"
        if left:
            text += f"; COULD NOT UNDO: {', '.join(left)}"
        super().__init__(text)


@dataclass(slots=True)
class Provisioned:
    subscriber: SubscriberRecord
    address: str
    nas: str
    steps: list[str] = field(default_factory=list)


async def free_address(engine: AsyncEngine, pool: str, owner: str) -> str:
    """An address of ``pool``'s IPv4 ranges that ``owner`` may reserve (its own sticky or
    static one first), found on the stored state; not reserved yet (reserve_address does it,
    re-checking under the pool lock)."""
    from radiusd.store.pool_rows import load_configs, load_leases

    async with engine.connect() as conn:
        configs = await load_configs(conn)
        cfg = configs.get(pool)
        if cfg is None or cfg.kind != "ipv4":
            raise NotFound(f"pool {pool!r} does not exist")
        alloc, _orphans = load_allocator(configs.values(), await load_leases(conn))
    change = alloc.pool(pool).allocate(owner, time.time())
    if change is None:
        raise Conflict(f"pool {pool!r} has no free address")
    return str(change.lease.address)


async def provision(
    engine: AsyncEngine, username: str, password: str, *, plan: str, pool: str, nas: str, coa: CoaService
) -> Provisioned:
    """Take a free address from ``pool`` as the subscriber's static reservation, create the
    account with it, push the PPPoE credentials to ``nas``. All or nothing: a failed step undoes
    the earlier ones (account removed, reservation lifted) and ProvisionError names the step."""
    from radiusd.store.nas import get_nas
    from radiusd.store.plans import get_plan
    from radiusd.store.pools import reserve_address, unreserve_address
    from radiusd.store.subscribers import add_subscriber, get_subscriber, remove_subscriber

    undo: list[tuple[str, Any]] = []
    step = "check"

    async def fail(reason: str) -> ProvisionError:
        undone, left = [], []
        for what, action in reversed(undo):
            try:
                await action()
                undone.append(what)
            except (StoreError, PluginError, OSError) as exc:
                left.append(f"{what} ({exc})")
        return ProvisionError(username, step, reason, undone, left)

    try:
        await get_plan(engine, plan)
        router = await get_nas(engine, nas)
        try:
            await get_subscriber(engine, username)
        except NotFound:
            pass
        else:
            raise Conflict(f"subscriber {username!r} already exists")
        plugin = plugin_for(router, coa)
        if not plugin.can_push_credentials:
            raise Unsupported(
                f"{router.vendor} NAS {router.name!r} cannot take pushed credentials "
                "(no RouterOS API credentials on the NAS record?)"
            )
        step = "reserve address"
        address = ""
        for _ in range(3):  # another writer may take the candidate between the read and the lock
            address = await free_address(engine, pool, username)
            try:
                await reserve_address(engine, address, owner=username)
                break
            except Conflict:
                continue
        else:
            raise Conflict(f"pool {pool!r}: no address could be reserved (busy pool)")
        taken = address

        async def give_back() -> None:
            await unreserve_address(engine, taken)

        undo.append((f"address {address} returned to pool {pool!r}", give_back))
        step = "create account"
        record = await add_subscriber(engine, username, password, plan=plan, pool=pool, static_ip=address)

        async def remove_account() -> None:
            await remove_subscriber(engine, username)

        undo.append((f"account {username!r} removed", remove_account))
        step = f"push credentials to NAS {router.name!r}"
        await plugin.push_credentials(record)
    except (StoreError, PluginError) as exc:
        raise await fail(str(exc)) from None
    return Provisioned(
        record, address, router.name, ["reserve address", "create account", "push credentials"]
    )
