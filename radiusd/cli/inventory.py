"""``radiusd site|router|sector|device|link``: the network inventory (radiusd.store.inventory).

Routers are the NAS clients: ``router add`` writes the same row as ``nas add`` and ``nas list``
shows it. Secrets (RADIUS secret, router-API password, SNMP community and v3 keys) are never
printed: ``show`` masks them, ``--json`` says only whether one is set (``*_set``).

A link end is ``[router:|device:]NAME[:PORT]``; a name that is both a router and a device must
carry the prefix (the command refuses to guess).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import click

from radiusd.cli.context import run_store
from radiusd.cli.listing import render
from radiusd.cli.output import MASK, json_flag, print_json, print_record
from radiusd.cli.secrets import secret_option

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")

# The models' value lists, repeated so that `radiusd --help` does not import SQLAlchemy
# (a unit test keeps them equal to radiusd.store.models).
VENDORS = ("generic", "mikrotik", "cisco", "ubiquiti", "juniper", "huawei", "nokia", "accel-ppp", "cambium")
SITE_KINDS = ("pop", "tower", "datacenter", "customer", "other")
DEVICE_KINDS = ("switch", "router", "olt", "onu", "access-point", "cpe", "ups", "server", "other")
SNMP_VERSIONS = ("v1", "v2c", "v3")
SNMP_AUTH_PROTOCOLS = ("md5", "sha", "sha224", "sha256", "sha384", "sha512")
SNMP_PRIV_PROTOCOLS = ("des", "aes", "aes192", "aes256")
LINK_MEDIA = ("copper", "fibre", "wireless")

SITE_COLUMNS = ("name", "kind", "address", "latitude", "longitude", "description")
ROUTER_COLUMNS = ("name", "address", "site", "vendor", "management_address", "api_username", "coa_port")
SECTOR_COLUMNS = ("router", "name", "frequency_mhz", "azimuth_deg", "beamwidth_deg", "ssid")
DEVICE_COLUMNS = ("name", "kind", "site", "address", "snmp_version", "description")
LINK_COLUMNS = ("id", "from", "to", "medium", "capacity_mbps", "description")
# secret field -> the *_set flag its record's to_json() carries instead
SECRETS = {
    "secret": None,
    "api_password": "api_password_set",
    "snmp_community": "snmp_community_set",
    "snmp_auth_key": "snmp_auth_key_set",
    "snmp_priv_key": "snmp_priv_key_set",
}

json_option = json_flag("text")


def api_tls_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """How the router API is secured: API-SSL (port 8729) by default, its certificate checked
    against a CA file and/or pinned by fingerprint; the plain API only when asked for by name."""
    for option in reversed(
        (
            click.option(
                "--api-ca-file",
                metavar="FILE",
                help="CA certificate(s) the router's API-SSL certificate must chain to.",
            ),
            click.option(
                "--api-fingerprint",
                metavar="SHA256",
                help="Pin the router's API-SSL certificate by its SHA-256 (self-signed routers).",
            ),
            click.option(
                "--insecure-plain-api",
                is_flag=True,
                help="Use the plain API (port 8728): router and PPPoE passwords travel in clear.",
            ),
        )
    ):
        func = option(func)
    return func


def _warn_plain_api(record: Any) -> None:
    if record.api_insecure_plain:
        click.echo(
            f"warning: router {record.name!r} uses the plain RouterOS API: its password (and pushed "
            "PPPoE passwords) travel in clear",
            err=True,
        )


def _store(func: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    """Run ``func(engine, *args, **kwargs)`` from radiusd.store.inventory on the configured database."""

    async def go(engine: AsyncEngine) -> T:
        return await func(engine, *args, **kwargs)

    return run_store(go)


def _show(data: Mapping[str, Any], as_json: bool, masked: tuple[str, ...] = ()) -> None:
    """One record: JSON as is, or ``key: value`` lines with each secret in ``masked`` shown masked."""
    if as_json:
        print_json(dict(data))
        return
    shown: dict[str, Any] = {}
    for key, value in data.items():
        if key.endswith("_set") and key.removesuffix("_set") in SECRETS:
            continue
        shown[key] = value
    for secret in masked:
        flag = SECRETS[secret]
        shown[secret] = MASK if flag is None or data.get(flag) else None
    print_record(shown)


def _addressed(data: dict[str, Any], target: str, as_json: bool) -> dict[str, Any]:
    """``data`` with what the object holds from the prefix tree (``addressing``)."""
    from radiusd.cli.prefixes import addressing, addressing_text

    held = addressing(target)
    return {**data, "addressing": held if as_json else addressing_text(held)}


def _list(records: list[dict[str, Any]], columns: tuple[str, ...], as_json: bool, empty: str) -> None:
    render(records, columns, as_json=as_json, empty=empty)


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


# -- routers ----------------------------------------------------------------------------------


@click.group()
def router() -> None:
    """Routers: the NAS clients of the daemon, with their site and management access."""


@router.command("add")
@click.argument("name")
@click.option("--address", required=True, metavar="IP", help="Source IP address of its RADIUS requests.")
@secret_option("--secret", required=True, metavar="S", help="Shared RADIUS secret.")
@click.option("--site", metavar="SITE", help="The site it stands at.")
@click.option("--vendor", type=click.Choice(VENDORS), default="generic", show_default=True)
@click.option("--management-address", metavar="IP", help="Address to manage it at (IP or host name).")
@click.option("--api-user", metavar="U", help="Router-API user (with --api-password).")
@secret_option("--api-password", metavar="P", help="Router-API password.")
@click.option("--api-port", type=click.IntRange(1, 65535), metavar="N", help="Router-API port.")
@click.option("--api-tls", is_flag=True, help="Use API-SSL for the router API (the default).")
@api_tls_options
@click.option(
    "--coa-port",
    type=click.IntRange(1, 65535),
    default=3799,
    show_default=True,
    help="UDP port for CoA/Disconnect requests.",
)
@click.option(
    "--no-message-authenticator",
    is_flag=True,
    help="Accept Access-Requests without Message-Authenticator (weakens BlastRADIUS protection).",
)
@click.option("--description", metavar="TEXT", help="Free text.")
@json_option
def router_add(
    name: str,
    address: str,
    secret: str,
    site: str | None,
    vendor: str,
    management_address: str | None,
    api_user: str | None,
    api_password: str | None,
    api_port: int | None,
    api_tls: bool,
    api_ca_file: str | None,
    api_fingerprint: str | None,
    insecure_plain_api: bool,
    coa_port: int,
    no_message_authenticator: bool,
    description: str | None,
    as_json: bool,
) -> None:
    """Add a router NAME (a NAS: the same record as 'radiusd nas add')."""
    from radiusd.store.inventory import add_router

    record = _store(
        add_router,
        name,
        address,
        secret,
        site=site,
        vendor=vendor,
        require_message_authenticator=not no_message_authenticator,
        coa_port=coa_port,
        description=description,
        management_address=management_address,
        api_username=api_user,
        api_password=api_password,
        api_port=api_port,
        api_tls=api_tls,
        api_ca_file=api_ca_file,
        api_fingerprint=api_fingerprint,
        api_insecure_plain=insecure_plain_api,
    )
    _warn_plain_api(record)
    if as_json:
        print_json(record.to_json())
    else:
        where = f", site {record.site!r}" if record.site else ""
        click.echo(f"added router {record.name!r} ({record.address}, {record.vendor}{where})")
    if no_message_authenticator:
        click.echo(
            f"warning: router {record.name!r} may send Access-Requests without Message-Authenticator "
            "(BlastRADIUS, CVE-2024-3596)",
            err=True,
        )


@router.command("set")
@click.argument("name")
@click.option("--site", metavar="SITE", help="Move it to this site.")
@click.option("--no-site", is_flag=True, help="Take it off its site.")
@click.option("--management-address", metavar="IP", help="Address to manage it at ('' clears it).")
@click.option("--api-user", metavar="U", help="Router-API user.")
@secret_option("--api-password", metavar="P", help="Router-API password.")
@click.option("--api-port", type=click.IntRange(1, 65535), metavar="N", help="Router-API port.")
@click.option(
    "--api-tls/--no-api-tls",
    default=None,
    help="API-SSL (the default) / the plain API (needs --insecure-plain-api).",
)
@api_tls_options
@click.option("--clear-api", is_flag=True, help="Forget the router-API credentials.")
@json_option
def router_set(  # noqa: C901  (one plain branch per optional flag of the command)
    name: str,
    site: str | None,
    no_site: bool,
    management_address: str | None,
    api_user: str | None,
    api_password: str | None,
    api_port: int | None,
    api_tls: bool | None,
    api_ca_file: str | None,
    api_fingerprint: str | None,
    insecure_plain_api: bool,
    clear_api: bool,
    as_json: bool,
) -> None:
    """Change a router's site, management address or router-API access."""
    from radiusd.store.inventory import update_router

    if site is not None and no_site:
        raise click.UsageError("--site and --no-site exclude each other")
    tls_settings = api_tls or api_ca_file or api_fingerprint
    if clear_api and (api_user or api_password or api_port or tls_settings or insecure_plain_api):
        raise click.UsageError("--clear-api excludes the other --api-* options")
    if api_tls is False and not insecure_plain_api:
        raise click.UsageError(
            "--no-api-tls sends the router password in clear: give --insecure-plain-api to mean it"
        )
    if insecure_plain_api and tls_settings:
        raise click.UsageError("--insecure-plain-api excludes --api-tls, --api-ca-file and --api-fingerprint")
    changes: dict[str, Any] = {}
    if site is not None or no_site:
        changes["site"] = None if no_site else site
    if management_address is not None:
        changes["management_address"] = management_address or None
    if clear_api:
        changes.update(api_username=None, api_password=None, api_port=None, api_tls=False)
    for key, value in (("api_username", api_user), ("api_password", api_password), ("api_port", api_port)):
        if value is not None:
            changes[key] = value
    if api_tls:
        changes["api_tls"] = True
    if api_ca_file is not None:
        changes["api_ca_file"] = api_ca_file or None
    if api_fingerprint is not None:
        changes["api_fingerprint"] = api_fingerprint or None
    if insecure_plain_api:
        changes["api_insecure_plain"] = True
    if not changes:
        raise click.UsageError("nothing to change: give at least one option")
    record = _store(update_router, name, **changes)
    _warn_plain_api(record)
    if as_json:
        print_json(record.to_json())
    else:
        click.echo(f"updated router {record.name!r}")


@router.command("list")
@click.option("--site", metavar="SITE", help="Only the routers of this site.")
@json_option
def router_list(site: str | None, as_json: bool) -> None:
    """List the routers (the same records as 'radiusd nas list')."""
    from radiusd.store.inventory import list_routers

    records = [r.to_json() for r in _store(list_routers, site=site)]
    _list(records, ROUTER_COLUMNS, as_json, "no routers")


@router.command("show")
@click.argument("name")
@json_option
def router_show(name: str, as_json: bool) -> None:
    """Show one router (the RADIUS secret and the API password are masked)."""
    from radiusd.store.inventory import get_router

    _show(
        _addressed(_store(get_router, name).to_json(), f"router:{name}", as_json),
        as_json,
        ("secret", "api_password"),
    )


@router.command("remove")
@click.argument("name")
def router_remove(name: str) -> None:
    """Remove a router and its sectors; refused while pools, open sessions or links refer to it."""
    from radiusd.store.inventory import remove_router

    _store(remove_router, name)
    click.echo(f"removed router {name!r}")


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


# -- set / rename -----------------------------------------------------------------------------


def _changes(given: dict[str, Any], clear: tuple[str, ...], options: dict[str, str]) -> dict[str, Any]:
    """The keyword arguments of an ``update_*`` call: options given, plus ``--clear`` fields as None.

    ``options`` maps a ``--clear`` choice to its keyword argument.
    """
    changes = {key: value for key, value in given.items() if value is not None}
    for choice in clear:
        key = options[choice]
        if key in changes:
            raise click.UsageError(f"--clear {choice} and --{choice} exclude each other")
        changes[key] = None
    if not changes:
        raise click.UsageError("nothing to change: give at least one option")
    return changes


def _clear_option(choices: tuple[str, ...]) -> Callable[[Any], Any]:
    return click.option(
        "--clear", "clear", multiple=True, type=click.Choice(choices), help="Clear this field (repeatable)."
    )


def _updated(record: Any, what: str, as_json: bool) -> None:
    if as_json:
        print_json(record.to_json())
    else:
        click.echo(f"updated {what} {record.name!r}")


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


@router.command("rename")
@click.argument("name")
@click.argument("new_name")
@json_option
def router_rename(name: str, new_name: str, as_json: bool) -> None:
    """Rename router NAME (= `nas rename`)."""
    from radiusd.store.nas import update_nas

    _updated(_store(update_nas, name, new_name=new_name), "router", as_json)


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


COMMANDS = (site, router, sector, device, link)
