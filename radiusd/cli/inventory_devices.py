"""``radiusd device``: managed devices (switches, OLTs, access points...) reached over SNMP."""

from __future__ import annotations

from typing import Any

import click

from radiusd.cli.inventory_common import (
    DEVICE_COLUMNS,
    DEVICE_KINDS,
    SNMP_AUTH_PROTOCOLS,
    SNMP_PRIV_PROTOCOLS,
    SNMP_VERSIONS,
    _addressed,
    _changes,
    _clear_option,
    _list,
    _show,
    _store,
    _updated,
    json_option,
)
from radiusd.cli.output import print_json
from radiusd.cli.secrets import secret_option

# -- devices ----------------------------------------------------------------------------------


@click.group()
def device() -> None:
    """Managed devices (SNMP): switches, OLTs, access points, UPSes..."""


@device.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(DEVICE_KINDS), default="other", show_default=True)
@click.option("--site", metavar="SITE", help="The site it stands at.")
@click.option("--address", metavar="IP", help="Management address (IP or host name).")
@click.option("--snmp-version", type=click.Choice(SNMP_VERSIONS), default="v2c", show_default=True)
@click.option("--snmp-port", type=click.IntRange(1, 65535), default=161, show_default=True)
@secret_option("--snmp-community", metavar="C", help="v1/v2c community.")
@click.option("--snmp-user", metavar="U", help="v3 user.")
@click.option("--snmp-auth-protocol", type=click.Choice(SNMP_AUTH_PROTOCOLS, case_sensitive=False))
@secret_option("--snmp-auth-key", metavar="K", help="v3 authentication passphrase.")
@click.option("--snmp-priv-protocol", type=click.Choice(SNMP_PRIV_PROTOCOLS, case_sensitive=False))
@secret_option("--snmp-priv-key", metavar="K", help="v3 privacy passphrase.")
@click.option("--description", metavar="TEXT", help="Free text.")
@json_option
def device_add(
    name: str,
    kind: str,
    site: str | None,
    address: str | None,
    snmp_version: str,
    snmp_port: int,
    snmp_community: str | None,
    snmp_user: str | None,
    snmp_auth_protocol: str | None,
    snmp_auth_key: str | None,
    snmp_priv_protocol: str | None,
    snmp_priv_key: str | None,
    description: str | None,
    as_json: bool,
) -> None:
    """Add a managed device NAME."""
    from radiusd.store.inventory import add_device

    record = _store(
        add_device,
        name,
        kind=kind,
        site=site,
        address=address,
        snmp_version=snmp_version,
        snmp_port=snmp_port,
        snmp_community=snmp_community,
        snmp_user=snmp_user,
        snmp_auth_protocol=snmp_auth_protocol,
        snmp_auth_key=snmp_auth_key,
        snmp_priv_protocol=snmp_priv_protocol,
        snmp_priv_key=snmp_priv_key,
        description=description,
    )
    if as_json:
        print_json(record.to_json())
    else:
        click.echo(f"added device {record.name!r} ({record.kind})")


@device.command("list")
@click.option("--site", metavar="SITE", help="Only the devices of this site.")
@json_option
def device_list(site: str | None, as_json: bool) -> None:
    """List the managed devices."""
    from radiusd.store.inventory import list_devices

    records = [r.to_json() for r in _store(list_devices, site=site)]
    _list(records, DEVICE_COLUMNS, as_json, "no devices")


@device.command("show")
@click.argument("name")
@json_option
def device_show(name: str, as_json: bool) -> None:
    """Show one device (SNMP community and keys are masked)."""
    from radiusd.store.inventory import get_device

    _show(
        _addressed(_store(get_device, name).to_json(), f"device:{name}", as_json),
        as_json,
        ("snmp_community", "snmp_auth_key", "snmp_priv_key"),
    )


@device.command("remove")
@click.argument("name")
def device_remove(name: str) -> None:
    """Remove a device; refused while links are attached to it."""
    from radiusd.store.inventory import remove_device

    _store(remove_device, name)
    click.echo(f"removed device {name!r}")


DEVICE_CLEAR = {"site": "site", "address": "address", "snmp-community": "snmp_community",
                "snmp-v3": "snmp_v3", "description": "description"}  # fmt: skip


@device.command("set")
@click.argument("name")
@click.option("--rename", "new_name", metavar="NEW", help="New name of the device.")
@click.option("--kind", type=click.Choice(DEVICE_KINDS))
@click.option("--site", metavar="SITE", help="The site it stands at.")
@click.option("--address", metavar="IP", help="Management address (IP or host name).")
@click.option("--snmp-version", type=click.Choice(SNMP_VERSIONS))
@click.option("--snmp-port", type=click.IntRange(1, 65535))
@secret_option("--snmp-community", metavar="C", help="v1/v2c community.")
@click.option("--snmp-user", metavar="U", help="v3 user.")
@click.option("--snmp-auth-protocol", type=click.Choice(SNMP_AUTH_PROTOCOLS, case_sensitive=False))
@secret_option("--snmp-auth-key", metavar="K", help="v3 authentication passphrase.")
@click.option("--snmp-priv-protocol", type=click.Choice(SNMP_PRIV_PROTOCOLS, case_sensitive=False))
@secret_option("--snmp-priv-key", metavar="K", help="v3 privacy passphrase.")
@click.option("--description", metavar="TEXT", help="Free text.")
@_clear_option(tuple(DEVICE_CLEAR))
@json_option
def device_set(name: str, clear: tuple[str, ...], as_json: bool, **options: Any) -> None:
    """Change (or --rename) device NAME; a new --snmp-version drops the other version's credentials."""
    from radiusd.store.inventory_edit import update_device

    changes = _changes(options, tuple(c for c in clear if c != "snmp-v3"), DEVICE_CLEAR)
    if "snmp-v3" in clear:
        changes.update(dict.fromkeys(
            ("snmp_user", "snmp_auth_protocol", "snmp_auth_key", "snmp_priv_protocol", "snmp_priv_key")
        ))  # fmt: skip
    _updated(_store(update_device, name, **changes), "device", as_json)
