"""Persistence of the prefix hierarchy (tables ``prefixes``, ``address_assignments``).

The rules are the IPAM core's (:mod:`ipam.prefixes`): each write reads the stored prefixes in
its transaction (PostgreSQL: under the pool advisory lock, SQLite: ``BEGIN IMMEDIATE``), asks
the core where the new prefix goes or which block is free, and writes that; the unique
``prefix`` and ``address`` columns back it up.

Functions (``engine`` is an AsyncEngine; errors: InvalidInput, NotFound, Conflict)::

    add_prefix(engine, prefix, *, role="container", site=None, description=None, target=None)
    remove_prefix(engine, prefix)                 children move up to its parent
    list_prefixes(engine, *, family=None, role=None, site=None) -> list[PrefixInfo]
    get_prefix(engine, prefix) -> PrefixInfo      with children and addresses
    allocate_prefix(engine, container, length, target, *, role=None, description=None)
    assign_address(engine, container, target, *, address=None, description=None)
    unassign_address(engine, address)
    assigned_to(engine, target) -> dict           what a router, device, link... holds
    set_routed_subnets(engine, username, specs)   a subscriber's routed blocks (Framed-Route)
    sync_pool_prefixes(conn)                      pool ranges as ``pool`` prefixes (a hook of
                                                  every pool write, radiusd.store.pools)
    routes_for(conn, ids) -> {subscriber id: [prefix, ...]}   what the daemon sends

A target is ``kind:name`` (``router:core1``, ``router:core1:ether1``, ``device:sw1``,
``link:12``, ``subscriber:alice``, ``site:tower-a``).

This module holds the writes and the hooks other store modules run in their transaction
(``sync_pool_prefixes``, ``release_holdings``) and is the entry point the CLI and the API import;
the tree read and the shared insert are in :mod:`.prefix_tree`, the reads in :mod:`.prefix_reads`,
the routed subnets in :mod:`.prefix_routes`.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ipam.prefixes import PrefixError, next_free_address, next_free_prefix

from .engine import begin_write
from .errors import Conflict, InvalidInput, NotFound
from .models import IPPool, IPv4Network, IPv6Network, utcnow
from .prefix_reads import (
    PrefixInfo,
    _infos,
    assigned_to,
    family_totals,
    get_prefix,
    holdings,
    list_prefixes,
    nested,
    tree_order,
)
from .prefix_routes import route_attribute, routes_for, set_routed_subnets, with_routes
from .prefix_tree import (
    DEFAULT_ROLE,
    A,
    P,
    _address_json,
    _insert,
    _lock,
    _names,
    _prefix_text,
    _read,
    _role,
    _site_id,
    _subscriber_changed,
    resolve,
)

__all__ = [
    "PrefixInfo",
    "add_prefix",
    "allocate_prefix",
    "assign_address",
    "assigned_to",
    "family_totals",
    "get_prefix",
    "holdings",
    "list_prefixes",
    "nested",
    "release_holdings",
    "remove_prefix",
    "resolve",
    "route_attribute",
    "routes_for",
    "set_routed_subnets",
    "sync_pool_prefixes",
    "tree_order",
    "unassign_address",
    "with_routes",
]


# -- writes -------------------------------------------------------------------------------------


async def add_prefix(
    engine: AsyncEngine,
    prefix: str,
    *,
    role: str = "container",
    site: str | None = None,
    description: str | None = None,
    target: str | None = None,
) -> PrefixInfo:
    """Add a prefix where it belongs in the tree (it adopts the prefixes it contains)."""
    net = _prefix_text(prefix)
    if _role(role) == "pool":
        raise InvalidInput("pool prefixes are made by 'radiusd pool add' (a pool's ranges join the tree)")
    async with begin_write(engine) as conn:
        await _lock(conn)
        tree = await _read(conn)
        kind, oid, _ = await resolve(conn, target) if target else (None, None, None)
        pid = await _insert(
            conn,
            tree,
            net,
            role,
            site_id=await _site_id(conn, site),
            description=description,
            kind=kind,
            oid=oid,
        )
        await _subscriber_changed(conn, tree, pid, end=False)
        return (await _infos(conn, tree, [pid]))[0]


async def remove_prefix(engine: AsyncEngine, prefix: str) -> None:
    """Remove a prefix; its children move up to its parent. Refused for a pool's range and
    while addresses are assigned in it."""
    net = _prefix_text(prefix)
    async with begin_write(engine) as conn:
        await _lock(conn)
        tree = await _read(conn)
        entry = tree.entry(str(net))
        if entry.role == "pool":
            raise Conflict(f"{net} is a range of a pool: remove it with 'radiusd pool remove-range'")
        held = [a["address"] for a in tree.addresses if a["prefix_id"] == entry.id]
        if held:
            raise Conflict(f"{net} has {len(held)} assigned address(es) ({held[0]}...): unassign them first")
        await _subscriber_changed(conn, tree, entry.id, end=True)
        await conn.execute(
            sa.update(P)
            .where(P.c.parent_id == entry.id)
            .values(parent_id=entry.parent_id, updated_at=utcnow())
        )
        await conn.execute(sa.delete(P).where(P.c.id == entry.id))


async def allocate_prefix(
    engine: AsyncEngine,
    container: str,
    length: int,
    target: str,
    *,
    role: str | None = None,
    description: str | None = None,
) -> PrefixInfo:
    """The next free /``length`` of ``container`` (a stored prefix), assigned to ``target``."""
    net = _prefix_text(container)
    async with begin_write(engine) as conn:
        await _lock(conn)
        tree = await _read(conn)
        parent = tree.entry(str(net))
        kind, oid, _ = await resolve(conn, target)
        chosen_role = _role(role or DEFAULT_ROLE.get(kind, "infrastructure"))
        if parent.role == "pool":
            raise Conflict(f"{net} is a pool's range: the pool hands its addresses out itself")
        try:
            found = next_free_prefix(parent.prefix, tree.taken(parent.id), length)
        except PrefixError as exc:
            raise InvalidInput(str(exc)) from None
        if found is None:
            raise Conflict(f"no free /{length} left in {net}")
        site_id = oid if kind == "site" else None
        pid = await _insert(
            conn, tree, found, chosen_role, site_id=site_id, description=description, kind=kind, oid=oid
        )
        await _subscriber_changed(conn, tree, pid, end=False)
        return (await _infos(conn, tree, [pid]))[0]


async def assign_address(
    engine: AsyncEngine,
    container: str,
    target: str,
    *,
    address: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """The next free address of ``container`` (or ``address``, which must be free in it) for
    ``target`` (``router:core1:lo0``)."""
    net = _prefix_text(container)
    async with begin_write(engine) as conn:
        await _lock(conn)
        tree = await _read(conn)
        parent = tree.entry(str(net))
        if parent.role == "pool":
            raise Conflict(f"{net} is a pool's range: the pool hands its addresses out itself")
        kind, oid, interface = await resolve(conn, target)
        taken = tree.taken(parent.id)
        if address is None:
            chosen = next_free_address(parent.prefix, taken)
            if chosen is None:
                raise Conflict(f"no free address left in {net}")
        else:
            try:
                chosen = ipaddress.ip_address(address.strip())
            except ValueError:
                raise InvalidInput(f"bad address {address!r}") from None
            if chosen not in parent.prefix:
                raise InvalidInput(f"{chosen} is not inside {net}")
            if (
                next_free_address(ipaddress.ip_network((int(chosen), parent.prefix.max_prefixlen)), taken)
                is None
            ):
                raise Conflict(f"{chosen} is taken in {net}")
        now = utcnow()
        row = {
            "address": str(chosen),
            "family": chosen.version,
            "prefix_id": parent.id,
            "assigned_kind": kind,
            "assigned_id": oid,
            "interface": interface,
            "description": description,
            "created_at": now,
            "updated_at": now,
        }
        await conn.execute(sa.insert(A).values(**row))
        names = await _names(conn)
        return _address_json(row, str(net), names)


async def unassign_address(engine: AsyncEngine, address: str) -> None:
    try:
        text = str(ipaddress.ip_address(address.strip()))
    except ValueError:
        raise InvalidInput(f"bad address {address!r}") from None
    async with begin_write(engine) as conn:
        await _lock(conn)
        done = await conn.execute(sa.delete(A).where(A.c.address == text))
        if not done.rowcount:
            raise NotFound(f"address {text} is not assigned")


async def sync_pool_prefixes(conn: AsyncConnection) -> None:
    """Make the ``pool`` prefixes match the pools' ranges (add the new, drop the gone), in the
    caller's transaction: the hook every pool write runs. A range that the tree cannot hold
    (inside another pool's prefix, or holding assigned addresses) refuses the pool write."""
    tree = await _read(conn)
    current = {(r["prefix"], r["pool_id"]): pid for pid, r in tree.rows.items() if r["role"] == "pool"}
    pools = {int(i): s for i, s in (await conn.execute(sa.select(IPPool.id, IPPool.site_id))).all()}
    wanted: dict[tuple[str, int], None] = {}
    for table, col in ((IPv4Network, IPv4Network.cidr), (IPv6Network, IPv6Network.prefix)):
        for spec, pool_id in (await conn.execute(sa.select(col, table.pool_id))).all():
            wanted[(str(ipaddress.ip_network(spec, strict=False)), int(pool_id))] = None
    for key, pid in current.items():
        if key not in wanted:
            parent = tree.rows[pid]["parent_id"]
            await conn.execute(sa.update(P).where(P.c.parent_id == pid).values(parent_id=parent))
            await conn.execute(sa.delete(P).where(P.c.id == pid))
    if any(k not in wanted for k in current):
        tree = await _read(conn)
    for prefix, pool_id in wanted:
        if (prefix, pool_id) not in current:
            await _insert(
                conn, tree, ipaddress.ip_network(prefix), "pool", site_id=pools.get(pool_id), pool_id=pool_id
            )


async def release_holdings(conn: AsyncConnection, kind: str, oid: int) -> None:
    """What ``kind`` ``oid`` holds goes back, in the caller's transaction (the hook of every
    remove of a router, device, link, site or subscriber: an id reused later must not inherit
    it). Its addresses are unassigned; a prefix of its with nothing below it is removed, one
    holding prefixes or addresses only loses its assignment. A subscriber's routed subnets
    end in the assignment history."""
    await conn.execute(sa.delete(A).where(A.c.assigned_kind == kind, A.c.assigned_id == oid))
    tree = await _read(conn)
    parents = {e.parent_id for e in tree.entries}
    held = {a["prefix_id"] for a in tree.addresses}
    for pid, row in tree.rows.items():
        if row["assigned_kind"] != kind or row["assigned_id"] != oid:
            continue
        if kind == "subscriber":
            await _subscriber_changed(conn, tree, pid, end=True)
        if pid in parents or pid in held:
            await conn.execute(sa.update(P).where(P.c.id == pid).values(assigned_kind=None, assigned_id=None))
        else:
            await conn.execute(sa.delete(P).where(P.c.id == pid))
