"""Leases for the CLI and the admin API: reserve, unreserve, release, list, history.

Each write loads the stored pools and leases into an allocator under the pool lock
(:mod:`radiusd.store.pool_rows`), applies the change there (the IPAM domain's rules refuse what
does not fit) and writes the lease row with a change-feed entry (topic ``pool``, key
``lease:ADDR``) that a running daemon applies to its memory. :func:`lease_row` is the row of a
lease, for the daemon's writer too.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ipam import Lease, LeaseState, PoolError
from ipam.groups import PoolConfig, group_of
from ipam.lease import LIVE
from ipam.owners import username_of

from . import validate
from .changes import record_change
from .engine import begin_write
from .errors import InvalidInput, NotFound
from .lease_ops import row_state, ts, upsert_rows, write_history
from .models import RadiusSession, Router, ServiceIPAssignment, utcnow
from .pool_rows import TOPIC_POOL, _group, _lock, _state, load_configs, load_leases, refusal
from .records import _Record


@dataclass(frozen=True, slots=True)
class LeaseInfo(_Record):
    address: str
    pool: str
    kind: str
    state: str
    username: str | None
    nas: str | None
    session: str | None
    expires: dt.datetime | None
    updated: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry(_Record):
    """One holder of an address: from the assignment history or from an accounting session."""

    address: str
    username: str
    source: str  # "assignment" | "session"
    started: dt.datetime
    ended: dt.datetime | None
    nas: str | None = None
    session: str | None = None
    pool: str | None = None


def lease_row(lease: Lease, cfg: PoolConfig, now: dt.datetime) -> tuple[str, dict[str, Any]]:
    """``("v4"|"v6", row dict)`` of a lease for :func:`radiusd.store.lease_ops.upsert_rows`."""
    row: dict[str, Any] = {
        "pool_id": cfg.id,
        "state": row_state(lease.state, lease.expires),
        "owner": lease.owner,
        "router_id": int(lease.nas) if lease.nas and lease.nas.isdigit() else None,
        "session_key": lease.session,
        "expires_at": ts(lease.expires),
        "updated_at": now,
    }
    if cfg.kind == "ipv4":
        row["address"] = lease.address
        return "v4", row
    row["prefix"] = lease.address
    row["kind"] = "wan" if cfg.kind == "ipv6-wan" else "pd"
    return "v6", row


async def _write_lease(conn: AsyncConnection, lease: Lease, configs: dict[str, PoolConfig]) -> None:
    which, row = lease_row(lease, configs[lease.pool], utcnow())
    await upsert_rows(conn, [row] if which == "v4" else [], [row] if which == "v6" else [])
    await record_change(conn, TOPIC_POOL, f"lease:{lease.address}")


def _info_of(
    lease: Lease, configs: dict[str, PoolConfig], nas_names: dict[int, str] | None = None
) -> LeaseInfo:
    cfg = configs.get(lease.pool)
    nas = lease.nas
    if nas_names is not None and nas is not None and nas.isdigit():
        nas = nas_names.get(int(nas), nas)
    return LeaseInfo(
        address=lease.address,
        pool=group_of(lease.pool),
        kind=cfg.kind if cfg else "",
        state=str(lease.state),
        username=username_of(lease.owner),
        nas=nas,
        session=lease.session,
        expires=ts(lease.expires),
    )


def _canonical(address: str) -> str:
    text = address.strip()
    try:
        if "/" in text:
            return str(ipaddress.ip_network(text, strict=True))
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise InvalidInput(f"malformed address or prefix {address!r}") from None


async def reserve_address(engine: AsyncEngine, address: str, owner: str | None = None) -> LeaseInfo:
    """Reserve an address (a subscriber's static one when ``owner`` is given); Conflict when it
    is live for, or reserved for, someone else."""
    address = _canonical(address)
    owner = validate.blank_to_none(owner)
    async with begin_write(engine) as conn:
        await _lock(conn)
        configs, alloc = await _state(conn)
        try:
            change = alloc.reserve(address, owner)
        except PoolError as exc:
            raise refusal(exc) from None
        await _write_lease(conn, change.lease, configs)
        return _info_of(change.lease, configs)


async def unreserve_address(engine: AsyncEngine, address: str) -> LeaseInfo:
    """Lift a reservation; NotFound when the address is not reserved."""
    address = _canonical(address)
    async with begin_write(engine) as conn:
        await _lock(conn)
        configs, alloc = await _state(conn)
        change = alloc.unreserve(address)
        if change is None:
            raise NotFound(f"{address} is not reserved")
        await _write_lease(conn, change.lease, configs)
        return _info_of(change.lease, configs)


async def release_lease(engine: AsyncEngine, address: str) -> LeaseInfo:
    """End the live lease of an address now (it is sticky-held for its holder); NotFound when
    it is not leased. The running daemon applies it to its memory through the change feed."""
    address = _canonical(address)
    async with begin_write(engine) as conn:
        await _lock(conn)
        configs, alloc = await _state(conn)
        current = alloc.lookup(address)
        if current is None or current.state not in LIVE or current.owner is None:
            raise NotFound(f"{address} has no live lease")
        now = time.time()
        change = alloc.release(address, current.owner, now)
        assert change is not None
        await _write_lease(conn, change.lease, configs)
        await write_history(conn, [{"a": change.lease.address, "t": ts(now)}], [])
        return _info_of(change.lease, configs)


async def list_leases(
    engine: AsyncEngine, *, pool: str | None = None, user: str | None = None, state: str | None = None
) -> list[LeaseInfo]:
    """Leases (every touched item except plain free ones), by address; filters combine."""
    async with engine.connect() as conn:
        configs = await load_configs(conn)
        if pool is not None:
            _group(configs, pool)
        names = {int(r.id): str(r.name) for r in await conn.execute(sa.select(Router.id, Router.name))}
        out = []
        for lease in await load_leases(conn):
            info = _info_of(lease, configs, names)
            if lease.state is LeaseState.FREE:
                continue
            if pool is not None and info.pool != pool:
                continue
            if user is not None and info.username != user:
                continue
            if state is not None and info.state != state:
                continue
            out.append(info)
    out.sort(key=lambda i: _sort_key(i.address))
    return out


def _sort_key(address: str) -> tuple[int, int]:
    net = ipaddress.ip_network(address, strict=False)
    return net.version, int(net.network_address)


def history_queries(address: str, at: dt.datetime | None) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """The assignment history and the sessions that held ``address`` (canonical), at ``at``.

    On PostgreSQL the history is partitioned by ``released_at`` (radiusd.store.partitions):
    ``released_at IS NULL OR released_at > at`` leaves out every partition released before
    ``at``, and each remaining one is probed by its (address, assigned_at) index."""
    h = ServiceIPAssignment
    s = RadiusSession
    q1 = sa.select(h).where(h.address == address)
    if at is not None:
        q1 = q1.where(h.assigned_at <= at, sa.or_(h.released_at.is_(None), h.released_at > at))
    col = s.framed_ip if ":" not in address else None
    cond = (
        col == address
        if col is not None
        else sa.or_(s.framed_ipv6_prefix == address, s.delegated_ipv6_prefix == address)
    )
    q2 = sa.select(s).where(cond)
    if at is not None:
        q2 = q2.where(s.started_at <= at, sa.or_(s.stopped_at.is_(None), s.stopped_at > at))
    return q1, q2


async def lease_history(
    engine: AsyncEngine, address: str, *, at: dt.datetime | None = None
) -> list[HistoryEntry]:
    """Who held ``address`` (an IPv4 address or an IPv6 prefix) and when, newest first.

    Both sources are read: the assignment history written at every allocation, and the
    accounting sessions that reported the address (a NAS may use an address it chose itself).
    """
    address = _canonical(address)
    if at is not None and at.tzinfo is None:
        raise InvalidInput("--at needs a time zone (e.g. 2026-01-31T12:00:00Z)")
    names: dict[int, str]
    q1, q2 = history_queries(address, at)
    async with engine.connect() as conn:
        names = {int(r.id): str(r.name) for r in await conn.execute(sa.select(Router.id, Router.name))}
        out = [
            HistoryEntry(
                address,
                r.username,
                "assignment",
                r.assigned_at,
                r.released_at,
                names.get(r.router_id) if r.router_id is not None else None,
                r.session_key,
                r.pool_name,
            )
            for r in (await conn.execute(q1)).all()
        ]
        out += [
            HistoryEntry(
                address,
                r.username,
                "session",
                r.started_at,
                r.stopped_at,
                names.get(r.router_id, r.nas_address) if r.router_id is not None else r.nas_address,
                r.acct_unique_id,
                None,
            )
            for r in (await conn.execute(q2)).all()
        ]
    out.sort(key=lambda e: e.started, reverse=True)
    return out
