"""``radiusd prefix``, ``radiusd address`` and ``radiusd pd``: the prefix tree, infrastructure
addressing and the IPv6 prefix-delegation plan (docs/prefixes.md).

Thin: parse, call radiusd.store.prefixes / radiusd.store.pd, print. Utilisation figures come
from :func:`ipam.prefixes.rollup` (one rule for the CLI and the API): ``size`` (addresses the
prefix spans), ``allocated`` (taken by child prefixes and assigned addresses), ``used``
(addresses in use below it: assigned addresses and pool items, every level).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from radiusd.cli.context import run_store
from radiusd.cli.listing import render
from radiusd.cli.output import json_option, print_json, print_record

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

LIST_COLUMNS = ("prefix", "role", "site", "assigned", "pool", "allocated", "used", "description")
ROLE_CHOICE = click.Choice(("container", "infrastructure", "customer", "reserved"))
ALL_ROLES = click.Choice(("container", "pool", "infrastructure", "customer", "reserved"))
TARGET_HELP = "What it is for: link:ID, router:NAME, device:NAME, subscriber:NAME or site:NAME."


def _run(func: Any, *args: Any, **kwargs: Any) -> Any:
    async def go(engine: AsyncEngine) -> Any:
        return await func(engine, *args, **kwargs)

    return run_store(go)


def _row(info: Any, indent: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = info.to_json()
    if indent:
        data["prefix"] = "  " * info.depth + info.prefix
    data["allocated"] = f"{data['percent_allocated']:.1f}%"
    data["used"] = f"{data['percent_used']:.1f}%"
    return data


@click.group()
def prefix() -> None:
    """The prefix tree: aggregates, containers, infrastructure and customer blocks, pool ranges."""


@prefix.command("add")
@click.argument("cidr", metavar="PREFIX")
@click.option(
    "--role", type=ROLE_CHOICE, default="container", show_default=True, help="What the prefix is for."
)
@click.option("--site", metavar="NAME", help="Site it belongs to.")
@click.option("--description", metavar="TEXT")
@click.option("--for", "target", metavar="KIND:NAME", help=TARGET_HELP)
@json_option
def prefix_add(
    cidr: str, role: str, site: str | None, description: str | None, target: str | None, as_json: bool
) -> None:
    """Add PREFIX (e.g. 100.64.0.0/10) where it belongs in the tree; it adopts the prefixes
    (pool ranges too) it contains."""
    from radiusd.store.prefixes import add_prefix

    info = _run(add_prefix, cidr, role=role, site=site, description=description, target=target)
    if as_json:
        print_json(info.to_json())
    else:
        parent = f" in {info.parent}" if info.parent else ""
        click.echo(f"added {info.role} prefix {info.prefix}{parent}")


@prefix.command("list")
@click.option("--family", type=click.Choice(("4", "6")), help="Only IPv4 or IPv6.")
@click.option("--role", type=ALL_ROLES, help="Only prefixes of this role.")
@click.option("--site", metavar="NAME", help="Only prefixes of this site.")
@json_option
def prefix_list(family: str | None, role: str | None, site: str | None, as_json: bool) -> None:
    """Prefixes in tree order with their utilisation."""
    from radiusd.store.prefixes import list_prefixes

    infos = _run(list_prefixes, family=int(family) if family else None, role=role, site=site)
    if as_json:
        print_json([i.to_json() for i in infos])
    else:
        render([_row(i) for i in infos], LIST_COLUMNS, as_json=False, empty="no prefixes")


@prefix.command("show")
@click.argument("cidr", metavar="PREFIX")
@json_option
def prefix_show(cidr: str, as_json: bool) -> None:
    """One prefix: parent, children, assigned addresses, utilisation."""
    from radiusd.store.prefixes import get_prefix

    info = _run(get_prefix, cidr)
    if as_json:
        print_json(info.to_json())
        return
    data = info.to_json()
    data["addresses"] = [
        f"{a['address']} {a['assigned']}{':' + a['interface'] if a['interface'] else ''}"
        for a in data["addresses"]
    ]
    print_record(data)


@prefix.command("remove")
@click.argument("cidr", metavar="PREFIX")
def prefix_remove(cidr: str) -> None:
    """Remove PREFIX; its children move up to its parent (a pool's range: 'pool remove-range')."""
    from radiusd.store.prefixes import remove_prefix

    _run(remove_prefix, cidr)
    click.echo(f"removed prefix {cidr.strip()}")


@prefix.command("tree")
@click.argument("cidr", metavar="[PREFIX]", required=False)
@json_option
def prefix_tree(cidr: str | None, as_json: bool) -> None:
    """The tree (below PREFIX, or all of it), with utilisation per prefix and per family."""
    from radiusd.store.prefixes import family_totals, list_prefixes, nested

    async def go(engine: AsyncEngine) -> Any:
        return await list_prefixes(engine, root=cidr), await family_totals(engine)

    infos, families = run_store(go)
    if as_json:
        print_json({"prefixes": nested(infos), "families": families})
        return
    render([_row(i, indent=True) for i in infos], LIST_COLUMNS, as_json=False, empty="no prefixes")
    if infos and cidr is None:
        for fam, f in families.items():
            click.echo(
                f"{fam}: {f['size']} addresses, {f['percent_allocated']:.1f}% allocated, "
                f"{f['percent_used']:.1f}% used"
            )


@prefix.command("allocate")
@click.option("--from", "container", required=True, metavar="PREFIX", help="The container to take it from.")
@click.option("--length", required=True, type=click.IntRange(0, 128), help="Prefix length wanted (e.g. 31).")
@click.option("--for", "target", required=True, metavar="KIND:NAME", help=TARGET_HELP)
@click.option("--role", type=ROLE_CHOICE, help="Default: customer for a subscriber, container for a site, "
              "else infrastructure.")  # fmt: skip
@click.option("--description", metavar="TEXT")
@json_option
def prefix_allocate(
    container: str, length: int, target: str, role: str | None, description: str | None, as_json: bool
) -> None:
    """Take the next free prefix of --length from a container, for a purpose."""
    from radiusd.store.prefixes import allocate_prefix

    info = _run(allocate_prefix, container, length, target, role=role, description=description)
    if as_json:
        print_json(info.to_json())
    else:
        click.echo(f"allocated {info.prefix} for {info.assigned}")


@click.group()
def address() -> None:
    """Single addresses from infrastructure prefixes: loopbacks, interfaces, link ends."""


@address.command("assign")
@click.option("--from", "container", required=True, metavar="PREFIX", help="The prefix to take it from.")
@click.option("--to", "target", required=True, metavar="KIND:NAME[:IF]",
              help="router:NAME[:interface], device:NAME[:interface], link:ID, site:NAME.")  # fmt: skip
@click.option("--address", "wanted", metavar="IP", help="This address (default: the next free one).")
@click.option("--description", metavar="TEXT")
@json_option
def address_assign(
    container: str, target: str, wanted: str | None, description: str | None, as_json: bool
) -> None:
    """Assign the next free address of a prefix to a router, device or link."""
    from radiusd.store.prefixes import assign_address

    row = _run(assign_address, container, target, address=wanted, description=description)
    if as_json:
        print_json(row)
    else:
        where = f":{row['interface']}" if row["interface"] else ""
        click.echo(f"assigned {row['address']} to {row['assigned']}{where}")


@address.command("unassign")
@click.argument("ip", metavar="ADDRESS")
def address_unassign(ip: str) -> None:
    """Give an assigned address back to its prefix."""
    from radiusd.store.prefixes import unassign_address

    _run(unassign_address, ip)
    click.echo(f"unassigned {ip.strip()}")


@click.group()
def pd() -> None:
    """IPv6 prefix delegation: plan an aggregate per site, check growth."""


PLAN_COLUMNS = ("site", "block", "delegated", "wan", "wan_prefixes", "status")


@pd.command("plan")
@click.option("--aggregate", required=True, metavar="PREFIX", help="e.g. 2001:db8::/32")
@click.option("--per-site", required=True, metavar="/LEN", help="Block per site, on a nibble (e.g. /40).")
@click.option("--delegate", required=True, metavar="/LEN", help="Prefix per subscriber (e.g. /56).")
@click.option("--sites", metavar="A,B,...", help="Sites to plan (default: every site).")
@click.option("--apply", "apply_", is_flag=True, help="Create the containers and the PD and WAN pools.")
@json_option
def pd_plan(
    aggregate: str, per_site: str, delegate: str, sites: str | None, apply_: bool, as_json: bool
) -> None:
    """Carve --aggregate into a block per site: delegated prefixes from the block, /64 WAN
    prefixes from the aggregate's last block. Shows the plan; --apply creates it, in the pool
    named after each site (created if missing: name your site's CGNAT pool after the site to
    make it dual-stack)."""
    from radiusd.store.pd import apply_plan, make_plan

    names = [s.strip() for s in sites.split(",") if s.strip()] if sites else None

    async def go(engine: AsyncEngine) -> Any:
        plan = await make_plan(engine, aggregate, per_site, delegate, names)
        return await apply_plan(engine, plan) if apply_ else plan

    plan = run_store(go)
    if as_json:
        print_json({**plan.to_json(), "applied": apply_})
        return
    render([s.to_json() for s in plan.sites], PLAN_COLUMNS, as_json=False, empty="no sites")
    click.echo(
        f"{plan.aggregate}: /{plan.per_site} per site, /{plan.delegate} per subscriber, "
        f"WAN /64s from {plan.wan_block}; {plan.free_blocks} blocks left"
    )
    if apply_:
        done = [s.site for s in plan.sites if s.status == "new"]
        click.echo("applied: IPv6 ranges added to pool(s) " + (", ".join(done) or "none (nothing new)"))


GROWTH_COLUMNS = (
    "site",
    "pool",
    "delegated",
    "can_take",
    "new_last_30_days",
    "per_day",
    "days_left",
    "first",
)


@pd.command("growth")
@json_option
def pd_growth(as_json: bool) -> None:
    """Per site: how many more subscribers it can take, and which runs out first at the pace
    of the last 30 days."""
    from radiusd.store.pd import growth

    rows = _run(growth)
    render(rows, GROWTH_COLUMNS, as_json=as_json, empty="no sites with a delegated-prefix pool")


def addressing(target: str) -> dict[str, Any]:
    """What ``target`` holds (prefixes, addresses) for the ``show`` pages of routers, devices,
    links and subscribers."""
    from radiusd.store.prefixes import assigned_to

    return _run(assigned_to, target)  # type: ignore[no-any-return]


def addressing_text(held: dict[str, Any]) -> list[str]:
    """``10.255.0.0/31 (infrastructure)``, ``10.255.255.1 on lo0 (from 10.255.255.0/24)``."""
    out = [f"{p['prefix']} ({p['role']})" for p in held["prefixes"]]
    out += [
        f"{a['address']}{' on ' + a['interface'] if a['interface'] else ''} (from {a['prefix']})"
        for a in held["addresses"]
    ]
    return out


COMMANDS = (prefix, address, pd)
