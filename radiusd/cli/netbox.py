"""``radiusd netbox sync``: export sites, routers, devices, links, prefixes and addresses to
NetBox (docs/netbox.md).

Thin: :func:`radiusd.store.netbox_view.wants` says what radiusd holds, :class:`inventory.netbox.Sync`
makes NetBox match. The token is read from standard input (``--token -``) or
``$RADIUSD_NETBOX_TOKEN``, never from the command line, and never printed.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

from radiusd.cli.context import run_store
from radiusd.cli.output import json_option, print_json

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

TOKEN_ENV = "RADIUSD_NETBOX_TOKEN"  # noqa: S105  the variable's name, not a token
GROUPS = ("sites", "devices", "cables", "prefixes", "addresses")


def _groups(text: str | None) -> tuple[str, ...]:
    if not text:
        return GROUPS
    chosen = tuple(dict.fromkeys(g.strip() for g in text.split(",") if g.strip()))
    unknown = [g for g in chosen if g not in GROUPS]
    if unknown or not chosen:
        raise click.BadParameter(
            f"{', '.join(unknown) or 'nothing'}: choose from {','.join(GROUPS)}", param_hint="--only"
        )
    return chosen


@click.group()
def netbox() -> None:
    """Export the inventory and the address plan to NetBox."""


@netbox.command("sync")
@click.option("--url", required=True, metavar="URL", help="NetBox base URL, e.g. https://netbox.example.net")
@click.option(
    "--token", "token_source", metavar="-", help=f"'-': read the API token from stdin (else ${TOKEN_ENV})."
)
@click.option("--dry-run", is_flag=True, help="Print what would change; write nothing.")
@click.option("--only", metavar="LIST", help=f"Comma-separated subset of {','.join(GROUPS)}.")
@click.option("--leases", is_flag=True, help="Also export live dynamic leases as ip-addresses (status dhcp).")
@click.option(
    "--timeout", type=click.FloatRange(0.1, 300), default=10.0, show_default=True, help="Seconds per request."
)
@json_option
def netbox_sync(
    url: str,
    token_source: str | None,
    dry_run: bool,
    only: str | None,
    leases: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """Create, update and delete NetBox objects (tagged radiusd) so they match radiusd."""
    from inventory.netbox import NetBoxError, Sync
    from radiusd.store.netbox_view import wants

    groups = _groups(only)
    if token_source == "-":  # noqa: S105  the stdin marker
        token = sys.stdin.readline().strip()
    elif token_source:
        raise click.BadParameter(
            "give '-' and the token on stdin (a token on the command line is visible to ps)",
            param_hint="--token",
        )
    else:
        token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise click.ClickException(f"no NetBox token: give --token - (stdin) or set ${TOKEN_ENV}")
    if not url.startswith(("http://", "https://")):
        raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint="--url")

    async def go(engine: AsyncEngine) -> Any:
        return await wants(engine, only=groups, leases=leases)

    desired = run_store(go)
    try:
        report = Sync(url, token, timeout=timeout).run(
            desired, dry_run=dry_run, keep=() if leases else ("lease:",)
        )
    except NetBoxError as exc:
        raise click.ClickException(str(exc)) from None
    data = report.to_json()
    if as_json:
        print_json(data)
        return
    for change in report.changes:
        sign = {"create": "+", "update": "~", "delete": "-"}[change.action]
        shown = ", ".join(f"{k}={v}" for k, v in change.fields.items() if k not in ("description",))
        click.echo(
            f"{sign} {change.endpoint} {change.our_id}"
            + (f" #{change.netbox_id}" if change.netbox_id else "")
            + (f": {shown}" if shown else "")
        )
    click.echo(
        f"{data['create']} created, {data['update']} updated, {data['delete']} deleted, "
        f"{data['unchanged']} unchanged ({data['seconds']:.2f}s)"
        + (" - dry run, nothing written" if dry_run else "")
    )


COMMANDS = (netbox,)
