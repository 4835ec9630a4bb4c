"""``radiusd site``: sites (POPs, towers, data centres) the routers and devices stand at."""

from __future__ import annotations

import click

from radiusd.cli.inventory_common import (
    SITE_COLUMNS,
    SITE_KINDS,
    _changes,
    _clear_option,
    _list,
    _show,
    _store,
    _updated,
    json_option,
)
from radiusd.cli.output import print_json

# -- sites ------------------------------------------------------------------------------------


@click.group()
def site() -> None:
    """Sites: POPs, towers, data centres, customer premises."""


@site.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(SITE_KINDS), default="pop", show_default=True)
@click.option("--address", metavar="TEXT", help="Postal address.")
@click.option("--latitude", type=click.FloatRange(-90, 90), metavar="DEG", help="WGS 84, with --longitude.")
@click.option("--longitude", type=click.FloatRange(-180, 180), metavar="DEG", help="WGS 84, with --latitude.")
@click.option("--description", metavar="TEXT", help="Free text.")
@json_option
def site_add(
    name: str,
    kind: str,
    address: str | None,
    latitude: float | None,
    longitude: float | None,
    description: str | None,
    as_json: bool,
) -> None:
    """Add a site NAME."""
    from radiusd.store.inventory import add_site

    record = _store(
        add_site,
        name,
        kind=kind,
        address=address,
        latitude=latitude,
        longitude=longitude,
        description=description,
    )
    if as_json:
        print_json(record.to_json())
    else:
        click.echo(f"added site {record.name!r} ({record.kind})")


@site.command("list")
@json_option
def site_list(as_json: bool) -> None:
    """List the sites."""
    from radiusd.store.inventory import list_sites

    _list([r.to_json() for r in _store(list_sites)], SITE_COLUMNS, as_json, "no sites")


@site.command("show")
@click.argument("name")
@json_option
def site_show(name: str, as_json: bool) -> None:
    """Show one site."""
    from radiusd.store.inventory import get_site

    _show(_store(get_site, name).to_json(), as_json)


@site.command("remove")
@click.argument("name")
def site_remove(name: str) -> None:
    """Remove a site; refused while routers, devices or pools are placed there."""
    from radiusd.store.inventory import remove_site

    _store(remove_site, name)
    click.echo(f"removed site {name!r}")


SITE_CLEAR = {"address": "address", "coordinates": "coordinates", "description": "description"}


@site.command("set")
@click.argument("name")
@click.option("--kind", type=click.Choice(SITE_KINDS))
@click.option("--address", metavar="TEXT", help="Postal address.")
@click.option("--latitude", type=click.FloatRange(-90, 90), metavar="DEG", help="WGS 84, with --longitude.")
@click.option("--longitude", type=click.FloatRange(-180, 180), metavar="DEG", help="WGS 84, with --latitude.")
@click.option("--description", metavar="TEXT", help="Free text.")
@_clear_option(tuple(SITE_CLEAR))
@json_option
def site_set(
    name: str,
    kind: str | None,
    address: str | None,
    latitude: float | None,
    longitude: float | None,
    description: str | None,
    clear: tuple[str, ...],
    as_json: bool,
) -> None:
    """Change site NAME."""
    from radiusd.store.inventory_edit import update_site

    given = {"kind": kind, "address": address, "latitude": latitude, "longitude": longitude,
             "description": description}  # fmt: skip
    changes = _changes(given, tuple(c for c in clear if c != "coordinates"), SITE_CLEAR)
    if "coordinates" in clear:
        if latitude is not None or longitude is not None:
            raise click.UsageError("--clear coordinates and --latitude/--longitude exclude each other")
        changes.update(latitude=None, longitude=None)
    _updated(_store(update_site, name, **changes), "site", as_json)


@site.command("rename")
@click.argument("name")
@click.argument("new_name")
@json_option
def site_rename(name: str, new_name: str, as_json: bool) -> None:
    """Rename site NAME (its routers, devices and pools stay there)."""
    from radiusd.store.inventory_edit import update_site

    _updated(_store(update_site, name, new_name=new_name), "site", as_json)
