"""Paginated reads for the admin API: every query is bounded by ``LIMIT`` and keyed by an index.

The store's list functions return whole tables (fine for the CLI); the API must not hand the
event loop ten thousand rows to decode while RADIUS requests wait, so it reads one page at a
time here. Pages are keyset pages (``cursor`` = the last key of the previous page) or, for
convenience, ``offset`` pages; the database does the skipping either way.
"""

from __future__ import annotations

import socket
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ipam.groups import PoolConfig, group_of
from ipam.owners import username_of
from radiusd.model.credentials import password_store
from radiusd.policy.ipam_service import IpamService
from radiusd.server.nas import NasRegistry
from radiusd.store import session_view
from radiusd.store.errors import Conflict, NotFound
from radiusd.store.lease_ops import V4, V6, lease_state, ts
from radiusd.store.models import IPPool, RadiusSession, Router, Subscriber
from radiusd.store.snapshot import SUBSCRIBER_SELECT
from radiusd.store.tables import core_table

_S = core_table(RadiusSession)
_R = core_table(Router)
_P = core_table(IPPool)


def _page(rows: list[Any], limit: int, key: Any) -> tuple[list[Any], str | None]:
    """``rows`` fetched with ``limit + 1``: the page and the cursor of the next one (or None)."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, str(key(rows[-1]))


# -- subscribers -----------------------------------------------------------------------------------


async def subscribers_page(
    engine: AsyncEngine,
    *,
    limit: int,
    offset: int = 0,
    cursor: str | None = None,
    status: str | None = None,
    plan: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Subscribers by username (cursor: the last username seen); never the credential."""
    q = SUBSCRIBER_SELECT
    if cursor is not None:
        q = q.where(Subscriber.username > cursor)
    if status is not None:
        q = q.where(Subscriber.status == status)
    if plan is not None:
        q = q.where(sa.text("plans.name = :plan").bindparams(plan=plan))
    async with engine.connect() as conn:
        rows = list((await conn.execute(q.offset(offset).limit(limit + 1))).mappings())
    page, nxt = _page(rows, limit, lambda r: r["username"])
    return [
        {
            "id": r["id"],
            "username": r["username"],
            "status": r["status"],
            "password_store": password_store(r["credential"]),
            "plan": r["plan_name"],
            "pool": r["pool_name"],
            "static_ip": r["static_ipv4"],
            "simultaneous_use": r["simultaneous_use"],
            "expires_at": r["expires_at"],
            "created_at": r["created_at"],
            "updated_at": r["updated_at"],
        }
        for r in page
    ], nxt


# -- sessions --------------------------------------------------------------------------------------


#: The fields of a session in the API (``SessionOut``), from the one read model.
SESSION_FIELDS = (
    "id", "acct_unique_id", "acct_session_id", "username", "nas", "nas_address", "nas_port",
    "nas_port_id", "address", "framed_ipv6_prefix", "delegated_ipv6_prefix", "calling_station_id",
    "started", "updated", "session_time", "input_octets", "output_octets",
)  # fmt: skip


def _session(row: sa.RowMapping) -> dict[str, Any]:
    return {name: row[name] for name in SESSION_FIELDS}


async def online_sessions_page(
    engine: AsyncEngine,
    registry: NasRegistry,
    *,
    limit: int,
    offset: int = 0,
    cursor: int | None = None,
    nas: str | None = None,
    user: str | None = None,
) -> tuple[list[dict[str, Any]], str | None] | None:
    """Open sessions, newest first (cursor: the last id seen). ``nas`` is a NAS name or address.

    None when ``nas`` names no known NAS (the caller answers 404).
    """
    q = session_view.session_select().where(_S.c.status == "open")
    if nas is not None:
        client = registry.by_name(nas) or registry.get(nas)
        if client is not None:
            q = q.where(sa.or_(_S.c.router_id == client.id, _S.c.nas_address == client.address))
        elif _is_address(nas):
            q = q.where(_S.c.nas_address == nas)  # a removed NAS: its sessions are still found
        else:
            return None
    if user is not None:
        q = q.where(_S.c.username == user)
    if cursor is not None:
        q = q.where(_S.c.id < cursor)
    q = q.order_by(_S.c.id.desc()).offset(offset).limit(limit + 1)
    async with engine.connect() as conn:
        rows = list((await conn.execute(q)).mappings())
    page, nxt = _page(rows, limit, lambda r: r["id"])
    return [_session(r) for r in page], nxt


async def find_session(engine: AsyncEngine, key: str) -> dict[str, Any] | None:
    """One session by numeric id or Acct-Unique-Session-Id (with ``status``), or None."""
    conditions = [_S.c.acct_unique_id == key]
    if key.isdigit() and len(key) < 19:
        conditions.insert(0, _S.c.id == int(key))
    async with engine.connect() as conn:
        for condition in conditions:
            q = session_view.session_select().where(condition)
            row = (await conn.execute(q)).mappings().first()
            if row is not None:
                return _session(row) | {"status": row["status"], "router_id": row["router_id"]}
    return None


async def open_session(engine: AsyncEngine, key: str) -> dict[str, Any]:
    """:func:`find_session` for a route that acts on an open session: NotFound (404) when there
    is none, Conflict (409) when it is closed."""
    found = await find_session(engine, key)
    if found is None:
        raise NotFound(f"no session {key!r}")
    if found["status"] != "open":
        raise Conflict(f"session {key!r} is already closed")
    return found


def _is_address(text: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, text)
        except OSError:
            continue
        return True
    return False


# -- leases ----------------------------------------------------------------------------------------


async def leases_page(
    engine: AsyncEngine,
    ipam: IpamService,
    registry: NasRegistry,
    pool: str,
    *,
    limit: int,
    offset: int = 0,
    cursor: str | None = None,
    state: str | None = None,
    user: str | None = None,
) -> tuple[list[dict[str, Any]], str | None] | None:
    """Leases of the operator pool ``pool`` (None when there is no such pool).

    The page of lease rows comes from the database (one row per address ever touched, in the
    order the addresses were first used; cursor ``4:ID`` / ``6:ID``); each row's state is then
    read from the live allocator, which is the authority while the daemon runs (O(1) per row).
    """
    configs = {name: cfg for name, cfg in ipam.configs.items() if group_of(name) == pool}
    if not configs:
        return None
    fam, _, last = (cursor or "4:0").partition(":")
    start_family, start_id = (6 if fam == "6" else 4), int(last) if last.isdigit() and len(last) < 19 else 0
    ids = {cfg.id: name for name, cfg in configs.items()}
    names = {c.id: c.name for c in registry.all()}
    items: list[tuple[str, dict[str, Any]]] = []
    skip = offset
    async with engine.connect() as conn:
        for family, table, col in ((4, V4, "address"), (6, V6, "prefix")):
            if family < start_family or len(items) > limit:
                continue
            q = sa.select(table).where(
                table.c.pool_id.in_(list(ids)),
                sa.or_(table.c.state != "released", table.c.expires_at.is_not(None)),  # else free
            )
            if state is not None:
                q = q.where(table.c.state == state)
            if user is not None:
                q = q.where(sa.or_(table.c.owner == user, table.c.owner.like(f"{_escape(user)}\x1f%", "\\")))
            if family == start_family:
                q = q.where(table.c.id > start_id)
            want = limit + 1 - len(items)
            q = q.order_by(table.c.id).offset(skip).limit(want)
            rows = list((await conn.execute(q)).mappings())
            if skip:  # offset spans families: what was skipped in this one is known only roughly
                total = await conn.scalar(
                    sa.select(sa.func.count()).select_from(q.limit(None).offset(None).subquery())
                )
                skip = max(0, skip - int(total or 0))
            for r in rows:
                items.append((f"{family}:{r['id']}", _lease(r, col, configs[ids[r["pool_id"]]], names, ipam)))
    page, nxt = _page(items, limit, lambda kv: kv[0])
    return [info for _, info in page], nxt


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _lease(
    r: sa.RowMapping, col: str, cfg: PoolConfig, names: dict[int, str], ipam: IpamService
) -> dict[str, Any]:
    address = r[col]
    live = ipam.alloc.lookup(address)
    if live is not None:
        state, owner, expires = str(live.state), live.owner, ts(live.expires)
        nas_id = int(live.nas) if live.nas is not None and live.nas.isdigit() else None
        session = live.session
    else:
        state, owner, expires = str(lease_state(r["state"], r["expires_at"])), r["owner"], r["expires_at"]
        nas_id, session = r["router_id"], r["session_key"]
    return {
        "address": address,
        "pool": cfg.group,
        "kind": cfg.kind,
        "state": state,
        "username": username_of(owner),
        "nas": None if nas_id is None else names.get(nas_id, str(nas_id)),
        "session": session,
        "expires": expires,
        "updated": r["updated_at"],
    }


# -- inventory (/network) --------------------------------------------------------------------------

#: the largest ``offset`` a list route takes (422 beyond): deeper pages are reached by filters,
#: and the database would still walk every skipped row
MAX_OFFSET = 100_000
