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
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ipam.errors import IpamError
from ipam.groups import group_of
from ipam.prefixes import (
    ROLES,
    Entry,
    Figures,
    Network,
    PrefixError,
    next_free_address,
    next_free_prefix,
    parse_prefix,
    parse_purpose,
    place,
    rollup,
)
from ipam.report import pool_info

from .changes import TOPIC_SUBSCRIBER, record_change
from .engine import begin_write
from .errors import Conflict, InvalidInput, NotFound
from .models import (
    DeviceConnection,
    IPPool,
    IPv4Network,
    IPv6Network,
    ManagedDevice,
    NetworkSite,
    Router,
    ServiceIPAssignment,
    Subscriber,
    utcnow,
)
from .pool_rows import _POOL_LOCK, _state
from .prefix_models import AddressAssignment, Prefix
from .tables import core_table

P = core_table(Prefix)
A = core_table(AddressAssignment)
#: role a prefix allocated for a purpose gets unless told
DEFAULT_ROLE = {"subscriber": "customer", "site": "container", "link": "infrastructure"}
_NAMED = {
    "router": (Router.id, Router.name),
    "device": (ManagedDevice.id, ManagedDevice.name),
    "site": (NetworkSite.id, NetworkSite.name),
    "subscriber": (Subscriber.id, Subscriber.username),
}


@dataclass(frozen=True, slots=True)
class PrefixInfo:
    prefix: str
    family: int
    role: str
    parent: str | None
    site: str | None
    description: str | None
    assigned: str | None  # "router:core1", "subscriber:alice"
    pool: str | None
    depth: int
    figures: Figures
    children: tuple[str, ...] = ()
    addresses: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "prefix": self.prefix,
            "family": self.family,
            "role": self.role,
            "parent": self.parent,
            "site": self.site,
            "description": self.description,
            "assigned": self.assigned,
            "pool": self.pool,
            "depth": self.depth,
            **self.figures.to_json(),
            "children": list(self.children),
            "addresses": list(self.addresses),
        }


@dataclass
class _Tree:
    """The stored prefixes of one read, with what the rules and the figures need."""

    rows: dict[int, dict[str, Any]]
    entries: list[Entry]
    by_prefix: dict[str, int]
    addresses: list[dict[str, Any]] = field(default_factory=list)

    def entry(self, prefix: str) -> Entry:
        pid = self.by_prefix.get(prefix)
        if pid is None:
            raise NotFound(f"prefix {prefix} does not exist")
        return next(e for e in self.entries if e.id == pid)

    def taken(self, entry_id: int) -> list[Network | ipaddress.IPv4Address | ipaddress.IPv6Address]:
        out: list[Any] = [e.prefix for e in self.entries if e.parent_id == entry_id]
        out += [ipaddress.ip_address(a["address"]) for a in self.addresses if a["prefix_id"] == entry_id]
        return out


async def _lock(conn: AsyncConnection) -> None:
    if conn.dialect.name == "postgresql":  # the pools' lock: a pool write also writes prefixes
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_POOL_LOCK)))


async def _read(conn: AsyncConnection) -> _Tree:
    rows = {int(r["id"]): dict(r) for r in (await conn.execute(sa.select(P))).mappings()}
    entries = [
        Entry(pid, ipaddress.ip_network(r["prefix"]), r["role"], r["parent_id"]) for pid, r in rows.items()
    ]
    addresses = [dict(r) for r in (await conn.execute(sa.select(A).order_by(A.c.id))).mappings()]
    return _Tree(rows, entries, {r["prefix"]: pid for pid, r in rows.items()}, addresses)


def _checked(func: Any, *args: Any) -> Any:
    try:
        return func(*args)
    except IpamError as exc:
        raise Conflict(str(exc)) from None


def _prefix_text(text: str) -> Network:
    try:
        return parse_prefix(text)
    except PrefixError as exc:
        raise InvalidInput(str(exc)) from None


def _role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r} (one of {', '.join(ROLES)})")
    return role


# -- targets ------------------------------------------------------------------------------------


async def resolve(conn: AsyncConnection, target: str) -> tuple[str, int, str | None]:
    """``kind:name[:interface]`` -> (kind, id, interface); InvalidInput when it does not exist."""
    try:
        kind, name, interface = parse_purpose(target)
    except PrefixError as exc:
        raise InvalidInput(str(exc)) from None
    if kind == "link":
        if not name.isdigit() or int(name) > 2**31 - 1:
            raise InvalidInput(f"bad target {target!r}: a link is named by its number (link:12)")
        found = (
            await conn.execute(sa.select(DeviceConnection.id).where(DeviceConnection.id == int(name)))
        ).scalar()
    else:
        id_col, name_col = _NAMED[kind]
        found = (await conn.execute(sa.select(id_col).where(name_col == name))).scalar()
    if found is None:
        raise InvalidInput(f"{kind} {name!r} does not exist")
    return kind, int(found), interface


async def _names(conn: AsyncConnection) -> dict[tuple[str, int], str]:
    out: dict[tuple[str, int], str] = {}
    for kind, (id_col, name_col) in _NAMED.items():
        out.update(
            ((kind, int(i)), str(n)) for i, n in (await conn.execute(sa.select(id_col, name_col))).all()
        )
    out.update(
        (("link", int(i)), str(i)) for (i,) in (await conn.execute(sa.select(DeviceConnection.id))).all()
    )
    return out


def _target_text(names: dict[tuple[str, int], str], kind: str | None, oid: int | None) -> str | None:
    if kind is None or oid is None:
        return None
    return f"{kind}:{names.get((kind, oid), f'#{oid} (removed)')}"


async def _site_id(conn: AsyncConnection, site: str | None) -> int | None:
    if site is None:
        return None
    sid = (await conn.execute(sa.select(NetworkSite.id).where(NetworkSite.name == site))).scalar()
    if sid is None:
        raise InvalidInput(f"site {site!r} does not exist")
    return int(sid)


# -- writes -------------------------------------------------------------------------------------


async def _insert(
    conn: AsyncConnection,
    tree: _Tree,
    net: Network,
    role: str,
    *,
    site_id: int | None = None,
    description: str | None = None,
    kind: str | None = None,
    oid: int | None = None,
    pool_id: int | None = None,
) -> int:
    """Insert ``net`` where the rules put it, its adopted prefixes moved under it."""
    placement = _checked(place, tree.entries, net, role)
    parent_id = placement.parent.id if placement.parent else None
    if placement.parent is not None:
        inside = [a["address"] for a in tree.addresses if a["prefix_id"] == parent_id]
        clash = [a for a in inside if ipaddress.ip_address(a) in net]
        if clash:
            raise Conflict(f"{net} holds {clash[0]}, an address assigned in {placement.parent.prefix}")
    now = utcnow()
    values = {
        "prefix": str(net),
        "family": net.version,
        "role": role,
        "parent_id": parent_id,
        "site_id": site_id,
        "pool_id": pool_id,
        "description": description,
        "assigned_kind": kind,
        "assigned_id": oid,
        "created_at": now,
        "updated_at": now,
    }
    new_id = int((await conn.execute(sa.insert(P).values(**values).returning(P.c.id))).scalar_one())
    if placement.adopted:
        ids = [e.id for e in placement.adopted]
        await conn.execute(sa.update(P).where(P.c.id.in_(ids)).values(parent_id=new_id, updated_at=now))
    entry = Entry(new_id, net, role, parent_id)
    adopted = {e.id for e in placement.adopted}
    tree.entries = [Entry(e.id, e.prefix, e.role, new_id) if e.id in adopted else e for e in tree.entries]
    for aid in adopted:
        tree.rows[aid]["parent_id"] = new_id
    tree.entries.append(entry)
    tree.rows[new_id] = values | {"id": new_id}
    tree.by_prefix[str(net)] = new_id
    return new_id


async def _history(conn: AsyncConnection, username: str, sub_id: int, prefix: str, *, end: bool) -> None:
    """A routed subnet in the assignment history (``lease history PREFIX``)."""
    h = ServiceIPAssignment
    now = dt.datetime.now(dt.UTC)
    if end:
        await conn.execute(
            sa.update(h).where(h.address == prefix, h.released_at.is_(None)).values(released_at=now)
        )
        return
    family = ipaddress.ip_network(prefix).version
    await conn.execute(
        sa.insert(h).values(
            username=username, subscriber_id=sub_id, address=prefix, family=family, assigned_at=now
        )
    )


async def _subscriber_changed(conn: AsyncConnection, tree: _Tree, pid: int, *, end: bool) -> None:
    row = tree.rows[pid]
    if row["assigned_kind"] != "subscriber" or row["assigned_id"] is None:
        return
    username = (
        await conn.execute(sa.select(Subscriber.username).where(Subscriber.id == row["assigned_id"]))
    ).scalar()
    if username is None:
        return
    await _history(conn, username, int(row["assigned_id"]), row["prefix"], end=end)
    await record_change(conn, TOPIC_SUBSCRIBER, username)  # the daemon reloads its Framed-Route


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


def _address_json(row: dict[str, Any], prefix: str, names: dict[tuple[str, int], str]) -> dict[str, Any]:
    return {
        "address": row["address"],
        "prefix": prefix,
        "assigned": _target_text(names, row["assigned_kind"], row["assigned_id"]),
        "interface": row["interface"],
        "description": row["description"],
    }


async def set_routed_subnets(engine: AsyncEngine, username: str, specs: Sequence[str]) -> list[str]:
    """Make ``specs`` the subscriber's routed subnets (``customer`` prefixes assigned to it,
    placed in the tree; an empty list removes them all). Returns them."""
    nets = [_prefix_text(s) for s in specs]
    async with begin_write(engine) as conn:
        await _lock(conn)
        sub_id = (
            await conn.execute(sa.select(Subscriber.id).where(Subscriber.username == username))
        ).scalar()
        if sub_id is None:
            raise NotFound(f"subscriber {username!r} does not exist")
        tree = await _read(conn)
        mine = {
            r["prefix"]: pid
            for pid, r in tree.rows.items()
            if r["assigned_kind"] == "subscriber" and r["assigned_id"] == sub_id
        }
        wanted = [str(n) for n in nets]
        for prefix, pid in mine.items():
            if prefix not in wanted:
                await _subscriber_changed(conn, tree, pid, end=True)
                await conn.execute(
                    sa.update(P).where(P.c.parent_id == pid).values(parent_id=tree.rows[pid]["parent_id"])
                )
                await conn.execute(sa.delete(P).where(P.c.id == pid))
                tree = await _read(conn)
        for net in nets:
            if str(net) in mine:
                continue
            found = tree.by_prefix.get(str(net))
            if found is not None:
                pid = found
                row = tree.rows[pid]
                if row["assigned_kind"] is not None or row["role"] not in ("customer", "reserved"):
                    owner = _target_text(await _names(conn), row["assigned_kind"], row["assigned_id"])
                    raise Conflict(
                        f"{net} is already a {row['role']} prefix{f' of {owner}' if owner else ''}"
                    )
                await conn.execute(
                    sa.update(P)
                    .where(P.c.id == pid)
                    .values(role="customer", assigned_kind="subscriber", assigned_id=sub_id)
                )
                tree.rows[pid] |= {"assigned_kind": "subscriber", "assigned_id": sub_id}
            else:
                pid = await _insert(conn, tree, net, "customer", kind="subscriber", oid=int(sub_id))
            await _subscriber_changed(conn, tree, pid, end=False)
        await record_change(conn, TOPIC_SUBSCRIBER, username)
        return wanted


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


async def routes_for(
    conn: AsyncConnection, subscriber_ids: Iterable[int] | None = None
) -> dict[int, list[str]]:
    """Routed subnets by subscriber id (all subscribers, or those of ``subscriber_ids``)."""
    q = sa.select(P.c.assigned_id, P.c.prefix).where(P.c.assigned_kind == "subscriber").order_by(P.c.id)
    if subscriber_ids is not None:
        ids = list(subscriber_ids)
        if not ids:
            return {}
        q = q.where(P.c.assigned_id.in_(ids))
    out: dict[int, list[str]] = {}
    for oid, prefix in (await conn.execute(q)).all():
        out.setdefault(int(oid), []).append(str(prefix))
    return out


def route_attribute(prefix: str) -> tuple[str, str]:
    """The reply attribute routing ``prefix`` to the subscriber: Framed-Route (RFC 2865 §5.22)
    ``"203.0.113.8/29 0.0.0.0 1"`` or Framed-IPv6-Route (RFC 3162 §2.5) ``"2001:db8:1::/48 :: 1"``.
    The text is "<destination prefix> <gateway> <metric>"; a gateway of 0.0.0.0 (IPv6: the
    unspecified address ::) means "the user's own address", as both RFCs say, so the NAS routes
    the block to whatever Framed-IP-Address or WAN prefix the session got (MikroTik, Cisco,
    Juniper and accel-ppp read this form); metric 1."""
    net = ipaddress.ip_network(prefix)
    if net.version == 4:
        return "Framed-Route", f"{net} 0.0.0.0 1"
    return "Framed-IPv6-Route", f"{net} :: 1"


async def with_routes(conn: AsyncConnection, records: dict[str, Any]) -> dict[str, Any]:
    """Subscriber records (radiusd.store.snapshot, for the daemon) with a route attribute per
    routed subnet appended to their reply attributes."""
    ids = [r.id for r in records.values()]
    routes = await routes_for(conn, ids if len(ids) <= 500 else None) if ids else {}  # IN (...) bound
    if not routes:
        return records
    out = dict(records)
    for name, rec in records.items():
        extra = tuple(route_attribute(p) for p in routes.get(rec.id, ()))
        if extra:
            out[name] = dataclasses.replace(rec, reply_attributes=(*rec.reply_attributes, *extra))
    return out


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


# -- reads --------------------------------------------------------------------------------------


async def _own_usage(conn: AsyncConnection, tree: _Tree) -> dict[int, int]:
    """Addresses each prefix uses itself: assigned addresses, or a pool range's items in use."""
    own: dict[int, int] = {}
    parents = {e.parent_id for e in tree.entries}
    for e in tree.entries:  # a leaf assigned to something (a link's /31, a customer's /29) is in use
        if tree.rows[e.id]["assigned_kind"] is not None and e.id not in parents:
            own[e.id] = e.prefix.num_addresses
    for a in tree.addresses:
        own[a["prefix_id"]] = own.get(a["prefix_id"], 0) + 1
    if any(r["role"] == "pool" for r in tree.rows.values()):
        configs, alloc = await _state(conn)
        for group in sorted({c.group for c in configs.values()}):
            for r in pool_info(configs, alloc, group, None).ranges:
                parts = r.range.split("/")
                net = ipaddress.ip_network("/".join(parts[:2]), strict=False)
                item = 1 if len(parts) < 3 else 2 ** (128 - int(parts[2]))
                pid = tree.by_prefix.get(str(net))
                if pid is not None:
                    own[pid] = own.get(pid, 0) + (r.allocated + r.reserved) * item
    return own


def _depths(tree: _Tree) -> dict[int, int]:
    out: dict[int, int] = {}
    for pid in tree.rows:
        d, cur = 0, tree.rows[pid]["parent_id"]
        while cur is not None:
            d += 1
            cur = tree.rows[cur]["parent_id"]
        out[pid] = d
    return out


async def _infos(conn: AsyncConnection, tree: _Tree, ids: Iterable[int]) -> list[PrefixInfo]:
    figures, _ = rollup(tree.entries, await _own_usage(conn, tree))
    names = await _names(conn)
    sites = {
        int(i): str(n) for i, n in (await conn.execute(sa.select(NetworkSite.id, NetworkSite.name))).all()
    }
    pools = {int(i): str(n) for i, n in (await conn.execute(sa.select(IPPool.id, IPPool.name))).all()}
    depths = _depths(tree)
    out = []
    for pid in ids:
        r = tree.rows[pid]
        kids = [e for e in tree.entries if e.parent_id == pid]
        kids.sort(key=lambda e: (int(e.prefix.network_address), e.prefix.prefixlen))
        out.append(
            PrefixInfo(
                prefix=r["prefix"],
                family=int(r["family"]),
                role=r["role"],
                parent=tree.rows[r["parent_id"]]["prefix"] if r["parent_id"] is not None else None,
                site=sites.get(r["site_id"]) if r["site_id"] is not None else None,
                description=r["description"],
                assigned=_target_text(names, r["assigned_kind"], r["assigned_id"]),
                pool=group_of(pools[r["pool_id"]]) if r["pool_id"] in pools else None,
                depth=depths[pid],
                figures=figures[pid],
                children=tuple(str(k.prefix) for k in kids),
                addresses=tuple(
                    _address_json(a, r["prefix"], names) for a in tree.addresses if a["prefix_id"] == pid
                ),
            )
        )
    return out


def tree_order(tree: _Tree, root: int | None = None) -> list[int]:
    """Ids depth first, each level lowest address first (the order of ``prefix tree``)."""
    kids: dict[int | None, list[Entry]] = {}
    for e in tree.entries:
        kids.setdefault(e.parent_id, []).append(e)
    for v in kids.values():
        v.sort(key=lambda e: (e.prefix.version, int(e.prefix.network_address), e.prefix.prefixlen))
    out: list[int] = []
    stack = [root] if root is not None else [e.id for e in reversed(kids.get(None, []))]
    while stack:
        pid = stack.pop()
        out.append(pid)
        stack.extend(e.id for e in reversed(kids.get(pid, [])))
    return out


async def _info(conn: AsyncConnection, prefix: str) -> PrefixInfo:
    tree = await _read(conn)
    return (await _infos(conn, tree, [tree.entry(prefix).id]))[0]


async def get_prefix(engine: AsyncEngine, prefix: str) -> PrefixInfo:
    net = _prefix_text(prefix)
    async with engine.connect() as conn:
        return await _info(conn, str(net))


async def list_prefixes(
    engine: AsyncEngine,
    *,
    family: int | None = None,
    role: str | None = None,
    site: str | None = None,
    root: str | None = None,
) -> list[PrefixInfo]:
    """Prefixes in tree order (``root``: only that prefix and what is below it)."""
    if role is not None:
        _role(role)
    async with engine.connect() as conn:
        tree = await _read(conn)
        start = tree.entry(str(_prefix_text(root))).id if root is not None else None
        infos = await _infos(conn, tree, tree_order(tree, start))
    return [
        i
        for i in infos
        if (family is None or i.family == family)
        and (role is None or i.role == role)
        and (site is None or i.site == site)
    ]


async def family_totals(engine: AsyncEngine) -> dict[str, dict[str, Any]]:
    """Utilisation per family (``ipv4``, ``ipv6``), summed over the roots by :func:`rollup`."""
    async with engine.connect() as conn:
        tree = await _read(conn)
        _, families = rollup(tree.entries, await _own_usage(conn, tree))
    return {f"ipv{fam}": fig.to_json() for fam, fig in sorted(families.items())}


async def assigned_to(engine: AsyncEngine, target: str) -> dict[str, Any]:
    """What ``target`` (``router:core1``) holds: prefixes and addresses."""
    async with engine.connect() as conn:
        kind, oid, _ = await resolve(conn, target)
        return await holdings(conn, kind, oid)


async def holdings(conn: AsyncConnection, kind: str, oid: int) -> dict[str, Any]:
    prefixes = (
        await conn.execute(
            sa.select(P.c.prefix, P.c.role, P.c.description)
            .where(P.c.assigned_kind == kind, P.c.assigned_id == oid)
            .order_by(P.c.family, P.c.prefix)
        )
    ).mappings()
    addresses = (
        await conn.execute(
            sa.select(A.c.address, A.c.interface, P.c.prefix)
            .join(P, P.c.id == A.c.prefix_id)
            .where(A.c.assigned_kind == kind, A.c.assigned_id == oid)
            .order_by(A.c.family, A.c.address)
        )
    ).mappings()
    return {
        "prefixes": [dict(r) for r in prefixes],
        "addresses": [
            {"address": r["address"], "interface": r["interface"], "prefix": r["prefix"]} for r in addresses
        ],
    }


def nested(infos: Sequence[PrefixInfo]) -> list[dict[str, Any]]:
    """Prefixes in tree order as nested objects (``children``: objects, not prefixes)."""
    out: list[dict[str, Any]] = []
    stack: list[tuple[int, list[dict[str, Any]]]] = [(-1, out)]
    for info in infos:
        node = {**info.to_json(), "children": []}
        while stack[-1][0] >= info.depth:
            stack.pop()
        stack[-1][1].append(node)
        stack.append((info.depth, node["children"]))
    return out
