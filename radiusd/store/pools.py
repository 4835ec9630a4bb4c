"""IP pools and leases for the CLI and the admin API; every write also appends to the
change feed (topic ``pool``) in the same transaction, so a running daemon picks it up.

A *pool* as the operator names it is stored as up to three ``ip_pools`` rows, one per family
of items (see :mod:`ipam.groups`).

Rules are those of the IPAM domain (ipam/): each write loads the stored pools and leases into
an :class:`ipam.Allocator` (:func:`ipam.groups.load_allocator`) inside its transaction
(PostgreSQL: under an advisory lock, SQLite: ``BEGIN IMMEDIATE``), applies the change there
and writes the result, so overlapping ranges, a reservation of a leased address or the
removal of a range with live leases are refused with the core's message. Unique
``cidr``/``prefix``/``address`` columns back this up.

Functions (``engine`` is an AsyncEngine; errors: InvalidInput, NotFound, Conflict)::

    add_pool(engine, name, *, ranges=(), ipv6_prefixes=(), delegated=(), nas=None,
             fallback=None, warning_pct=None, exclude=()) -> PoolInfo
        ranges: IPv4 CIDR ("10.64.0.0/16") or single addresses; ipv6_prefixes:
        "2001:db8::/48" or "2001:db8::/48/64" (item length, default 64); delegated:
        "2001:db8:100::/40/56" (default /56); nas: NAS name the pool is used for only;
        fallback: pool tried when this one is exhausted; warning_pct: utilisation warning
        threshold (default: the daemon's setting); exclude: IPv4 addresses never handed out.
    remove_pool(engine, name) -> None                 refused with live or reserved leases
    add_range(engine, name, spec, kind=None) -> PoolInfo      kind: ipv4|ipv6-wan|ipv6-pd,
                                                      default ipv4 for IPv4 text else ipv6-wan
    remove_range(engine, name, spec) -> PoolInfo      refused while live leases are in it
    set_pool(engine, name, *, nas=..., fallback=..., warning_pct=...) -> PoolInfo
    reserve_address(engine, address, owner=None) -> LeaseInfo     owner: a username (static)
    unreserve_address(engine, address) -> LeaseInfo
    list_pools(engine) -> list[PoolInfo]              with utilisation per pool and per range
    get_pool(engine, name) -> PoolInfo
    list_leases(engine, *, pool=None, user=None, state=None) -> list[LeaseInfo]
    release_lease(engine, address) -> LeaseInfo       ends a live lease (the NAS is not told)
    lease_history(engine, address, *, at=None) -> list[HistoryEntry]
        who held an address or prefix (from service_ip_assignments and radius_sessions),
        newest first; ``at`` (aware datetime) keeps only the holders at that instant.

Records have ``to_json()`` (datetimes as ISO 8601). The rules are the IPAM domain's: pool groups,
:func:`ipam.groups.load_allocator`, owner slots (:mod:`ipam.owners`) and the utilisation report
(:func:`ipam.report.pool_info`); this module reads and writes their rows. The daemon uses
:func:`load_configs` and :func:`load_leases` to feed its in-memory allocator.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ipam import PoolError
from ipam.groups import (
    DEFAULT_PLEN,
    SUFFIX,
    PoolConfig,
    build_allocator,
)
from ipam.ranges import parse_range
from ipam.report import PoolInfo, pool_info

from . import validate
from .changes import record_change
from .engine import begin_write
from .errors import Conflict, InvalidInput, NotFound
from .lease_ops import (
    V4,
    V6,
)
from .leases import (
    HistoryEntry,
    LeaseInfo,
    history_queries,
    lease_history,
    lease_row,
    list_leases,
    release_lease,
    reserve_address,
    unreserve_address,
)
from .models import Router, utcnow
from .pool_rows import (
    _NETS4,
    _NETS6,
    _POOLS,
    TOPIC_POOL,
    _group,
    _lock,
    _state,
    load_configs,
    load_lease_rows,
    load_leases,
    refusal,
)
from .prefixes import sync_pool_prefixes

__all__ = [
    "TOPIC_POOL",
    "HistoryEntry",
    "LeaseInfo",
    "PoolConfig",
    "PoolInfo",
    "add_pool",
    "add_range",
    "get_pool",
    "history_queries",
    "lease_history",
    "lease_row",
    "list_leases",
    "list_pools",
    "load_configs",
    "load_lease_rows",
    "load_leases",
    "refusal",
    "release_lease",
    "remove_pool",
    "remove_range",
    "reserve_address",
    "set_pool",
    "unreserve_address",
]

# -- input ------------------------------------------------------------------------------------


def _pool_name(name: str) -> str:
    text = validate.name(name, "pool name", 120)
    if ":" in text:
        raise InvalidInput(f"pool name {text!r} must not contain ':'")
    return text


def _ipv4_range(spec: str) -> str:
    text = spec.strip()
    try:
        net = ipaddress.IPv4Network(text, strict=True)
    except ValueError as exc:
        raise InvalidInput(
            f"bad IPv4 range {spec!r} (use a CIDR prefix such as 10.64.0.0/16): {exc}"
        ) from None
    return str(net)


def _ipv6_range(spec: str, kind: str) -> tuple[str, int]:
    text = spec.strip()
    parts = text.split("/")
    plen = DEFAULT_PLEN[kind]
    if len(parts) == 3:
        if not parts[2].isdigit():
            raise InvalidInput(f"bad IPv6 range {spec!r}")
        plen = int(parts[2])
        text = "/".join(parts[:2])
    try:
        net = ipaddress.IPv6Network(text, strict=True)
    except ValueError as exc:
        raise InvalidInput(f"bad IPv6 prefix {spec!r}: {exc}") from None
    if not net.prefixlen <= plen <= 128:
        raise InvalidInput(f"cannot cut {net} into /{plen} prefixes")
    return str(net), plen


def _kind_of(spec: str, kind: str | None) -> str:
    if kind is None:
        return "ipv6-wan" if ":" in spec else "ipv4"
    return validate.choice(kind, SUFFIX, "pool kind")


# -- writes -----------------------------------------------------------------------------------


async def _nas_id(conn: AsyncConnection, nas: str | None) -> int | None:
    if nas is None:
        return None
    rid = (await conn.execute(sa.select(Router.id).where(Router.name == nas))).scalar()
    if rid is None:
        raise InvalidInput(f"NAS {nas!r} does not exist")
    return int(rid)


async def _insert_row(
    conn: AsyncConnection, name: str, kind: str, plen: int | None, base: PoolConfig | None, **attrs: Any
) -> int:
    now = utcnow()
    values: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "prefix_length": plen,
        "created_at": now,
        "updated_at": now,
        "router_id": attrs.get("router_id", base.router_id if base else None),
        "fallback_pool": attrs.get("fallback", base.fallback if base else None),
        "utilisation_warning_pct": attrs.get("warning_pct", base.warning_pct if base else None),
    }
    result = await conn.execute(sa.insert(_POOLS).values(**values).returning(_POOLS.c.id))
    return int(result.scalar_one())


async def _add_ranges(
    conn: AsyncConnection,
    configs: dict[str, PoolConfig],
    name: str,
    specs: Sequence[tuple[str, str]],
    exclude: Sequence[str] = (),
) -> None:
    """Add ``(kind, spec)`` ranges to pool ``name`` (rows created as needed), checked by the core."""
    base = configs.get(name)
    for kind, spec in specs:
        row = name + SUFFIX[kind]
        if kind == "ipv4":
            cidr, plen = _ipv4_range(spec), None
            core = cidr
        else:
            cidr, plen = _ipv6_range(spec, kind)
            core = f"{cidr}/{plen}"
        cfg = configs.get(row)
        if cfg is None:
            pid = await _insert_row(conn, row, kind, plen, base)
            cfg = configs[row] = PoolConfig(
                pid,
                row,
                kind,
                base.router_id if base else None,
                base.nas if base else None,
                base.fallback if base else None,
                base.warning_pct if base else None,
                plen,
            )
        elif kind != "ipv4" and cfg.item_prefixlen != plen:
            raise InvalidInput(f"pool {name!r} hands out /{cfg.item_prefixlen} {kind} prefixes, not /{plen}")
        cfg.ranges.append(core)
        if kind == "ipv4":
            await conn.execute(sa.insert(_NETS4).values(pool_id=cfg.id, cidr=cidr, excluded=list(exclude)))
            cfg.exclude += list(exclude)
        else:
            await conn.execute(sa.insert(_NETS6).values(pool_id=cfg.id, prefix=cidr, assign_length=plen))
    try:
        build_allocator(configs.values())  # overlaps with any pool, bad exclusions, ...
    except PoolError as exc:
        raise refusal(exc) from None


async def add_pool(
    engine: AsyncEngine,
    name: str,
    *,
    ranges: Iterable[str] = (),
    ipv6_prefixes: Iterable[str] = (),
    delegated: Iterable[str] = (),
    nas: str | None = None,
    fallback: str | None = None,
    warning_pct: float | None = None,
    exclude: Iterable[str] = (),
    default_warning_pct: float | None = None,
) -> PoolInfo:
    """Create a pool (see the module docstring); Conflict if the name exists or a range overlaps.
    ``default_warning_pct``: the threshold its figures use when it has none of its own."""
    name = _pool_name(name)
    fallback = validate.blank_to_none(fallback)
    _check_pct(warning_pct)
    excl = [validate.ipv4_address(x) for x in exclude]
    specs = [("ipv4", s) for s in ranges] + [("ipv6-wan", s) for s in ipv6_prefixes]
    specs += [("ipv6-pd", s) for s in delegated]
    try:
        async with begin_write(engine) as conn:
            await _lock(conn)
            configs = await load_configs(conn)
            if name in configs:
                raise Conflict(f"pool {name!r} already exists")
            if fallback is not None and fallback not in configs:
                raise InvalidInput(f"fallback pool {fallback!r} does not exist")
            rid = await _nas_id(conn, nas)
            pid = await _insert_row(
                conn, name, "ipv4", None, None, router_id=rid, fallback=fallback, warning_pct=warning_pct
            )
            configs[name] = PoolConfig(pid, name, "ipv4", rid, nas, fallback, warning_pct, None)
            await _add_ranges(conn, configs, name, specs, excl)
            await _ranges_changed(conn)
            await record_change(conn, TOPIC_POOL, name)
            return await _info(conn, name, default_warning_pct)
    except IntegrityError as exc:
        raise Conflict(f"pool {name!r}: {_first_line(exc)}") from None


async def _ranges_changed(conn: AsyncConnection) -> None:
    """The hook of the prefix tree: pool ranges are ``pool`` prefixes in it."""
    await sync_pool_prefixes(conn)


def _check_pct(pct: float | None) -> None:
    if pct is not None and not 0 < pct <= 100:
        raise InvalidInput(f"warning threshold must be a percentage in (0, 100], not {pct!r}")


def _first_line(exc: Exception) -> str:
    return str(getattr(exc, "orig", exc)).splitlines()[0][:200]


async def add_range(engine: AsyncEngine, name: str, spec: str, kind: str | None = None) -> PoolInfo:
    """Add one range; Conflict if it overlaps any pool's range."""
    kind = _kind_of(spec, kind)
    try:
        async with begin_write(engine) as conn:
            await _lock(conn)
            configs = await load_configs(conn)
            _group(configs, name)
            await _add_ranges(conn, configs, name, [(kind, spec)])
            await _ranges_changed(conn)
            await record_change(conn, TOPIC_POOL, name)
            return await _info(conn, name)
    except IntegrityError as exc:
        raise Conflict(f"range {spec} of pool {name!r}: {_first_line(exc)}") from None


async def remove_range(engine: AsyncEngine, name: str, spec: str) -> PoolInfo:
    """Remove a range; Conflict while any of its items is offered, leased or reserved."""
    async with begin_write(engine) as conn:
        await _lock(conn)
        configs, alloc = await _state(conn)
        for cfg in _group(configs, name):
            pool = alloc.pool(cfg.name)
            for rng in pool.ranges:
                if not _same_range(rng.spec, spec, cfg.kind, cfg.item_prefixlen):
                    continue
                try:
                    alloc.remove_range(cfg.name, rng.spec)
                except PoolError as exc:
                    raise refusal(exc) from None
                table, key = (V4, "address") if cfg.kind == "ipv4" else (V6, "prefix")
                rows = (
                    await conn.execute(sa.select(table.c[key]).where(table.c.pool_id == cfg.id))
                ).scalars()
                gone = [a for a in rows if not pool.contains(a)]
                if gone:
                    await conn.execute(sa.delete(table).where(table.c[key].in_(gone)))
                if cfg.kind == "ipv4":
                    await conn.execute(
                        sa.delete(_NETS4).where(_NETS4.c.pool_id == cfg.id, _NETS4.c.cidr == rng.spec)
                    )
                else:
                    prefix = rng.spec.rsplit("/", 1)[0]
                    await conn.execute(
                        sa.delete(_NETS6).where(_NETS6.c.pool_id == cfg.id, _NETS6.c.prefix == prefix)
                    )
                await _ranges_changed(conn)
                await record_change(conn, TOPIC_POOL, name)
                return await _info(conn, name)
        raise NotFound(f"pool {name!r} has no range {spec}")


def _same_range(stored: str, given: str, kind: str, plen: int | None) -> bool:
    try:
        return parse_range(given.strip(), kind, plen).spec == stored
    except PoolError:
        return given.strip() == stored


async def remove_pool(engine: AsyncEngine, name: str) -> None:
    """Remove a pool and its ranges; Conflict while it has live or reserved items or is the
    fallback of another pool. Lease rows go; the assignment history stays."""
    async with begin_write(engine) as conn:
        await _lock(conn)
        configs, alloc = await _state(conn)
        rows = _group(configs, name)
        users = sorted({c.group for c in configs.values() if c.fallback == name and c.group != name})
        if users:
            raise Conflict(f"pool {name!r} is the fallback of pool(s) {', '.join(users)}")
        for cfg in rows:
            u = alloc.pool(cfg.name).usage()
            if u.allocated or u.reserved:
                raise Conflict(
                    f"pool {name!r} still has {u.allocated} live and {u.reserved} reserved {cfg.kind} item(s)"
                )
        await conn.execute(sa.delete(_POOLS).where(_POOLS.c.id.in_([c.id for c in rows])))
        await record_change(conn, TOPIC_POOL, name)


_UNSET: Any = object()


async def set_pool(
    engine: AsyncEngine,
    name: str,
    *,
    nas: str | None = _UNSET,
    fallback: str | None = _UNSET,
    warning_pct: float | None = _UNSET,
) -> PoolInfo:
    """Change a pool's NAS scope, fallback or warning threshold (None clears; omitted: kept)."""
    values: dict[str, Any] = {}
    async with begin_write(engine) as conn:
        await _lock(conn)
        configs = await load_configs(conn)
        rows = _group(configs, name)
        if nas is not _UNSET:
            values["router_id"] = await _nas_id(conn, validate.blank_to_none(nas))
        if fallback is not _UNSET:
            fb = validate.blank_to_none(fallback)
            if fb is not None and fb not in configs:
                raise InvalidInput(f"fallback pool {fb!r} does not exist")
            values["fallback_pool"] = fb
            for c in rows:
                c.fallback = fb
        if warning_pct is not _UNSET:
            _check_pct(warning_pct)
            values["utilisation_warning_pct"] = warning_pct
        try:
            build_allocator(configs.values())
        except PoolError as exc:
            raise refusal(exc) from None
        if values:
            values["updated_at"] = utcnow()
            await conn.execute(
                sa.update(_POOLS).where(_POOLS.c.id.in_([c.id for c in rows])).values(**values)
            )
            await record_change(conn, TOPIC_POOL, name)
        return await _info(conn, name)


# -- reads ------------------------------------------------------------------------------------


async def _info(conn: AsyncConnection, name: str, default_pct: float | None = None) -> PoolInfo:
    configs, alloc = await _state(conn)
    _group(configs, name)
    return pool_info(configs, alloc, name, default_pct)


async def list_pools(engine: AsyncEngine, *, default_warning_pct: float | None = 90.0) -> list[PoolInfo]:
    """Every pool with its utilisation; ``warning`` uses the pool's threshold, else the default."""
    async with engine.connect() as conn:
        configs, alloc = await _state(conn)
    groups = sorted({c.group for c in configs.values()})
    return [pool_info(configs, alloc, g, default_warning_pct) for g in groups]


async def get_pool(engine: AsyncEngine, name: str, *, default_warning_pct: float | None = 90.0) -> PoolInfo:
    async with engine.connect() as conn:
        configs, alloc = await _state(conn)
    _group(configs, name)
    return pool_info(configs, alloc, name, default_warning_pct)
