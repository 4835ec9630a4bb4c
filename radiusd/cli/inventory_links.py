"""``radiusd link``: links between routers and devices."""

from __future__ import annotations

from typing import Any

import click

from radiusd.cli.inventory_common import (
    LINK_COLUMNS,
    LINK_MEDIA,
    _addressed,
    _changes,
    _clear_option,
    _show,
    _store,
    json_option,
)
from radiusd.cli.listing import render
from radiusd.cli.output import print_json

# -- links ------------------------------------------------------------------------------------


def _link_row(data: dict[str, Any]) -> dict[str, Any]:
    """A link's JSON with ``from``/``to`` columns (``name:port``) for tables."""
    row = dict(data)
    for side in ("from", "to"):
        port = data[f"{side}_port"]
        row[side] = f"{data[f'{side}_name']}:{port}" if port else data[f"{side}_name"]
    return row


@click.group()
def link() -> None:
    """Links (copper, fibre, wireless) between routers and devices."""


@link.command("add")
@click.option("--from", "from_end", required=True, metavar="NAME[:PORT]", help="One end: a router or device.")
@click.option("--to", "to_end", required=True, metavar="NAME[:PORT]", help="The other end.")
@click.option("--medium", type=click.Choice(LINK_MEDIA), required=True)
@click.option("--capacity", type=click.IntRange(min=1), metavar="MBPS", help="Capacity in Mbit/s.")
@click.option("--description", metavar="TEXT", help="Free text.")
@json_option
def link_add(
    from_end: str, to_end: str, medium: str, capacity: int | None, description: str | None, as_json: bool
) -> None:
    """Connect two routers/devices; write router:NAME or device:NAME when a name is both."""
    from radiusd.store.inventory import add_link

    record = _store(
        add_link, from_end, to_end, medium=medium, capacity_mbps=capacity, description=description
    )
    if as_json:
        print_json(record.to_json())
    else:
        row = _link_row(record.to_json())
        click.echo(f"added link #{record.id} {row['from']} - {row['to']} ({record.medium})")


@link.command("list")
@click.option("--node", metavar="NAME", help="Only links touching this router or device.")
@json_option
def link_list(node: str | None, as_json: bool) -> None:
    """List links."""
    from radiusd.store.inventory import list_links

    records = [r.to_json() for r in _store(list_links, node=node)]
    if as_json:
        print_json(records)
    else:
        render([_link_row(r) for r in records], LINK_COLUMNS, as_json=False, empty="no links")


@link.command("show")
@click.argument("link_id", metavar="ID", type=int)
@json_option
def link_show(link_id: int, as_json: bool) -> None:
    """Show link ID."""
    from radiusd.store.inventory import get_link

    _show(_addressed(_store(get_link, link_id).to_json(), f"link:{link_id}", as_json), as_json)


@link.command("remove")
@click.argument("link_id", metavar="ID", type=int)
def link_remove(link_id: int) -> None:
    """Remove link ID."""
    from radiusd.store.inventory import remove_link

    _store(remove_link, link_id)
    click.echo(f"removed link #{link_id}")


@link.command("set")
@click.argument("link_id", metavar="ID", type=int)
@click.option("--medium", type=click.Choice(LINK_MEDIA))
@click.option("--capacity", type=click.IntRange(min=1), metavar="MBPS", help="Capacity in Mbit/s.")
@click.option("--description", metavar="TEXT", help="Free text.")
@_clear_option(("capacity", "description"))
@json_option
def link_set(
    link_id: int,
    medium: str | None,
    capacity: int | None,
    description: str | None,
    clear: tuple[str, ...],
    as_json: bool,
) -> None:
    """Change link ID's medium, capacity or description."""
    from radiusd.store.inventory_edit import update_link

    given = {"medium": medium, "capacity_mbps": capacity, "description": description}
    changes = _changes(given, clear, {"capacity": "capacity_mbps", "description": "description"})
    record = _store(update_link, link_id, **changes)
    if as_json:
        print_json(record.to_json())
    else:
        click.echo(f"updated link #{record.id}")
