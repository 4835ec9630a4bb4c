"""``radiusd session``: accounting sessions, live and closed, and their counter time series.

Lists stream (a JSON array written one object per line with ``--json``, else aligned columns),
so listing every session of a large ISP does not load them all into memory.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from radiusd.cli.export import run_listing, run_streaming, stdout, write_json_array, write_table
from radiusd.cli.output import json_option, print_record

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

COLUMNS = (
    "id", "username", "nas", "address", "status", "started", "stopped", "session_time",
    "input_octets", "output_octets",
)  # fmt: skip
UPDATE_COLUMNS = ("event_time", "status_type", "session_time", "input_octets", "output_octets")


@click.group()
def session() -> None:
    """Accounting sessions (times are ISO 8601 UTC, counters 64-bit octets)."""


@session.command("list")
@click.option("--online", is_flag=True, help="Only open sessions.")
@click.option("--nas", metavar="N", help="Only sessions of this NAS (name or address).")
@click.option("--user", metavar="U", help="Only sessions of this username.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="At most N sessions (newest first).")
@json_option
def session_list(online: bool, nas: str | None, user: str | None, limit: int | None, as_json: bool) -> None:
    """List sessions, newest first.

    JSON: an array of objects with id, acct_unique_id, acct_session_id, username, nas,
    nas_address, nas_port, nas_port_id, address, framed_ipv6_prefix, delegated_ipv6_prefix,
    calling_station_id, status (open/closed), started, updated, stopped, session_time,
    input_octets, output_octets, input_packets, output_packets, terminate_cause.
    """
    from radiusd.store.reports import iter_sessions

    run_listing(
        lambda engine: iter_sessions(engine, online=online, nas=nas, username=user, limit=limit),
        COLUMNS,
        as_json=as_json,
        empty="no sessions",
    )


@session.command("show")
@click.argument("session_id", metavar="ID")
@json_option
def session_show(session_id: str, as_json: bool) -> None:
    """Show session ID (numeric id or Acct-Unique-Session-Id) with its counter time series.

    JSON: the session's fields (as in `session list --json`) plus "updates", an array of
    {id, event_time, status_type, session_time, input_octets, output_octets, input_packets,
    output_packets} in arrival order.
    """
    from radiusd.store.reports import get_session, iter_session_updates

    async def go(engine: AsyncEngine) -> None:
        record = await get_session(engine, session_id)
        updates = iter_session_updates(engine, int(record["id"]))
        out = stdout()
        if as_json:
            head = json.dumps(record, ensure_ascii=False, indent=2)
            out.write(head[: head.rindex("}")].rstrip() + ',\n  "updates": ')
            await write_json_array(updates, out)
            out.write("}\n")
            return
        print_record(record)
        out.write("\nupdates:\n")
        await write_table(updates, UPDATE_COLUMNS, out, empty="no accounting updates")

    run_streaming(go)


EVENT_COLUMNS = ("id", "event_time", "nas", "status_name", "username", "acct_session_id")


@session.command("events")
@click.option("--nas", metavar="N", help="Only requests of this NAS (name or address).")
@click.option("--user", metavar="U", help="Only requests of this username.")
@click.option("--status", metavar="S", help="Only this Acct-Status-Type (name, e.g. Failed, or number).")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="At most N requests (newest first).")
@json_option
def session_events(
    nas: str | None, user: str | None, status: str | None, limit: int | None, as_json: bool
) -> None:
    """List recorded accounting requests that are not session events, newest first.

    An Acct-Status-Type other than Start, Interim-Update, Stop, Accounting-On/Off (Failed,
    the RFC 2867 tunnel types, vendor values) changes no session; the daemon records it here,
    then acknowledges it. JSON: an array of objects with id, event_time, nas, nas_address,
    status_type, status_name, username, acct_session_id, attributes (one "Name = value" per line).
    """
    from radiusd.store.reports import iter_accounting_events

    run_listing(
        lambda engine: iter_accounting_events(engine, nas=nas, username=user, status=status, limit=limit),
        EVENT_COLUMNS,
        as_json=as_json,
        empty="no accounting events",
    )
