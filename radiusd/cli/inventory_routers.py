"""``radiusd router``: routers, the NAS clients (``router add`` writes the row ``nas add`` does),
with their router-API access.
"""

from __future__ import annotations

from typing import Any

import click

from radiusd.cli.inventory_common import (
    ROUTER_COLUMNS,
    VENDORS,
    _addressed,
    _list,
    _show,
    _store,
    _updated,
    _warn_plain_api,
    api_tls_options,
    json_option,
)
from radiusd.cli.output import print_json
from radiusd.cli.secrets import secret_option

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


@router.command("rename")
@click.argument("name")
@click.argument("new_name")
@json_option
def router_rename(name: str, new_name: str, as_json: bool) -> None:
    """Rename router NAME (= `nas rename`)."""
    from radiusd.store.nas import update_nas

    _updated(_store(update_nas, name, new_name=new_name), "router", as_json)
