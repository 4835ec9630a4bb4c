"""Editing a pool in one call, for ``pool set`` and ``PATCH /ipam/pools/{name}``, built on the
public functions of :mod:`radiusd.store.pools` (each appends topic ``pool`` to the change feed).

Everything is checked before the first write (ranges parse, do not overlap any pool nor each
other, ranges to remove exist and are empty, the fallback and NAS exist, the gateway lies in
the pool); a write refused after that (a lease taken meanwhile) undoes the earlier steps.
Also :func:`reserve_for`, a reservation whose owner must be an existing subscriber.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ipam import PoolError
from ipam.errors import IpamError
from ipam.groups import group_of
from ipam.ranges import ItemRange, check_overlaps, parse_range
from ipam.report import PoolInfo, RangeInfo

from . import pools, validate
from .errors import Conflict, InvalidInput, NotFound, StoreError
from .lease_ops import V4, V6
from .models import IPPool, Router
from .refs import require_pool, require_subscriber
from .validate import UNSET, Unset, given

__all__ = ["edit_pool", "get_reservation", "reservations_page", "reserve_for"]

KINDS = ("ipv4", "ipv6-wan", "ipv6-pd")


def _plen(r: RangeInfo) -> int | None:
    return None if r.kind == "ipv4" else int(r.range.rsplit("/", 1)[1])


def _kind(spec: str, kind: str | None) -> str:
    if kind is None:
        return "ipv6-wan" if ":" in spec else "ipv4"
    return validate.choice(kind, KINDS, "range kind")


def check_new_ranges(
    all_pools: Sequence[PoolInfo],
    name: str,
    specs: Sequence[tuple[str, str]],
    removing: Sequence[str] = (),
) -> None:
    """Refuse ``(kind, spec)`` ranges for pool ``name`` that are malformed (InvalidInput),
    overlap any pool's range (but the ``removing`` ones of ``name``) or each other, or differ
    from the pool's item length (Conflict)."""
    labelled: list[tuple[str, ItemRange]] = []
    lengths: dict[str, int] = {}
    for p in all_pools:
        for r in p.ranges:
            if p.name == name and r.range in removing:
                continue
            labelled.append((f"pool {p.name!r} range {r.range}", parse_range(r.range, r.kind, _plen(r))))
            if p.name == name and _plen(r) is not None:
                lengths[r.kind] = int(r.range.rsplit("/", 1)[1])
    for kind, spec in specs:
        try:
            new = parse_range(spec, kind)
        except PoolError as exc:
            raise InvalidInput(str(exc)) from None
        if kind in lengths and new.item_prefixlen != lengths[kind]:
            raise Conflict(
                f"pool {name!r} hands out /{lengths[kind]} {kind} prefixes, not /{new.item_prefixlen}"
            )
        labelled.append((f"range {spec}", new))
    try:
        check_overlaps(labelled)
    except PoolError as exc:
        raise Conflict(str(exc)) from None


def has_range(pool: PoolInfo, spec: str) -> bool:
    """Is ``spec`` (any spelling ``pool show`` would print the same way) one of the pool's ranges?"""
    for r in pool.ranges:
        try:
            if parse_range(spec, r.kind, _plen(r)).spec == r.range:
                return True
        except PoolError:
            continue
    return False


def ranges_to_remove(pool: PoolInfo, specs: Sequence[str]) -> list[RangeInfo]:
    """The stored ranges ``specs`` name; NotFound for one not in the pool, Conflict for one
    with offered, leased or reserved items."""
    found: list[RangeInfo] = []
    for spec in specs:
        for r in pool.ranges:
            try:
                same = parse_range(spec, r.kind, _plen(r)).spec == r.range
            except PoolError:
                same = spec.strip() == r.range
            if same:
                break
        else:
            raise NotFound(f"pool {pool.name!r} has no range {spec}")
        if r.allocated or r.reserved:
            raise Conflict(
                f"range {r.range} of pool {pool.name!r} still has {r.allocated} live lease(s) "
                f"and {r.reserved} reservation(s): release or unreserve them first"
            )
        found.append(r)
    return found


def _gateway(pool: PoolInfo, gateway: str, removed: Sequence[str], added: Sequence[tuple[str, str]]) -> str:
    """The gateway's canonical text when it is an IPv4 address inside the pool's ranges after the edit."""
    try:
        value = int(ipaddress.IPv4Address(gateway.strip()))
    except ValueError:
        raise InvalidInput(f"gateway {gateway!r} is not an IPv4 address") from None
    specs = [r.range for r in pool.ranges if r.kind == "ipv4" and r.range not in removed]
    specs += [spec for kind, spec in added if kind == "ipv4"]
    if not any(r.lo <= value <= r.hi for r in (parse_range(s, "ipv4") for s in specs)):
        raise InvalidInput(f"gateway {gateway.strip()} is not inside any IPv4 range of pool {pool.name!r}")
    return str(ipaddress.IPv4Address(value))


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
    removed = [r.range for r in ranges_to_remove(current, remove_ranges)]
    check_new_ranges(await pools.list_pools(engine), name, added, removed)
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
    address = _gateway(current, gateway, removed, added) if gateway is not None else None
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
