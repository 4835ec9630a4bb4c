"""The prefix tree's rows and the helpers every prefix write shares (radiusd.store.prefixes is
the public entry point): one read of the stored tree (:class:`_Tree`) under the pools' lock,
target resolution (``kind:name[:interface]``), and the insert that places a prefix where the
rules of :mod:`ipam.prefixes` put it. A subscriber's prefix also goes to the assignment history
and the change feed, so the daemon reloads its Framed-Route.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ipam.errors import IpamError
from ipam.prefixes import ROLES, Entry, Network, PrefixError, parse_prefix, parse_purpose, place

from .changes import TOPIC_SUBSCRIBER, record_change
from .errors import Conflict, InvalidInput, NotFound
from .models import (
    DeviceConnection,
    ManagedDevice,
    NetworkSite,
    Router,
    ServiceIPAssignment,
    Subscriber,
    utcnow,
)
from .pool_rows import _POOL_LOCK
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


def _address_json(row: dict[str, Any], prefix: str, names: dict[tuple[str, int], str]) -> dict[str, Any]:
    return {
        "address": row["address"],
        "prefix": prefix,
        "assigned": _target_text(names, row["assigned_kind"], row["assigned_id"]),
        "interface": row["interface"],
        "description": row["description"],
    }
