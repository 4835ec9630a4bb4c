"""A subscriber's routed subnets (radiusd.store.prefixes re-exports these): ``customer`` prefixes
of the tree assigned to it, sent by the daemon as Framed-Route / Framed-IPv6-Route.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .changes import TOPIC_SUBSCRIBER, record_change
from .engine import begin_write
from .errors import Conflict, NotFound
from .models import Subscriber
from .prefix_tree import P, _insert, _lock, _names, _prefix_text, _read, _subscriber_changed, _target_text


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
