"""Write an :class:`~.model.ImportData` into our store: one transaction, idempotent upserts.

Keys: NAS by address, plans by name, subscribers by username, pools by name, ranges by CIDR,
lease rows by address, sessions by Acct-Unique-Session-Id. A row that exists with the same
values is left alone (counted ``unchanged``), so a second import writes nothing but a change
feed entry per topic it touched (none when nothing changed). Each kind is diffed in memory
against one SELECT and written with multi-row statements (Core, no ORM unit of work), which
keeps 100,000 subscribers well within a minute. ``dry_run``: the same work, rolled back.

Conflicts with data that was already there (an address held by another subscriber, a range
overlapping another pool) are reported per row and that row is skipped; values our tables
cannot hold were reported and left out by the translator (:mod:`.fit`). Anything else that
the database refuses aborts the whole import (nothing is written), with the database's
reason in one line.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ipam import LeaseState, PoolError
from ipam.groups import build_allocator, group_of, load_allocator
from ipam.lease import LIVE
from ipam.owners import username_of
from ipam.ranges import parse_range
from radiusd.store.accounting_ops import session_row
from radiusd.store.changes import TOPIC_NAS, TOPIC_PLAN, TOPIC_SUBSCRIBER, record_change
from radiusd.store.engine import begin_write
from radiusd.store.errors import InvalidInput
from radiusd.store.lease_ops import upsert_rows, write_history
from radiusd.store.models import (
    IPPool,
    IPv4Network,
    Plan,
    RadiusSession,
    Router,
    Subscriber,
    utcnow,
)
from radiusd.store.pool_rows import TOPIC_POOL, load_configs, load_leases
from radiusd.store.tables import core_table

from .fit import misfit, shown
from .model import ImportData, LeaseItem, Report
from .ranges import Cover, cover

CHUNK = 1000
_R = core_table(Router)
_P = core_table(Plan)
_S = core_table(Subscriber)
_POOLS = core_table(IPPool)
_NETS = core_table(IPv4Network)
_SESS = core_table(RadiusSession)


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""


async def _insert(conn: AsyncConnection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    for i in range(0, len(rows), CHUNK):
        await conn.execute(sa.insert(table), list(rows[i : i + CHUNK]))


async def _update(conn: AsyncConnection, table: sa.Table, key: str, rows: Sequence[dict[str, Any]]) -> None:
    """executemany UPDATE ... WHERE key = :_key with the same columns in every row."""
    by_cols: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        by_cols.setdefault(tuple(sorted(c for c in row if c != "_key")), []).append(row)
    for cols, group in by_cols.items():
        stmt = (
            sa.update(table)
            .where(table.c[key] == sa.bindparam("_key"))
            .values({c: sa.bindparam(c) for c in cols})
        )
        for i in range(0, len(group), CHUNK):
            await conn.execute(stmt, group[i : i + CHUNK])


def _diff(current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in wanted.items() if current.get(k) != v}


#: The phases of :func:`apply`, for a progress bar (``step`` is called with each).
PHASES = ("NAS", "plans", "subscribers", "pools and leases", "sessions")


async def write_import(
    engine: AsyncEngine,
    data: ImportData,
    report: Report,
    *,
    dry_run: bool = False,
    step: Callable[[str], None] | None = None,
) -> Report:
    """Apply ``data`` in one transaction (rolled back when ``dry_run``); counts go to ``report``.
    ``step(name)`` is called as each of :data:`PHASES` starts."""
    try:
        async with begin_write(engine) as conn:
            touched = await apply(conn, data, report, step)
            if dry_run:
                raise _DryRun
            for topic in touched:
                await record_change(conn, topic, None)
    except _DryRun:
        pass
    except sa.exc.DBAPIError as exc:  # the transaction is rolled back: nothing was written
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
        raise InvalidInput(f"the target database refused the import, nothing was written: {reason}") from None
    return report


async def apply(
    conn: AsyncConnection, data: ImportData, report: Report, step: Callable[[str], None] | None = None
) -> list[str]:
    """Every kind in order; the change-feed topics that changed."""
    now = utcnow()
    touched: list[str] = []
    tell = step or (lambda _: None)
    tell(PHASES[0])
    if await _nas(conn, data, report, now):
        touched.append(TOPIC_NAS)
    tell(PHASES[1])
    if await _plans(conn, data, report, now):
        touched.append(TOPIC_PLAN)
    tell(PHASES[2])
    if await _subscribers(conn, data, report, now):
        touched.append(TOPIC_SUBSCRIBER)
    tell(PHASES[3])
    if await _pools(conn, data, report, now) | await _leases(conn, data, report, now):
        touched.append(TOPIC_POOL)
    tell(PHASES[4])
    await _sessions(conn, data, report)
    return touched


async def _nas(conn: AsyncConnection, data: ImportData, report: Report, now: dt.datetime) -> bool:
    rows = {r["nas_address"]: dict(r) for r in (await conn.execute(sa.select(_R))).mappings()}
    names = {r["name"]: a for a, r in rows.items()}
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    without_ma = 0
    for item in data.nas:
        wanted = {
            "secret": item.secret,
            "vendor": item.vendor,
            "description": item.description,
            "require_message_authenticator": item.require_message_authenticator,
        }
        without_ma += not item.require_message_authenticator
        cur = rows.get(item.address)
        if cur is not None:
            diff = _diff(cur, wanted)
            if diff:
                changed.append({**diff, "updated_at": now, "_key": item.address})
            report.count("nas", "updated" if diff else "unchanged")
            continue
        name = item.name if item.name not in names else f"{item.name}-{item.address}"
        if name in names:
            report.skip("nas", "-", item.name, f"name {name!r} is taken by NAS at {names[name]}")
            continue
        problem = misfit(_R, {"name": name})
        if problem is not None:  # the address suffix made it too long
            report.skip("nas", "-", shown(item.name), f"{problem}: another NAS has its name")
            continue
        names[name] = item.address
        new.append(
            {
                **wanted,
                "name": name,
                "nas_address": item.address,
                "coa_port": 3799,
                "api_tls": False,
                "created_at": now,
                "updated_at": now,
            }
        )
        report.count("nas", "created")
    if without_ma:
        report.notes.append(
            f"{without_ma} NAS imported without Message-Authenticator required (their source says "
            "no): Access-Requests without it are accepted from them (BlastRADIUS, CVE-2024-3596)"
        )
    await _insert(conn, _R, new)
    await _update(conn, _R, "nas_address", changed)
    return bool(new or changed)


async def _plans(conn: AsyncConnection, data: ImportData, report: Report, now: dt.datetime) -> bool:
    rows = {r["name"]: dict(r) for r in (await conn.execute(sa.select(_P))).mappings()}
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for item in data.plans:
        wanted = {
            "description": item.description,
            "pool_name": item.pool_name,
            "simultaneous_use": item.simultaneous_use,
            "session_timeout": item.session_timeout,
            "interim_interval": item.interim_interval,
            "rate_limit": item.rate_limit,
            "reply_attributes": item.reply_attributes,
        }
        cur = rows.get(item.name)
        if cur is None:
            new.append({**wanted, "name": item.name, "created_at": now, "updated_at": now})
            report.count("plans", "created")
            continue
        diff = _diff(cur, wanted)
        if diff:
            changed.append({**diff, "updated_at": now, "_key": item.name})
        report.count("plans", "updated" if diff else "unchanged")
    await _insert(conn, _P, new)
    await _update(conn, _P, "name", changed)
    return bool(new or changed)


async def _subscribers(conn: AsyncConnection, data: ImportData, report: Report, now: dt.datetime) -> bool:
    plan_ids = {n: i for n, i in (await conn.execute(sa.select(_P.c.name, _P.c.id))).all()}
    cols = [
        _S.c[c]
        for c in (
            "username",
            "credential",
            "status",
            "plan_id",
            "pool_name",
            "static_ipv4",
            "simultaneous_use",
            "reply_attributes",
            "expires_at",
        )
    ]
    rows = {r["username"]: dict(r) for r in (await conn.execute(sa.select(*cols))).mappings()}
    statics = {r["static_ipv4"]: u for u, r in rows.items() if r["static_ipv4"]}
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for item in data.subscribers:
        static = item.static_ipv4
        holder = statics.get(static) if static else None
        if static and holder is not None and holder != item.username:
            report.skip(
                "radreply", "-", item.username, f"static address {static} belongs to {holder!r} already"
            )
            static = item.static_ipv4 = None
        wanted = {
            "credential": item.credential,
            "status": item.status,
            "plan_id": plan_ids.get(item.plan) if item.plan else None,
            "pool_name": item.pool_name,
            "static_ipv4": static,
            "simultaneous_use": item.simultaneous_use,
            "reply_attributes": item.reply_attributes,
            "expires_at": item.expires_at,
        }
        cur = rows.get(item.username)
        if cur is None:
            new.append({**wanted, "username": item.username, "created_at": now, "updated_at": now})
            report.count("subscribers", "created")
        else:
            diff = _diff(cur, wanted)
            if diff:
                changed.append({**diff, "updated_at": now, "_key": item.username})
            report.count("subscribers", "updated" if diff else "unchanged")
        if static:
            statics[static] = item.username
    # a static address moving between two imported users: clear first, then set
    moving = [r for r in changed if r.get("static_ipv4")]
    if moving:
        await _update(conn, _S, "username", [{"static_ipv4": None, "_key": r["_key"]} for r in moving])
    await _update(conn, _S, "username", changed)
    await _insert(conn, _S, new)
    return bool(new or changed)


async def _pools(conn: AsyncConnection, data: ImportData, report: Report, now: dt.datetime) -> bool:
    configs = await load_configs(conn)
    try:
        alloc, _ = load_allocator(configs.values(), ())
    except PoolError as exc:
        raise InvalidInput(f"the existing pools are inconsistent: {exc}") from None
    obstacles: list[tuple[int, int]] = []
    for cfg in configs.values():
        if cfg.kind == "ipv4":
            for spec in cfg.ranges:
                r = parse_range(spec, "ipv4")
                obstacles.append((r.lo, r.hi))
    todo: dict[str, list[int]] = {}
    created = False
    for item in data.pools:
        if item.name not in configs:
            await conn.execute(
                sa.insert(_POOLS).values(name=item.name, kind="ipv4", created_at=now, updated_at=now)
            )
            report.count("pools", "created")
            created = True
        else:
            report.count("pools", "unchanged")
        rest: list[int] = []
        for value in item.addresses:
            text = str(ipaddress.IPv4Address(value))
            pool = alloc.find(text)
            if pool is None:
                rest.append(value)
            elif pool.name != item.name:
                report.skip("radippool", text, item.name, f"address already in our pool {pool.name!r}")
        todo[item.name] = rest
    placed = cover(todo, obstacles)
    if _take_statics(data, todo, placed, report):
        placed = cover(todo, obstacles)
    for name, value in placed.unplaced:
        report.skip(
            "radippool", str(ipaddress.IPv4Address(value)), name, "address lies in a range of another pool"
        )
    ids = {n: i for n, i in (await conn.execute(sa.select(_POOLS.c.name, _POOLS.c.id))).all()}
    nets = [
        {"pool_id": ids[name], "cidr": b.cidr, "excluded": b.excluded, "gateway": None}
        for name, blocks in placed.blocks.items()
        for b in blocks
    ]
    await _insert(conn, _NETS, nets)
    report.count("ranges", "created", len(nets))
    if nets:
        try:
            build_allocator((await load_configs(conn)).values())
        except PoolError as exc:
            raise InvalidInput(f"the imported ranges do not fit the existing pools: {exc}") from None
    return created or bool(nets)


def _take_statics(data: ImportData, todo: dict[str, list[int]], placed: Cover, report: Report) -> bool:
    """Add to a new pool's addresses every static address (radreply Framed-IP-Address) that
    one of its blocks covers without listing it: excluded, it would be neither handed out nor
    reservable, and the subscriber would get another address. True when one was added."""
    spans = [
        (int(net.network_address), int(net.broadcast_address), name)
        for name, blocks in placed.blocks.items()
        for net in (ipaddress.IPv4Network(b.cidr) for b in blocks)
    ]
    listed = {v for values in todo.values() for v in values}
    added = False
    for sub in data.subscribers:
        if sub.static_ipv4 is None:
            continue
        value = int(ipaddress.IPv4Address(sub.static_ipv4))
        if value in listed:
            continue
        for lo, hi, name in spans:
            if lo < value < hi or lo == value == hi:
                todo[name].append(value)
                listed.add(value)
                report.notes.append(
                    f"static address {sub.static_ipv4} of {sub.username!r} lies in a range of pool "
                    f"{name!r}: added to the pool, reserved for {sub.username!r}"
                )
                added = True
                break
    return added


async def _leases(conn: AsyncConnection, data: ImportData, report: Report, now: dt.datetime) -> bool:
    configs = await load_configs(conn)
    alloc, _orphans = load_allocator(configs.values(), await load_leases(conn))
    routers = {a: i for a, i in (await conn.execute(sa.select(_R.c.nas_address, _R.c.id))).all()}
    rows: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    for item in data.leases:
        kind = "reservations" if item.state == "reserved" else "leases"
        pool = alloc.find(item.address)
        if pool is None:
            if item.state == "leased":
                report.skip("radippool", item.address, item.owner, "live lease outside every pool")
            continue  # a static address outside every pool is sent as configured
        if not pool.contains(item.address):
            report.skip(
                item.source or "radreply",
                item.address,
                username_of(item.owner) or "-",
                f"address is excluded from pool {group_of(pool.name)!r}: not reserved, sent as configured "
                f"(radiusd pool add-range {group_of(pool.name)} --range {item.address}/32 to lease it)",
            )
            continue
        cur = alloc.lookup(item.address)
        user = username_of(item.owner)
        if (
            cur is not None
            and cur.owner is not None
            and username_of(cur.owner) != user
            and (cur.state in LIVE or cur.state is LeaseState.RESERVED or cur.reserved)
        ):
            report.skip(
                item.source or "radreply",
                item.address,
                user or "-",
                f"address is {cur.state} for {username_of(cur.owner)!r}",
            )
            continue
        if (
            cur is not None
            and username_of(cur.owner) == user
            and (
                (item.state == "reserved" and (cur.reserved or cur.state is LeaseState.RESERVED))
                or (item.state == "leased" and cur.state in LIVE)
            )
        ):
            report.count(kind, "unchanged")
            continue
        if item.state == "reserved" and cur is not None and cur.state in LIVE:
            report.count(kind, "unchanged")  # in use by its owner: the daemon reserves it at start
            continue
        cfg = configs[pool.name]
        router = routers.get(item.nas_address) if item.nas_address else None
        rows.append(_lease_row(item, cfg.id, router, now))
        if item.state == "leased":
            history.append(
                {
                    "username": user,
                    "subscriber_id": None,
                    "address": item.address,
                    "family": 4,
                    "pool_name": pool.name,
                    "router_id": router,
                    "session_key": item.session_key,
                    "assigned_at": now,
                    "released_at": None,
                }
            )
        report.count(kind, "created")
    await upsert_rows(conn, rows, [])
    await write_history(conn, [], history)
    return bool(rows)


def _lease_row(item: LeaseItem, pool_id: int, router: int | None, now: dt.datetime) -> dict[str, Any]:
    return {
        "address": item.address,
        "pool_id": pool_id,
        "state": item.state,
        "owner": item.owner,
        "router_id": router,
        "session_key": item.session_key,
        "expires_at": item.expires_at if item.state == "leased" else None,
        "updated_at": now,
    }


async def _sessions(conn: AsyncConnection, data: ImportData, report: Report) -> None:
    if not data.sessions:
        return
    routers = {a: i for a, i in (await conn.execute(sa.select(_R.c.nas_address, _R.c.id))).all()}
    subs = {u: i for u, i in (await conn.execute(sa.select(_S.c.username, _S.c.id))).all()}
    ids = [s.unique_id for s in data.sessions]
    have: set[str] = set()
    for i in range(0, len(ids), 500):
        q = sa.select(_SESS.c.acct_unique_id).where(_SESS.c.acct_unique_id.in_(ids[i : i + 500]))
        have.update((await conn.execute(q)).scalars())
    new: list[dict[str, Any]] = []
    for s in data.sessions:
        if s.unique_id in have:
            report.count("sessions", "unchanged")
            continue
        new.append(
            session_row(replace(s, subscriber_id=subs.get(s.username), router_id=routers.get(s.nas_address)))
        )
        report.count("sessions", "created")
    await _insert(conn, _SESS, new)
