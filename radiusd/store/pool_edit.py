"""Editing a pool in one call, for ``pool set`` and ``PATCH /ipam/pools/{name}``, built on the
public functions of :mod:`radiusd.store.pools` (each appends topic ``pool`` to the change feed).

Everything is checked before the first write (the domain's checks, :mod:`ipam.edits`: ranges
parse, do not overlap any pool nor each other, ranges to remove exist and are empty, the
gateway lies in the pool; here: the fallback and NAS exist); a write refused after that (a
lease taken meanwhile) undoes the earlier steps.
Also :func:`reserve_for`, a reservation whose owner must be an existing subscriber.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ipam.edits import check_new_ranges, find_range, gateway_address, kind_of, ranges_to_remove
from ipam.errors import IpamError, PoolError, PoolInputError, UnknownRange
from ipam.groups import group_of
from ipam.report import PoolInfo

from . import pools, validate
from .errors import Conflict, InvalidInput, NotFound, StoreError
from .lease_ops import V4, V6
from .models import IPPool, Router
from .refs import require_pool, require_subscriber
from .validate import UNSET, Unset, given

__all__ = ["edit_pool", "get_reservation", "reservations_page", "reserve_for"]

KINDS = ("ipv4", "ipv6-wan", "ipv6-pd")


def _kind(spec: str, kind: str | None) -> str:
    if kind is None:
        return kind_of(spec)
    return validate.choice(kind, KINDS, "range kind")


def refused(exc: PoolError) -> StoreError:
    """An IPAM refusal as the store's error: malformed text 422, unknown range 404, else 409."""
    if isinstance(exc, PoolInputError):
        return InvalidInput(str(exc))
    if isinstance(exc, UnknownRange):
        return NotFound(str(exc))
    return Conflict(str(exc))


def has_range(pool: PoolInfo, spec: str) -> bool:
    """Is ``spec`` (any spelling ``pool show`` would print the same way) one of the pool's ranges?"""
    return find_range(pool, spec) is not None


def _checked(
    current: PoolInfo,
    all_pools: Sequence[PoolInfo],
    added: Sequence[tuple[str, str]],
    remove_ranges: Sequence[str],
    gateway: str | None,
) -> tuple[list[str], str | None]:
    """The domain's checks of an edit (:mod:`ipam.edits`) before its first write: the ranges
    removed, and the gateway's canonical text (None without one)."""
    try:
        removed = [r.range for r in ranges_to_remove(current, remove_ranges)]
        check_new_ranges(all_pools, current.name, added, removed)
        if gateway is None:
            return removed, None
        specs = [r.range for r in current.ranges if r.kind == "ipv4" and r.range not in removed]
        specs += [spec for kind, spec in added if kind == "ipv4"]
        return removed, gateway_address(gateway, specs, f"any IPv4 range of pool {current.name!r}")
    except PoolError as exc:
        raise refused(exc) from None


async def edit_pool(
    engine: AsyncEngine,
    name: str,
    *,
    add_ranges: Sequence[tuple[str | None, str]] = (),
    remove_ranges: Sequence[str] = (),
    nas: str | Unset | None = UNSET,
    fallback: str | Unset | None = UNSET,
    warning_pct: float | Unset | None = UNSET,
    gateway: str | None = None,
) -> PoolInfo:
    """Apply every change to pool ``name`` or none: ``add_ranges`` ``(kind or None, spec)``,
    ``remove_ranges`` (as shown by ``pool show``), NAS scope, fallback, warning threshold
    (None clears), and ``gateway``: an address of the pool reserved for nobody (never handed out)."""
    current = await pools.get_pool(engine, name)
    added = [(_kind(spec, kind), spec.strip()) for kind, spec in add_ranges]
    removed, address = _checked(current, await pools.list_pools(engine), added, remove_ranges, gateway)
    meta: dict[str, Any] = {}
    async with engine.connect() as conn:
        if given(fallback):
            fb = validate.blank_to_none(fallback)
            if fb == name:
                raise InvalidInput(f"pool {name!r} cannot be its own fallback")
            meta["fallback"] = await require_pool(conn, fb, "fallback pool")
        if given(nas):
            scope = validate.blank_to_none(nas)
            if (
                scope is not None
                and await conn.scalar(sa.select(Router.id).where(Router.name == scope)) is None
            ):
                raise InvalidInput(f"NAS {scope!r} does not exist")
            meta["nas"] = scope
    if given(warning_pct):
        if warning_pct is not None and (isinstance(warning_pct, bool) or not 0 < float(warning_pct) <= 100):
            raise InvalidInput(f"warning threshold must be a percentage in (0, 100], not {warning_pct!r}")
        meta["warning_pct"] = warning_pct
    undo: list[Callable[[], Awaitable[Any]]] = []
    try:
        if meta:
            await pools.set_pool(engine, name, **meta)
            before: dict[str, Any] = {
                "nas": current.nas,
                "fallback": current.fallback,
                "warning_pct": current.warning_pct,
            }
            undo.append(lambda: pools.set_pool(engine, name, **{k: before[k] for k in meta}))
        for spec in removed:
            kind = next(r.kind for r in current.ranges if r.range == spec)
            await pools.remove_range(engine, name, spec)
            undo.append(lambda spec=spec, kind=kind: pools.add_range(engine, name, spec, kind))  # type: ignore[misc]
        for kind, spec in added:
            await pools.add_range(engine, name, spec, kind)
            undo.append(lambda spec=spec: pools.remove_range(engine, name, spec))  # type: ignore[misc]
        if address is not None:
            await pools.reserve_address(engine, address, None)
    except (StoreError, IpamError) as exc:
        for step in reversed(undo):
            try:
                await step()
            except (StoreError, IpamError):
                pass  # best effort: the error below is what the caller must see
        if isinstance(exc, IpamError):
            raise Conflict(str(exc)) from None
        raise
    return await pools.get_pool(engine, name)


async def reserve_for(engine: AsyncEngine, address: str, owner: str | None = None) -> pools.LeaseInfo:
    """:func:`radiusd.store.pools.reserve_address`, refusing an owner that is not a subscriber."""
    owner = validate.blank_to_none(owner)
    async with engine.connect() as conn:
        await require_subscriber(conn, owner)
    try:
        return await pools.reserve_address(engine, address, owner)
    except IpamError as exc:
        raise Conflict(str(exc)) from None


def _reservations(pool: str | None = None, user: str | None = None) -> sa.Select[Any]:
    """Reserved addresses and prefixes: (address, username, pool row name), both families."""
    parts = []
    for table, col in ((V4, "address"), (V6, "prefix")):
        q = (
            sa.select(
                table.c[col].label("address"), table.c.owner.label("username"), IPPool.name.label("pool")
            )
            .join_from(table, IPPool, table.c.pool_id == IPPool.id)
            .where(table.c.state == "reserved")
        )
        if pool is not None:
            q = q.where(sa.or_(IPPool.name == pool, IPPool.name.like(f"{pool}:%")))
        if user is not None:
            q = q.where(table.c.owner == user)
        parts.append(q)
    return sa.union_all(*parts).subquery().select()


def _reservation(row: Any) -> dict[str, Any]:
    return {"address": row.address, "username": row.username, "pool": group_of(row.pool)}


async def reservations_page(
    engine: AsyncEngine, *, limit: int, offset: int = 0, pool: str | None = None, user: str | None = None
) -> list[dict[str, Any]]:
    """One page of reservations ``{address, username, pool}`` by pool and address (LIMIT/OFFSET in SQL)."""
    query = _reservations(pool, user)
    query = query.order_by(query.selected_columns.pool, query.selected_columns.address)
    async with engine.connect() as conn:
        return [_reservation(r) for r in await conn.execute(query.offset(offset).limit(limit))]


async def get_reservation(engine: AsyncEngine, address: str) -> dict[str, Any]:
    """The reservation of ``address`` (canonical text); NotFound when it is not reserved."""
    text = address.strip()
    try:
        text = str(ipaddress.ip_network(text)) if "/" in text else str(ipaddress.ip_address(text))
    except ValueError:
        raise InvalidInput(f"malformed address or prefix {address!r}") from None
    query = _reservations()
    async with engine.connect() as conn:
        row = (await conn.execute(query.where(query.selected_columns.address == text))).first()
    if row is None:
        raise NotFound(f"{text} is not reserved")
    return _reservation(row)
