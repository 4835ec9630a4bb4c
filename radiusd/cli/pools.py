"""``radiusd pool``: address pools, their ranges, reservations and utilisation.

Input is checked with :mod:`ipam.ranges` before the database is opened (malformed ranges,
overlaps among the given ranges, a gateway or exclusion outside them), so a refused command
never writes anything; overlaps with other pools and live leases are refused by the store.

Utilisation (``pool list``/``pool show``): per pool family (IPv4, IPv6 WAN, delegated, never
added together) and per network ``total``, ``allocated`` (offered or leased), ``reserved``,
``free`` and ``percent_used``; ``warning`` is true at or above the pool's ``--warn-at`` or else
the configured ``utilisation_warning_pct``. The figures come from the store, which computes
them with :func:`ipam.utilisation.utilisation`, as the admin API and the metrics do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from radiusd.cli.context import get_context, run_store
from radiusd.cli.listing import empty_in_database
from radiusd.cli.output import (
    fail,
    json_option,
    print_json,
    print_record,
    print_table,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")

#: Columns of ``pool list`` (one row per pool) and of the networks table of ``pool show``.
LIST_COLUMNS = ("name", "kind", "ranges", "nas", "total", "allocated", "reserved", "free", "used", "warning")
RANGE_COLUMNS = ("range", "kind", "total", "allocated", "reserved", "free", "used", "warning")
KIND_COLUMNS = ("kind", "total", "allocated", "reserved", "free", "used", "warning")
WARNING_MARK = "WARNING"

range_help = "IPv4 prefix (10.64.0.0/16) or single address; repeatable."
ipv6_help = "IPv6 WAN prefix cut into /64s (Framed-IPv6-Prefix): 2001:db8::/48 or 2001:db8::/48/64."
pd_help = "Delegated prefix pool (Delegated-IPv6-Prefix): 2001:db8:100::/40/56 (default /56)."


def run(func: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """:func:`run_store`, with IPAM refusals (overlap, live leases) as one-line errors."""
    from ipam.errors import IpamError

    try:
        return run_store(func)
    except IpamError as exc:
        fail(str(exc))


def checked(
    check: Callable[..., T], *args: Any, message: Callable[[Exception], str] = str, **kwargs: Any
) -> T:
    """``check(*args, **kwargs)``, an IPAM refusal becoming a one-line error (exit 1)."""
    from ipam.errors import IpamError

    try:
        return check(*args, **kwargs)
    except IpamError as exc:
        fail(message(exc))


# --- input checks: the domain's (ipam.edits), run before the database is opened -------------------


def check_address(text: str) -> str:
    """Canonical text of one IPv4 address or IPv6 address/prefix (:func:`ipam.edits.canonical_address`)."""
    from ipam.edits import canonical_address

    return canonical_address(text)


def check_gateway(gateway: str | None, ranges: Sequence[str]) -> None:
    """Refuse a gateway that is not one IPv4 address inside one of ``ranges``."""
    from ipam.edits import gateway_address

    if gateway is not None:
        gateway_address(gateway, ranges, "any --range of the pool")


def remove_hint(name: str) -> Callable[[Exception], str]:
    """A refused range removal's message with where to look (the ranges' leases)."""
    from ipam.errors import UnknownRange

    def message(exc: Exception) -> str:
        return str(exc) if isinstance(exc, UnknownRange) else f"{exc} (radiusd lease list --pool {name})"

    return message


# --- utilisation figures -----------------------------------------------------------------------


#: JSON field of each family's figures in a pool object.
FAMILY_FIELDS = {"ipv4": "ipv4", "ipv6-wan": "ipv6_wan", "ipv6-pd": "ipv6_pd"}
#: What one item of a family is, for messages.
FAMILY_ITEMS = {"ipv4": "IPv4 addresses", "ipv6-wan": "IPv6 WAN prefixes", "ipv6-pd": "delegated prefixes"}


def plain(info: Any) -> dict[str, Any]:
    """A store PoolInfo as JSON-ready data, its ranges included."""
    data: dict[str, Any] = info.to_json()
    data["ranges"] = [r if isinstance(r, Mapping) else r.to_json() for r in data.get("ranges", ())]
    return data


def pool_object(info: Mapping[str, Any], default_warn: float) -> dict[str, Any]:
    """The ``--json`` object of one pool: the store's fields (figures per family in ``ipv4``,
    ``ipv6_wan``, ``ipv6_pd``, computed by :func:`ipam.utilisation.utilisation`, as the API
    shows them), ``warn_at`` (the threshold in force) and ``kinds``: the same figures as a list
    with a ``kind`` each."""
    data = dict(info)
    if data.get("warn_at") is None:
        data["warn_at"] = default_warn
    data["kinds"] = [
        {"kind": kind, **data[key]} for kind, key in FAMILY_FIELDS.items() if data.get(key) is not None
    ]
    return data


def _used(data: Mapping[str, Any], warn_at: float) -> dict[str, Any]:
    """``used`` as a percentage and a visible ``warning`` cell."""
    return {
        "used": f"{float(data['percent_used']):.1f}%",
        "warning": f"{WARNING_MARK} >= {warn_at:g}%" if data["warning"] else "",
    }


def list_rows(pools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``pool list`` table rows: one per pool and kind of item (a pool without ranges: one)."""
    rows: list[dict[str, Any]] = []
    for p in pools:
        warn_at = float(p["warn_at"])
        empty = {"kind": "-", "total": 0, "allocated": 0, "reserved": 0, "free": 0, "percent_used": 0.0}
        for k in p["kinds"] or [{**empty, "warning": False}]:
            specs = [r["range"] for r in p["ranges"] if r["kind"] == k["kind"]]
            rows.append({"name": p["name"], "nas": p["nas"], "ranges": specs, **k, **_used(k, warn_at)})
    return rows


def default_warn_pct() -> float:
    """``utilisation_warning_pct`` of the configuration (90 unless configured)."""
    return float(get_context().settings().utilisation_warning_pct)


def family_summary(data: Mapping[str, Any]) -> str:
    """``254 IPv4 addresses, 65536 IPv6 WAN prefixes``: a pool's size, family by family."""
    return ", ".join(f"{k['total']} {FAMILY_ITEMS[k['kind']]}" for k in data["kinds"]) or "no items"


def warn_lines(pools: Iterable[Mapping[str, Any]]) -> list[str]:
    """One stderr warning per pool and kind at or above the pool's threshold."""
    return [
        f"warning: pool {p['name']!r} {k['kind']} is {float(k['percent_used']):.1f}% used "
        f"(threshold {p['warn_at']:g}%)"
        for p in pools
        for k in p["kinds"]
        if k["warning"]
    ]


# --- commands ----------------------------------------------------------------------------------


@click.group()
def pool() -> None:
    """Address pools: IPv4 ranges, IPv6 WAN and delegated prefixes, reservations, utilisation."""


def ipv6_options(func: Any) -> Any:
    """``--ipv6-prefix`` and ``--delegated`` (both repeatable)."""
    func = click.option("--delegated", multiple=True, metavar="PREFIX", help=pd_help)(func)
    ipv6 = click.option("--ipv6-prefix", "ipv6_prefixes", multiple=True, metavar="PREFIX", help=ipv6_help)
    return ipv6(func)


@pool.command("add")
@click.argument("name")
@click.option("--range", "ranges", multiple=True, metavar="CIDR", help=range_help)
@ipv6_options
@click.option("--nas", metavar="NAME", help="Use this pool only for subscribers of this NAS.")
@click.option("--gateway", metavar="IP", help="Gateway address inside a --range (never handed out).")
@click.option(
    "--exclude", multiple=True, metavar="IP|RANGE", help="IPv4 address, prefix or a-b span never handed out."
)
@click.option("--fallback", metavar="POOL", help="Existing pool tried when this one is exhausted.")
@click.option(
    "--warn-at",
    type=click.FloatRange(0, 100, min_open=True),
    metavar="PCT",
    help="Utilisation warning threshold in percent (default: utilisation_warning_pct of the config).",
)
@json_option
def pool_add(
    name: str,
    ranges: tuple[str, ...],
    ipv6_prefixes: tuple[str, ...],
    delegated: tuple[str, ...],
    nas: str | None,
    gateway: str | None,
    exclude: tuple[str, ...],
    fallback: str | None,
    warn_at: float | None,
    as_json: bool,
) -> None:
    """Add pool NAME (at least one --range, --ipv6-prefix or --delegated)."""
    if not (ranges or ipv6_prefixes or delegated):
        raise click.UsageError("give at least one --range, --ipv6-prefix or --delegated")
    if any(":" in spec for spec in ranges):
        fail("--range takes IPv4 ranges; use --ipv6-prefix or --delegated for IPv6")
    from ipam.edits import check_ranges, excluded_addresses

    checked(check_ranges, ranges, ipv6_prefixes, delegated)
    checked(check_gateway, gateway, ranges)
    excluded = checked(excluded_addresses, exclude, gateway)
    default = default_warn_pct()

    async def go(engine: AsyncEngine) -> Any:
        from radiusd.store.pools import add_pool

        return await add_pool(
            engine,
            name,
            ranges=ranges,
            ipv6_prefixes=ipv6_prefixes,
            delegated=delegated,
            nas=nas,
            fallback=fallback,
            warning_pct=warn_at,
            exclude=excluded,
            default_warning_pct=default,
        )

    from radiusd.cli.progress import progress

    with progress(f"adding pool {name!r}"):  # a large range takes a while to check
        data = pool_object(plain(run(go)), default)
    if as_json:
        print_json(data)
        return
    specs = ", ".join(r["range"] for r in data["ranges"])
    click.echo(f"added pool {data['name']!r} ({specs}; {family_summary(data)})")


def _show_pool(data: Mapping[str, Any]) -> None:
    """``pool show`` as text: the pool's settings, its utilisation per kind, then per range."""
    warn_at = float(data["warn_at"])
    own = data.get("warning_pct") is not None
    print_record(
        {
            "name": data["name"],
            "nas": data.get("nas"),
            "fallback": data.get("fallback"),
            "warn_at": f"{warn_at:g}%" + ("" if own else " (default)"),
            "warning": WARNING_MARK if data["warning"] else "",
        }
    )
    click.echo("")
    print_table([{**k, **_used(k, warn_at)} for k in data["kinds"]], KIND_COLUMNS, empty="no ranges")
    if data["ranges"]:
        click.echo("")
        print_table([{**r, **_used(r, warn_at)} for r in data["ranges"]], RANGE_COLUMNS, empty="")


@pool.command("list")
@json_option
def pool_list(as_json: bool) -> None:
    """List pools and their utilisation (WARNING above the threshold).

    JSON: an array of pool objects, as `pool show --json` prints them.
    """
    from radiusd.store.pools import list_pools

    default = default_warn_pct()

    async def go(engine: AsyncEngine) -> list[Any]:
        return list(await list_pools(engine, default_warning_pct=default))

    pools = [pool_object(plain(info), default) for info in run(go)]
    if as_json:
        print_json(pools)
    else:
        print_table(list_rows(pools), LIST_COLUMNS, empty=empty_in_database("no pools"))
    for line in warn_lines(pools):
        click.echo(line, err=True)


@pool.command("show")
@click.argument("name")
@json_option
def pool_show(name: str, as_json: bool) -> None:
    """Show pool NAME: its settings and the utilisation of each range.

    JSON: an object with name, nas, fallback, warning_pct (the pool's own threshold or null),
    warn_at (the threshold in force), warning (any family at or above warn_at), ranges:
    [{kind, range, total, allocated, reserved, free, percent_used, warning}], ipv4, ipv6_wan,
    ipv6_pd: {total, allocated, reserved, free, held, used, percent_used, warning} per family
    (null when absent; IPv6 counts are prefixes), kinds: the same as a list, and total,
    allocated, reserved, free, held over all items with percent_used of the fullest family.
    """
    from radiusd.store.pools import get_pool

    default = default_warn_pct()

    async def go(engine: AsyncEngine) -> Any:
        return await get_pool(engine, name, default_warning_pct=default)

    data = pool_object(plain(run(go)), default)
    if as_json:
        print_json(data)
    else:
        _show_pool(data)
    for line in warn_lines([data]):
        click.echo(line, err=True)


@pool.command("add-range")
@click.argument("name")
@click.option("--range", "ranges", multiple=True, metavar="CIDR", help=range_help)
@ipv6_options
def pool_add_range(
    name: str, ranges: tuple[str, ...], ipv6_prefixes: tuple[str, ...], delegated: tuple[str, ...]
) -> None:
    """Add ranges to pool NAME (refused if one overlaps any pool's range)."""
    specs = [("ipv4", s) for s in ranges] + [("ipv6-wan", s) for s in ipv6_prefixes]
    specs += [("ipv6-pd", s) for s in delegated]
    if not specs:
        raise click.UsageError("give at least one --range, --ipv6-prefix or --delegated")
    from ipam.edits import check_new_ranges, check_ranges

    checked(check_ranges, ranges, ipv6_prefixes, delegated)

    async def go(engine: AsyncEngine) -> None:
        from radiusd.store.pools import add_range, get_pool, list_pools

        await get_pool(engine, name)  # unknown pool: refused before anything is written
        # all ranges checked together first, so that none is added unless all can be
        checked(check_new_ranges, await list_pools(engine), name, specs)
        for kind, spec in specs:
            await add_range(engine, name, spec, kind)

    run(go)
    click.echo(f"added {', '.join(s for _, s in specs)} to pool {name!r}")


@pool.command("remove-range")
@click.argument("name")
@click.option("--range", "ranges", multiple=True, required=True, metavar="RANGE", help=range_help)
def pool_remove_range(name: str, ranges: tuple[str, ...]) -> None:
    """Remove ranges (IPv4 or IPv6, as shown by `pool show`) from pool NAME.

    Refused while an address or prefix in one of them is offered, leased or reserved.
    """

    async def go(engine: AsyncEngine) -> None:
        from ipam.edits import ranges_to_remove
        from radiusd.store.pools import get_pool, remove_range

        # all ranges checked together first, so that none is removed unless all can be
        found = checked(ranges_to_remove, await get_pool(engine, name), ranges, message=remove_hint(name))
        for r in found:
            await remove_range(engine, name, r.range)

    run(go)
    click.echo(f"removed {', '.join(ranges)} from pool {name!r}")


@pool.command("remove")
@click.argument("name")
def pool_remove(name: str) -> None:
    """Remove pool NAME (refused while it has live leases or is a fallback)."""

    async def go(engine: AsyncEngine) -> None:
        from radiusd.store.pools import remove_pool

        await remove_pool(engine, name)

    run(go)
    click.echo(f"removed pool {name!r}")


@pool.command("reserve")
@click.argument("address", metavar="IP")
@click.option("--user", metavar="U", help="Reserve for this subscriber (default: for nobody).")
@json_option
def pool_reserve(address: str, user: str | None, as_json: bool) -> None:
    """Reserve IP (or an IPv6 prefix): handed out to nobody but --user."""
    address = checked(check_address, address)

    async def go(engine: AsyncEngine) -> Any:
        from radiusd.store.pool_edit import reserve_for

        return await reserve_for(engine, address, user)

    info = run(go)
    if as_json:
        print_json(info.to_json())
    else:
        click.echo(f"reserved {info.address} in pool {info.pool!r}" + (f" for {user!r}" if user else ""))


@pool.command("unreserve")
@click.argument("address", metavar="IP")
@json_option
def pool_unreserve(address: str, as_json: bool) -> None:
    """Lift the reservation of IP (or an IPv6 prefix)."""
    address = checked(check_address, address)

    async def go(engine: AsyncEngine) -> Any:
        from radiusd.store.pools import unreserve_address

        return await unreserve_address(engine, address)

    info = run(go)
    if as_json:
        print_json(info.to_json())
    else:
        click.echo(f"unreserved {info.address} in pool {info.pool!r}")


@pool.command("set")
@click.argument("name")
@click.option(
    "--add-range", "add_ranges", multiple=True, metavar="CIDR", help="IPv4 range to add; repeatable."
)
@click.option("--add-ipv6-prefix", "add_ipv6", multiple=True, metavar="PREFIX", help=ipv6_help)
@click.option("--add-delegated", "add_pd", multiple=True, metavar="PREFIX", help=pd_help)
@click.option(
    "--remove-range",
    "remove_ranges",
    multiple=True,
    metavar="RANGE",
    help="Range to remove (as `pool show` shows it).",
)
@click.option("--nas", metavar="NAME", help="Use the pool only for this NAS ('none' for every NAS).")
@click.option("--fallback", metavar="POOL", help="Pool tried when this one is exhausted ('none' clears it).")
@click.option(
    "--warn-at", metavar="PCT", help="Utilisation warning threshold in percent ('none': the default)."
)
@click.option("--gateway", metavar="IP", help="Address of the pool never handed out (reserved for nobody).")
@json_option
def pool_set(
    name: str,
    add_ranges: tuple[str, ...],
    add_ipv6: tuple[str, ...],
    add_pd: tuple[str, ...],
    remove_ranges: tuple[str, ...],
    nas: str | None,
    fallback: str | None,
    warn_at: str | None,
    gateway: str | None,
    as_json: bool,
) -> None:
    """Change pool NAME: all of the changes or none (the running daemon applies them)."""
    changes: dict[str, Any] = {}
    for key, value in (("nas", nas), ("fallback", fallback)):
        if value is not None:
            changes[key] = None if value.strip().lower() in ("", "none") else value
    if warn_at is not None:
        changes["warning_pct"] = _percent(warn_at)
    adds = [("ipv4", s) for s in add_ranges] + [("ipv6-wan", s) for s in add_ipv6]
    adds += [("ipv6-pd", s) for s in add_pd]
    if not (changes or adds or remove_ranges or gateway):
        raise click.UsageError("nothing to change: give at least one option")
    default = default_warn_pct()

    async def go(engine: AsyncEngine) -> Any:
        from radiusd.store.pool_edit import edit_pool
        from radiusd.store.pools import get_pool

        await edit_pool(
            engine, name, add_ranges=adds, remove_ranges=remove_ranges, gateway=gateway, **changes
        )
        return await get_pool(engine, name, default_warning_pct=default)

    data = pool_object(plain(run(go)), default)
    if as_json:
        print_json(data)
    else:
        specs = ", ".join(r["range"] for r in data["ranges"]) or "no ranges"
        click.echo(f"updated pool {data['name']!r} ({specs}; {data['total']} items)")


def _percent(text: str) -> float | None:
    if text.strip().lower() in ("", "none"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a percentage or 'none'", param_hint="--warn-at") from None
    if not 0 < value <= 100:
        raise click.BadParameter(f"{text!r} is not in (0, 100]", param_hint="--warn-at")
    return value
