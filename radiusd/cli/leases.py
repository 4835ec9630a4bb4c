"""``radiusd lease``: current leases, releasing one, and who held an address or prefix when.

``lease history`` answers abuse reports and lawful requests: every holder of an IPv4 address
or an IPv6 prefix (given exactly as handed out), from the assignment history and from the
accounting sessions that reported it; ``--at`` keeps the holders at that instant.
Times are ISO 8601 UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import click

from radiusd.cli.export import when_callback
from radiusd.cli.listing import render
from radiusd.cli.output import json_option, print_json
from radiusd.cli.pools import check_address, checked, run

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

#: Fields of every ``lease list --json`` object, in this order (also the table's columns).
LEASE_FIELDS = ("address", "username", "pool", "kind", "state", "expires", "nas", "session")
#: Fields of every ``lease history --json`` object, in this order.
HISTORY_FIELDS = ("address", "username", "started", "ended", "source", "pool", "nas", "session")


def ordered(record: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """``record`` with ``fields`` first, in order (missing ones as None), then any other keys."""
    data = {name: record.get(name) for name in fields}
    data.update((k, v) for k, v in record.items() if k not in data)
    return data


@click.group()
def lease() -> None:
    """Leases: addresses and prefixes handed out, and who held them when."""


@lease.command("list")
@click.option("--pool", metavar="P", help="Only leases of this pool.")
@click.option("--user", metavar="U", help="Only leases of this username.")
@json_option
def lease_list(pool: str | None, user: str | None, as_json: bool) -> None:
    """List leases: live (offered, leased), sticky holds (released) and reservations.

    JSON: an array of objects, by address, with address, username, pool, kind (ipv4,
    ipv6-wan, ipv6-pd), state (offered, leased, released, reserved), expires (ISO 8601 UTC,
    null when it does not expire by itself), nas, session (Acct-Unique-Session-Id), updated.
    """

    async def go(engine: AsyncEngine) -> list[dict[str, Any]]:
        from radiusd.store.pools import list_leases

        return [ordered(r.to_json(), LEASE_FIELDS) for r in await list_leases(engine, pool=pool, user=user)]

    render(run(go), LEASE_FIELDS, as_json=as_json, empty="no leases")


@lease.command("release")
@click.argument("address", metavar="IP")
@json_option
def lease_release(address: str, as_json: bool) -> None:
    """End the live lease of IP (or an IPv6 prefix) now; the NAS is not told.

    The address stays held for its last holder for a while (stickiness).
    """
    address = checked(check_address, address)

    async def go(engine: AsyncEngine) -> Any:
        from radiusd.store.pools import release_lease

        return await release_lease(engine, address)

    info = run(go)
    if as_json:
        print_json(ordered(info.to_json(), LEASE_FIELDS))
    else:
        holder = f" (held by {info.username!r})" if info.username else ""
        click.echo(f"released {info.address} of pool {info.pool!r}{holder}")


@lease.command("history")
@click.argument("address", metavar="IP|PREFIX")
@click.option(
    "--at",
    metavar="TIME",
    callback=when_callback,
    help="Only who held it at TIME: ISO 8601 (2024-05-01T06:00:00+02:00; no offset means UTC) "
    "or a date (its midnight UTC).",
)
@json_option
def lease_history(address: str, at: dt.datetime | None, as_json: bool) -> None:
    """Who held IP or PREFIX and when, newest first, from assignments and sessions.

    Each holder appears once per source: "assignment" (the server handed it out) and
    "session" (accounting reported it). JSON: an array of objects with address, username,
    started, ended (null while still held), source, pool, nas, session.
    """
    address = checked(check_address, address)

    async def go(engine: AsyncEngine) -> list[dict[str, Any]]:
        from radiusd.store.pools import lease_history as history

        return [ordered(r.to_json(), HISTORY_FIELDS) for r in await history(engine, address, at=at)]

    empty = f"nobody held {address}" + (f" at {at.isoformat()}" if at else "")
    render(run(go), HISTORY_FIELDS, as_json=as_json, empty=empty)
