"""Shared parts of the inventory commands (radiusd.cli.inventory gathers them): the value lists,
the column sets, the router-API TLS options and the helpers that call the store and print.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import click

from radiusd.cli.context import run_store
from radiusd.cli.listing import render
from radiusd.cli.output import MASK, json_flag, print_json, print_record

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
