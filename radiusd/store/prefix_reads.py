"""Reads of the prefix tree (radiusd.store.prefixes re-exports them): each prefix with its
parent, children, addresses and utilisation figures (rolled up by :func:`ipam.prefixes.rollup`,
a pool range's use taken from the pool report), in tree order.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ipam.groups import group_of
from ipam.prefixes import Entry, Figures, rollup
from ipam.report import pool_info

from .models import IPPool, NetworkSite
from .pool_rows import _state
from .prefix_tree import A, P, _address_json, _names, _prefix_text, _read, _role, _target_text, _Tree, resolve


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
