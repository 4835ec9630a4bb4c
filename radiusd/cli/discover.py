"""``radiusd discover lldp``: poll LLDP neighbours and compare them with the inventory.

Thin: :func:`inventory.discovery_run.discover` does the work (docs/discovery.md). Without
``--apply`` nothing is written; with it, new devices and links are added marked
``source=lldp`` and stale links that discovery made are removed. A poll that fails is one line
under ``errors`` and the exit status is 1 (the rest is still shown, and applied with
``--apply``: a failed agent contributes nothing).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

from radiusd.cli.context import get_context, run_store
from radiusd.cli.output import EXIT_ERROR, PROG, json_option, print_json

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

COMMUNITY_ENV = "RADIUSD_DISCOVERY_SNMP_COMMUNITY"


@click.group()
def discover() -> None:
    """Discover the network: LLDP neighbours of routers and managed devices."""


def _community(path: str | None) -> str | None:
    if path == "-":
        return sys.stdin.readline().strip() or None
    if path:
        try:
            if os.stat(path).st_mode & 0o044:
                click.echo(f"{PROG}: warning: {path} is readable by other users (chmod 600 it)", err=True)
            with open(path, encoding="utf-8") as handle:
                return handle.readline().strip() or None
        except OSError as exc:
            raise click.ClickException(f"cannot read the community file {path}: {exc.strerror}") from None
    return get_context().settings().discovery_snmp_community or os.environ.get(COMMUNITY_ENV) or None


def _print(data: dict[str, Any]) -> None:
    click.echo(f"polled: {len(data['polled'])}, in {data['seconds']:.2f}s")
    for line in data["polled"]:
        click.echo(f"  {line}")
    for title, key in (("skipped", "skipped"), ("errors", "errors")):
        for line in data[key]:
            click.echo(f"{title}: {line}")
    click.echo(f"links confirmed: {len(data['seen_links'])}")
    for d in data["new_devices"]:
        click.echo(
            f"+ device {d['name']} ({d['kind']}, chassis {d['chassis_id']}, "
            f"address {d['address'] or '-'}, site {d['site'] or '-'}) seen by {d['seen_by']}"
        )
    for link in data["new_links"]:
        click.echo(
            f"+ link {link['a_kind']}:{link['a_name']}:{link['a_port']} - "
            f"{link['b_kind']}:{link['b_name']}:{link['b_port']}"
        )
    for s in data["stale_links"]:
        click.echo(f"- link #{s['id']} {s['a']} - {s['b']} ({s['source']}): LLDP no longer sees it")
    for n in data["unmatched"]:
        click.echo(
            f"? {n['seen_by']}:{n['local_port']} hears {n['sys_name'] or '(no name)'} "
            f"chassis {n['chassis_id']} port {n['port']} {','.join(n['addresses'])}"
        )
    applied = data.get("applied")
    if applied is not None:
        click.echo(
            f"applied: {len(applied['devices'])} devices, {len(applied['links'])} links added, "
            f"{len(applied['removed_links'])} links removed"
        )
        for line in applied["skipped"]:
            click.echo(f"not applied: {line}")
    elif data["new_devices"] or data["new_links"] or data["stale_links"]:
        click.echo("nothing written (--apply writes it)")


@discover.command("lldp")
@click.option("--site", metavar="NAME", help="Poll only the routers and devices at this site.")
@click.option(
    "--apply", "do_apply", is_flag=True, help="Write new devices and links, drop stale discovered links."
)
@click.option(
    "--router-community-file",
    metavar="FILE",
    help="SNMP v2c community for routers without RouterOS API credentials ('-': stdin); "
    f"default: setting discovery_snmp_community or ${COMMUNITY_ENV}.",
)
@click.option(
    "--timeout", type=click.FloatRange(0.1, 60), default=2.0, show_default=True, help="Seconds per SNMP try."
)
@click.option("--retries", type=click.IntRange(0, 5), default=1, show_default=True)
@json_option
def discover_lldp(
    site: str | None,
    do_apply: bool,
    router_community_file: str | None,
    timeout: float,
    retries: int,
    as_json: bool,
) -> None:
    """Poll LLDP neighbours (SNMP LLDP-MIB, RouterOS /ip/neighbor) and propose inventory changes."""
    from inventory.discovery_run import Options
    from inventory.discovery_run import discover as run

    options = Options(
        site=site, router_community=_community(router_community_file), timeout=timeout, retries=retries
    )

    async def go(engine: AsyncEngine) -> dict[str, Any]:
        return (await run(engine, options, apply=do_apply)).to_json()

    data = run_store(go)
    if as_json:
        print_json(data)
    else:
        _print(data)
    if data["errors"]:
        sys.exit(EXIT_ERROR)


COMMANDS = (discover,)
