"""``radiusd sector``: a router's wireless sectors."""

from __future__ import annotations

import click

from radiusd.cli.inventory_common import (
    SECTOR_COLUMNS,
    _changes,
    _clear_option,
    _list,
    _show,
    _store,
    _updated,
    json_option,
)
from radiusd.cli.output import print_json

# -- sectors ----------------------------------------------------------------------------------


@click.group()
def sector() -> None:
    """Wireless sectors of routers (named per router)."""


@sector.command("add")
@click.argument("router_name", metavar="ROUTER")
@click.argument("name")
@click.option("--frequency", type=click.IntRange(min=1), metavar="MHZ", help="Centre frequency in MHz.")
@click.option("--azimuth", type=click.IntRange(0, 359), metavar="DEG", help="Direction, 0-359 degrees.")
@click.option("--beamwidth", type=click.IntRange(1, 360), metavar="DEG", help="Beam width in degrees.")
@click.option("--ssid", metavar="SSID", help="SSID (up to 32 bytes).")
@click.option("--description", metavar="TEXT", help="Free text.")
@json_option
def sector_add(
    router_name: str,
    name: str,
    frequency: int | None,
    azimuth: int | None,
    beamwidth: int | None,
    ssid: str | None,
    description: str | None,
    as_json: bool,
) -> None:
    """Add sector NAME to ROUTER."""
    from radiusd.store.inventory import add_sector

    record = _store(
        add_sector,
        router_name,
        name,
        frequency_mhz=frequency,
        azimuth_deg=azimuth,
        beamwidth_deg=beamwidth,
        ssid=ssid,
        description=description,
    )
    if as_json:
        print_json(record.to_json())
    else:
        click.echo(f"added sector {record.name!r} to router {record.router!r}")


@sector.command("list")
@click.option("--router", "router_name", metavar="ROUTER", help="Only this router's sectors.")
@json_option
def sector_list(router_name: str | None, as_json: bool) -> None:
    """List sectors."""
    from radiusd.store.inventory import list_sectors

    records = [r.to_json() for r in _store(list_sectors, router=router_name)]
    _list(records, SECTOR_COLUMNS, as_json, "no sectors")


@sector.command("show")
@click.argument("router_name", metavar="ROUTER")
@click.argument("name")
@json_option
def sector_show(router_name: str, name: str, as_json: bool) -> None:
    """Show sector NAME of ROUTER."""
    from radiusd.store.inventory import get_sector

    _show(_store(get_sector, router_name, name).to_json(), as_json)


@sector.command("remove")
@click.argument("router_name", metavar="ROUTER")
@click.argument("name")
def sector_remove(router_name: str, name: str) -> None:
    """Remove sector NAME of ROUTER."""
    from radiusd.store.inventory import remove_sector

    _store(remove_sector, router_name, name)
    click.echo(f"removed sector {name!r} of router {router_name!r}")


SECTOR_CLEAR = {"frequency": "frequency_mhz", "azimuth": "azimuth_deg", "beamwidth": "beamwidth_deg",
                "ssid": "ssid", "description": "description"}  # fmt: skip


@sector.command("set")
@click.argument("router_name", metavar="ROUTER")
@click.argument("name")
@click.option("--rename", "new_name", metavar="NEW", help="New name of the sector.")
@click.option("--frequency", type=click.IntRange(min=1), metavar="MHZ", help="Centre frequency in MHz.")
@click.option("--azimuth", type=click.IntRange(0, 359), metavar="DEG", help="Direction, 0-359 degrees.")
@click.option("--beamwidth", type=click.IntRange(1, 360), metavar="DEG", help="Beam width in degrees.")
@click.option("--ssid", metavar="SSID", help="SSID (up to 32 bytes).")
@click.option("--description", metavar="TEXT", help="Free text.")
@_clear_option(tuple(SECTOR_CLEAR))
@json_option
def sector_set(
    router_name: str,
    name: str,
    new_name: str | None,
    frequency: int | None,
    azimuth: int | None,
    beamwidth: int | None,
    ssid: str | None,
    description: str | None,
    clear: tuple[str, ...],
    as_json: bool,
) -> None:
    """Change (or --rename) sector NAME of ROUTER."""
    from radiusd.store.inventory_edit import update_sector

    given = {"new_name": new_name, "frequency_mhz": frequency, "azimuth_deg": azimuth,
             "beamwidth_deg": beamwidth, "ssid": ssid, "description": description}  # fmt: skip
    changes = _changes(given, clear, SECTOR_CLEAR)
    _updated(_store(update_sector, router_name, name, **changes), "sector", as_json)
