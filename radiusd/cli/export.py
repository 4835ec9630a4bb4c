"""``radiusd export`` and ``radiusd usage``: billing exports and the usage roll-up rebuild.

Exports stream: each row is written to stdout as the database hands it over (CSV with a header
row, or a JSON array written one object per line), so memory stays flat for millions of rows.
Periods are ``--from`` (inclusive) to ``--to`` (exclusive), UTC; see
:mod:`radiusd.store.reports` for how a session crossing the period's edge is split.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing, nullcontext
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from radiusd.cli.context import run_store
from radiusd.cli.listing import empty_in_database
from radiusd.cli.output import TableWriter, plural, print_json
from radiusd.cli.progress import QUIET, Tick, progress

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from radiusd.store.reports import Period, UsageBy

PERIOD_HELP = (
    "DATE is YYYY-MM-DD (start of that day, UTC) or an ISO 8601 datetime such as "
    "2024-05-01T06:00:00+02:00 (no offset means UTC). --from is inclusive, --to is exclusive: "
    "--from 2024-05-01 --to 2024-06-01 is the whole of May."
)


def when_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.datetime | None:
    """Click callback for a DATE option (``--from``/``--to`` here, ``lease history --at``): a date or
    an ISO 8601 datetime, as aware UTC (radiusd.store.reports.parse_when)."""
    from radiusd.store.errors import InvalidInput
    from radiusd.store.reports import parse_when

    if value is None:
        return None
    try:
        return parse_when(value)
    except InvalidInput as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def period_options(func: Any) -> Any:
    """``--from`` and ``--to`` (both required)."""
    to_option = click.option(
        "--to", "to_", required=True, metavar="DATE", callback=when_callback, help="End (exclusive)."
    )
    from_option = click.option(
        "--from", "from_", required=True, metavar="DATE", callback=when_callback, help="Start (inclusive)."
    )
    return from_option(to_option(func))


def make_period(start: dt.datetime, end: dt.datetime) -> Period:
    """The period of ``--from``/``--to``; an empty or reversed one is a usage error."""
    from radiusd.store.errors import InvalidInput
    from radiusd.store.reports import Period

    try:
        return Period(start, end)
    except InvalidInput as exc:
        raise click.UsageError(str(exc)) from None


# --- streamed writers (also used by `radiusd session`) ----------------------------------------


def _csv_value(value: Any) -> Any:
    return "" if value is None else value


async def write_csv(rows: AsyncIterator[Mapping[str, Any]], fields: Sequence[str], out: IO[str]) -> int:
    """A header row, then each row as it comes; returns the number of data rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(fields)
    count = 0
    async with aclosing(rows):  # type: ignore[type-var]
        async for row in rows:
            writer.writerow([_csv_value(row.get(name)) for name in fields])
            count += 1
    return count


async def write_json_array(rows: AsyncIterator[Mapping[str, Any]], out: IO[str]) -> int:
    """A JSON array written as it comes, one object per line; returns the number of objects."""
    count = 0
    async with aclosing(rows):  # type: ignore[type-var]
        async for row in rows:
            out.write("[\n" if count == 0 else ",\n")
            out.write(json.dumps(row, ensure_ascii=False))
            count += 1
    out.write("[]\n" if count == 0 else "\n]\n")
    return count


async def write_table(
    rows: AsyncIterator[Mapping[str, Any]],
    columns: Sequence[str],
    out: IO[str],
    *,
    empty: str,
    sample: int = 200,
) -> int:
    """The rows as a table (:class:`~radiusd.cli.output.TableWriter`), streamed after ``sample``."""
    table = TableWriter(columns, out, sample=sample)
    async with aclosing(rows):  # type: ignore[type-var]
        async for row in rows:
            table.add(row)
    return table.close(empty)


def stdout() -> IO[str]:
    """The current stdout (looked up at call time: CliRunner swaps it)."""
    return sys.stdout


class _StdoutClosed(Exception):
    """stdout went away mid-stream (``radiusd export ... | head``)."""


def run_streaming(func: Callable[[AsyncEngine], Awaitable[None]]) -> None:
    """:func:`run_store` for a command that streams to stdout.

    A reader that stops early (``| head``) is not a database failure: BrokenPipeError (a
    ConnectionError) is carried past the "cannot reach the database" translation and handed
    to the top-level handler, which exits quietly.
    """

    async def guarded(engine: AsyncEngine) -> None:
        try:
            await func(engine)
        except BrokenPipeError as exc:
            raise _StdoutClosed from exc

    try:
        run_store(guarded)
    except _StdoutClosed:
        raise BrokenPipeError from None


def run_listing(
    rows: Callable[[AsyncEngine], AsyncIterator[Mapping[str, Any]]],
    columns: Sequence[str],
    *,
    as_json: bool,
    empty: str,
) -> None:
    """Stream the rows ``rows(engine)`` yields to stdout: a JSON array with ``as_json``, else
    aligned ``columns`` (``empty`` when there are none)."""

    where = empty_in_database(empty)

    async def go(engine: AsyncEngine) -> None:
        found = rows(engine)
        if as_json:
            await write_json_array(found, stdout())
        else:
            await write_table(found, columns, stdout(), empty=where)

    run_streaming(go)


# --- radiusd export ---------------------------------------------------------------------------


@click.group(epilog=PERIOD_HELP)
def export() -> None:
    """Billing exports (streamed to stdout, or to --output FILE, as CSV or JSON)."""


def format_option(func: Any) -> Any:
    """``--format csv|json`` and ``--json`` (the same as ``--format json``), as ``fmt``."""

    def json_flag(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            ctx.meta["export.json"] = True

    def choose(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
        if ctx.meta.get("export.json"):
            if value not in (None, "json"):
                raise click.BadParameter(f"--json contradicts --format {value}", ctx, param)
            return "json"
        return value or "csv"

    json_option = click.option(
        "--json",
        is_flag=True,
        is_eager=True,
        expose_value=False,
        callback=json_flag,
        help="The same as --format json.",
    )
    fmt_option = click.option(
        "--format",
        "fmt",
        type=click.Choice(["csv", "json"]),
        callback=choose,
        help="CSV with a header row (default), or a JSON array of objects.",
    )
    return fmt_option(json_option(func))


output_option = click.option(
    "--output",
    "-o",
    "output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    metavar="FILE",
    help="Write to FILE instead of stdout (a progress line shows on a terminal).",
)


async def _counted(rows: AsyncIterator[Mapping[str, Any]], tick: Tick) -> AsyncIterator[Mapping[str, Any]]:
    async with aclosing(rows):  # type: ignore[type-var]
        async for row in rows:
            tick.advance()
            yield row


def _export(
    what: str,
    rows: Callable[[AsyncEngine], AsyncIterator[Mapping[str, Any]]],
    fields: Sequence[str],
    fmt: str,
    output: Path | None,
) -> None:
    """Stream ``rows`` as CSV or JSON to ``output`` (else stdout), with a row count on the
    terminal when the rows go to a file (never mixed into rows on the screen)."""
    to_screen = output is None and sys.stdout.isatty()

    async def go(engine: AsyncEngine) -> None:
        with contextlib.ExitStack() as stack:
            out = (
                stdout()
                if output is None
                else stack.enter_context(output.open("w", encoding="utf-8", newline=""))
            )
            tick = stack.enter_context(progress(f"export {what}") if not to_screen else nullcontext(QUIET))
            found = _counted(rows(engine), tick)
            if fmt == "json":
                await write_json_array(found, out)
            else:
                await write_csv(found, fields, out)

    run_streaming(go)


loadtest_option = click.option(
    "--include-loadtest",
    is_flag=True,
    help="Include the sessions `radiusd loadtest` simulated (left out by default).",
)


@export.command("usage", epilog=PERIOD_HELP)
@period_options
@format_option
@loadtest_option
@output_option
@click.option(
    "--by",
    type=click.Choice(["subscriber", "day", "session"]),
    default="subscriber",
    show_default=True,
    help="One row per subscriber, per subscriber and UTC day, or per session.",
)
def export_usage(
    from_: dt.datetime, to_: dt.datetime, fmt: str, by: str, include_loadtest: bool, output: Path | None
) -> None:
    """Usage within the period: octets in/out, session time and sessions.

    Fields: username, input_octets, output_octets, session_time, sessions (--by day adds day;
    --by session adds id, acct_unique_id, nas, address, started, stopped). Traffic is counted
    between consecutive accounting updates, on the time of the later one, so a session crossing
    the period's edge counts only its part inside, split at its interim updates. A session
    counts in `sessions` in the period of its first update. Sessions simulated by `radiusd
    loadtest` (Acct-Session-Id radiusd-loadtest-...) are left out unless --include-loadtest.
    """
    from radiusd.store.reports import USAGE_FIELDS, iter_usage

    period = make_period(from_, to_)
    key: UsageBy = "day" if by == "day" else "session" if by == "session" else "subscriber"

    def rows(engine: AsyncEngine) -> AsyncIterator[Mapping[str, Any]]:
        return iter_usage(engine, period, by=key, include_loadtest=include_loadtest)

    _export("usage", rows, USAGE_FIELDS[key], fmt, output)


@export.command("sessions", epilog=PERIOD_HELP)
@period_options
@format_option
@loadtest_option
@output_option
def export_sessions(
    from_: dt.datetime, to_: dt.datetime, fmt: str, include_loadtest: bool, output: Path | None
) -> None:
    """Closed session records (radius_accounting) whose session stopped within the period.

    Fields: id, acct_unique_id, acct_session_id, username, nas_address, framed_ip,
    framed_ipv6_prefix, delegated_ipv6_prefix, calling_station_id, started, stopped,
    session_time, input_octets, output_octets, terminate_cause (times ISO 8601 UTC). Load-test
    sessions are left out unless --include-loadtest.
    """
    from radiusd.store.reports import ACCOUNTING_FIELDS, iter_closed_sessions

    period = make_period(from_, to_)

    def rows(engine: AsyncEngine) -> AsyncIterator[Mapping[str, Any]]:
        return iter_closed_sessions(engine, period, include_loadtest=include_loadtest)

    _export("sessions", rows, ACCOUNTING_FIELDS, fmt, output)


# --- radiusd usage ----------------------------------------------------------------------------


@click.group()
def usage() -> None:
    """The per-subscriber per-day usage roll-up (service_usage) that billing reads."""


@usage.command("rebuild", epilog=PERIOD_HELP)
@period_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a sentence.")
def usage_rebuild(from_: dt.datetime, to_: dt.datetime, as_json: bool) -> None:
    """Recompute service_usage for the UTC days of the period from the accounting updates.

    The period is widened to whole UTC days; those days' rows are replaced in one transaction.
    The numbers are those the live roll-up writes as accounting arrives.
    """
    from radiusd.store.reports import rebuild_usage

    period = make_period(from_, to_)

    async def go(engine: AsyncEngine) -> Any:
        return await rebuild_usage(engine, period.start, period.end)

    with progress("rebuilding the usage roll-up"):
        result = run_store(go)
    if as_json:
        print_json(result.to_json())
        return
    data = result.to_json()
    click.echo(
        f"rebuilt usage for {plural(data['days'], 'day')} from {data['from']} to {data['to']} (exclusive): "
        f"{plural(data['rows'], 'row')} written, {data['deleted']} replaced"
    )
