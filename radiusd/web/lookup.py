"""The console's reads that the admin API has no route for: the search box, a subscriber's
addresses and usage, the sessions behind a site. Each is one or two indexed, bounded queries.

The address history itself is radiusd.store.pools.lease_history (as ``radiusd lease history``),
the online sessions radiusd.api.queries (as ``GET /radius/sessions/online``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ipam.owners import SLOT_SEP
from radiusd.store.errors import InvalidInput
from radiusd.store.models import (
    IPPool,
    IPv4IP,
    IPv6IP,
    NetworkSite,
    RadiusSession,
    Router,
    ServiceIPAssignment,
    ServiceUsageTracking,
    Subscriber,
)
from radiusd.store.pools import lease_history
from radiusd.store.reports import parse_when

_S: sa.Table = RadiusSession.__table__  # type: ignore[assignment]
_H: sa.Table = ServiceIPAssignment.__table__  # type: ignore[assignment]
_U: sa.Table = ServiceUsageTracking.__table__  # type: ignore[assignment]
_SUB: sa.Table = Subscriber.__table__  # type: ignore[assignment]
_R: sa.Table = Router.__table__  # type: ignore[assignment]
_SITE: sa.Table = NetworkSite.__table__  # type: ignore[assignment]
_V4: sa.Table = IPv4IP.__table__  # type: ignore[assignment]
_V6: sa.Table = IPv6IP.__table__  # type: ignore[assignment]
_P: sa.Table = IPPool.__table__  # type: ignore[assignment]

#: the widest IPv4 prefix searched address by address (1,024 addresses)
WIDEST_V4_PREFIX = 22
MAX_RESULTS = 50
_MAC = re.compile(
    r"^[0-9A-Fa-f]{2}([-:.]?[0-9A-Fa-f]{2}){5}$|^[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}$"
)


@dataclass(frozen=True, slots=True)
class Query:
    """What the search box was given: ``kind`` is username, address, prefix, mac or port."""

    kind: str
    text: str
    at: dt.datetime | None = None


def parse_query(text: str, kind: str = "auto") -> Query:
    """Guess what ``text`` is unless ``kind`` says: an address or prefix (optionally followed by
    a date and time: "100.64.3.7 2026-11-02 14:00"), a MAC, a NAS port, else a username."""
    text = text.strip()
    if not text:
        raise InvalidInput("type a username, an address, a MAC or a NAS port")
    if kind in ("auto", "address"):
        head, _, rest = text.partition(" ")
        try:
            net = ipaddress.ip_network(head, strict=False)
        except ValueError:
            if kind == "address":
                raise InvalidInput(f"{head!r} is not an IPv4/IPv6 address or prefix") from None
        else:
            at = parse_when(rest.strip().replace(" ", "T", 1)) if rest.strip() else None
            single = "/" not in head or net.prefixlen == net.max_prefixlen
            if single:
                return Query("address", str(net.network_address), at)
            if net.version == 6:
                return Query("address", str(net), at)  # a delegated or WAN prefix: held as such
            return Query("prefix", str(net), at)
    if kind == "mac" or (kind == "auto" and _MAC.match(text)):
        digits = re.sub(r"[^0-9A-Fa-f]", "", text)
        if len(digits) != 12:
            raise InvalidInput(f"{text!r} is not a MAC address")
        return Query("mac", digits.lower())
    if kind == "port":
        return Query("port", text)
    return Query("username", text)


def mac_forms(digits: str) -> list[str]:
    """The ways a NAS writes one MAC in Calling-Station-Id (aa:bb.., AA-BB.., aabb.ccdd.., bare)."""
    pairs = [digits[i : i + 2] for i in range(0, 12, 2)]
    forms = set()
    for case in (str.lower, str.upper):
        p = [case(x) for x in pairs]
        forms.update(
            {":".join(p), "-".join(p), "".join(p), ".".join("".join(p[i : i + 2]) for i in (0, 2, 4))}
        )
    return sorted(forms)


async def search(engine: AsyncEngine, q: Query) -> list[dict[str, Any]]:
    """Subscribers matching ``q``: username, how it matched, and when (newest first)."""
    async with engine.connect() as conn:
        if q.kind == "username":
            hi = q.text + "\U0010ffff"
            rows = await conn.execute(
                sa.select(_SUB.c.username, _SUB.c.status)
                .where(_SUB.c.username >= q.text, _SUB.c.username < hi)
                .order_by(_SUB.c.username)
                .limit(MAX_RESULTS)
            )
            return [{"username": r.username, "how": f"username ({r.status})", "when": None} for r in rows]
        if q.kind == "mac":
            rows = await conn.execute(
                sa.select(_S.c.username, _S.c.calling_station_id, _S.c.started_at, _S.c.status)
                .where(_S.c.calling_station_id.in_(mac_forms(q.text)))
                .order_by(_S.c.started_at.desc())
                .limit(MAX_RESULTS)
            )
            return [
                {
                    "username": r.username,
                    "how": f"MAC {r.calling_station_id} ({r.status})",
                    "when": r.started_at,
                }
                for r in rows
            ]
        if q.kind == "port":
            # NAS-Port-Id (text, indexed); a number is also tried as NAS-Port among the open
            # sessions (not indexed: a scan of the open sessions)
            cols = (_S.c.username, _S.c.nas_port_id, _S.c.nas_port, _S.c.nas_address, _S.c.started_at)
            found: Any = sa.select(*cols).where(_S.c.nas_port_id == q.text, _S.c.status == "open")
            if q.text.isdigit() and len(q.text) < 11:
                by_number = sa.select(*cols).where(_S.c.nas_port == int(q.text), _S.c.status == "open")
                found = sa.union(found, by_number)
            inner = found.subquery()
            rows = await conn.execute(sa.select(inner).order_by(inner.c.started_at.desc()).limit(MAX_RESULTS))
            return [
                {"username": r.username, "how": f"port {r.nas_port_id or r.nas_port} on {r.nas_address}",
                 "when": r.started_at}
                for r in rows
            ]  # fmt: skip
    if q.kind == "prefix":
        return await _prefix_holders(engine, q)
    found = await lease_history(engine, q.text, at=q.at)
    return [
        {"username": e.username, "how": f"held {e.address} ({e.source})", "when": e.started} for e in found
    ][:MAX_RESULTS]


async def _prefix_holders(engine: AsyncEngine, q: Query) -> list[dict[str, Any]]:
    net = ipaddress.IPv4Network(q.text)
    if net.prefixlen < WIDEST_V4_PREFIX:
        raise InvalidInput(f"search a prefix of /{WIDEST_V4_PREFIX} or narrower ({net} is too wide)")
    addresses = [str(a) for a in net]
    out: list[dict[str, Any]] = []
    async with engine.connect() as conn:
        for i in range(0, len(addresses), 256):
            chunk = addresses[i : i + 256]
            hq = sa.select(_H.c.username, _H.c.address, _H.c.assigned_at, _H.c.released_at).where(
                _H.c.address.in_(chunk)
            )
            if q.at is not None:
                hq = hq.where(
                    _H.c.assigned_at <= q.at, sa.or_(_H.c.released_at.is_(None), _H.c.released_at > q.at)
                )
            for r in await conn.execute(hq):
                out.append({"username": r.username, "how": f"held {r.address}", "when": r.assigned_at})
    out.sort(key=lambda r: r["when"], reverse=True)
    return out[:MAX_RESULTS]


async def addresses_of(engine: AsyncEngine, username: str) -> dict[str, list[dict[str, Any]]]:
    """What ``username`` holds now (leases, reserved addresses) and held (the last 20)."""
    owners = [username, *(f"{username}{SLOT_SEP}{n}" for n in range(1, 9))]
    async with engine.connect() as conn:
        now4 = await conn.execute(
            sa.select(_V4.c.address, _V4.c.state, _P.c.name.label("pool"))
            .select_from(_V4.join(_P, _P.c.id == _V4.c.pool_id))
            .where(_V4.c.owner.in_(owners), _V4.c.state.in_(("offered", "leased", "reserved")))
        )
        now6 = await conn.execute(
            sa.select(_V6.c.prefix.label("address"), _V6.c.state, _P.c.name.label("pool"))
            .select_from(_V6.join(_P, _P.c.id == _V6.c.pool_id))
            .where(_V6.c.owner.in_(owners), _V6.c.state.in_(("offered", "leased", "reserved")))
        )
        held = await conn.execute(
            sa.select(_H.c.address, _H.c.pool_name, _H.c.assigned_at, _H.c.released_at)
            .where(_H.c.username == username)
            .order_by(_H.c.assigned_at.desc())
            .limit(20)
        )
        return {
            "now": [dict(r._mapping) for r in [*now4, *now6]],
            "history": [dict(r._mapping) for r in held],
        }


async def usage_per_day(engine: AsyncEngine, username: str, days: int) -> tuple[list[Any], dt.date, dt.date]:
    """(day, input octets, output octets) of the last ``days`` UTC days (service_usage)."""
    end = dt.datetime.now(dt.UTC).date()
    start = end - dt.timedelta(days=days - 1)
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(_U.c.day, _U.c.input_octets, _U.c.output_octets)
            .where(_U.c.username == username, _U.c.day >= start)
            .order_by(_U.c.day)
        )
        return [(r.day, int(r.input_octets), int(r.output_octets)) for r in rows], start, end


async def routers_by_site(engine: AsyncEngine) -> dict[int, tuple[str, str | None]]:
    """router id -> (router name, site name or None)."""
    q = sa.select(_R.c.id, _R.c.name, _SITE.c.name.label("site")).select_from(
        _R.outerjoin(_SITE, _SITE.c.id == _R.c.site_id)
    )
    async with engine.connect() as conn:
        return {r.id: (r.name, r.site) for r in await conn.execute(q)}


async def sessions_behind(
    engine: AsyncEngine, router_ids: list[int], *, pool: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Open sessions on any of ``router_ids`` (every router when empty and ``pool`` is given),
    newest first; ``pool``: only those whose address is a lease of that pool."""
    from radiusd.api.queries import _session
    from radiusd.store.session_view import session_select

    q = session_select().where(_S.c.status == "open")
    if router_ids:
        q = q.where(_S.c.router_id.in_(router_ids))
    if pool is not None:
        in_pool = sa.select(_V4.c.address).join(_P, _P.c.id == _V4.c.pool_id).where(_P.c.name == pool)
        q = q.where(_S.c.framed_ip.in_(in_pool))
    q = q.order_by(_S.c.id.desc()).limit(limit)
    async with engine.connect() as conn:
        return [_session(r) for r in (await conn.execute(q)).mappings()]
