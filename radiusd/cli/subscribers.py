"""``radiusd subscriber``: subscribers (the seed's CustomerService), one by one or from CSV."""

from __future__ import annotations

import io
import sys
import time
from typing import TYPE_CHECKING, Any

import click

from radiusd.cli.context import run_store
from radiusd.cli.csvio import STATUSES, CsvError, read_subscriber_rows
from radiusd.cli.output import fail, json_option, pick_columns, plural, print_json, print_record, render
from radiusd.cli.secrets import secret_option

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

COLUMNS = ("username", "status", "plan", "pool", "static_ip", "simultaneous_use")


@click.group()
def subscriber() -> None:
    """Subscribers: who may log in, with which plan and addresses."""


@subscriber.command("add")
@click.argument("username")
@secret_option("--password", metavar="P", help="Password (required unless --credential).")
@click.option(
    "--credential",
    metavar="STORED",
    help="A ready-made stored credential instead of --password, e.g. nt:<32 hex> (MS-CHAP, PAP) or a "
    "salted hash such as $pbkdf2-sha256$... (PAP only). Never printed.",
)
@click.option("--plan", metavar="X", help="Plan name (must exist).")
@click.option("--pool", metavar="P", help="Address pool (overrides the plan's).")
@click.option("--static-ip", metavar="IP", help="Fixed address for this subscriber.")
@click.option("--simultaneous-use", type=click.IntRange(min=1), metavar="N", help="Sessions allowed at once.")
@json_option
def subscriber_add(
    username: str,
    password: str | None,
    credential: str | None,
    plan: str | None,
    pool: str | None,
    static_ip: str | None,
    simultaneous_use: int | None,
    as_json: bool,
) -> None:
    """Add subscriber USERNAME."""
    from radiusd.store.subscribers import add_subscriber

    if (password is None) == (credential is None):
        raise click.UsageError("give exactly one of --password or --credential")

    async def go(engine: AsyncEngine) -> Any:
        return await add_subscriber(
            engine,
            username,
            password,
            plan=plan,
            pool=pool,
            static_ip=static_ip,
            simultaneous_use=simultaneous_use,
            credential=credential,
        )

    record = run_store(go)
    if as_json:
        print_json(record.to_json())
    else:
        click.echo(f"added subscriber {record.username!r}")


def _read_csv(file: str) -> tuple[str, list[dict[str, str]]]:
    """Rows of ``file`` (``-`` = stdin) and the name to use for it in messages."""
    if file == "-":
        source = "stdin"
        stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
        try:
            return source, read_subscriber_rows(stream)
        except CsvError as exc:
            fail(f"{source}: {exc}")
        finally:
            stream.detach()  # leave the process's stdin open
    source = file
    try:
        with open(file, encoding="utf-8-sig", newline="") as handle:
            return source, read_subscriber_rows(handle)
    except CsvError as exc:
        fail(f"{source}: {exc}")
    except OSError as exc:
        fail(f"cannot read {source}: {exc.strerror or exc}")


@subscriber.command("import")
@click.argument("file", metavar="FILE.csv")
@json_option
def subscriber_import(file: str, as_json: bool) -> None:
    """Import subscribers from a CSV file (- reads stdin), all or nothing.

    The header row names the columns: username,password and optionally
    plan,pool,static_ip,status. Rows are numbered from 1 (the first data row).
    """
    from radiusd.store.errors import StoreError
    from radiusd.store.subscribers import import_subscribers

    started = time.perf_counter()  # rows/s: reading, checking and writing, not module imports
    source, rows = _read_csv(file)
    if not rows:
        fail(f"{source}: no data rows")

    async def go(engine: AsyncEngine) -> int:
        return int(await import_subscribers(engine, rows))

    try:
        count = run_store(go)
    except StoreError as exc:
        fail(f"{source}: {exc}")
    elapsed = time.perf_counter() - started
    if as_json:
        print_json({"imported": count, "source": source, "seconds": round(elapsed, 3)})
        return
    rate = f" ({count / elapsed:.0f}/s)" if elapsed > 0 else ""
    click.echo(f"imported {plural(count, 'subscriber')} from {source} in {elapsed:.2f}s{rate}")


@subscriber.command("list")
@click.option("--plan", metavar="X", help="Only subscribers of this plan.")
@click.option("--status", type=click.Choice(STATUSES), help="Only subscribers with this status.")
@json_option
def subscriber_list(plan: str | None, status: str | None, as_json: bool) -> None:
    """List subscribers."""
    from radiusd.store.subscribers import list_subscribers

    async def go(engine: AsyncEngine) -> list[Any]:
        return list(await list_subscribers(engine, plan=plan, status=status))

    records = [r.to_json() for r in run_store(go)]
    render(records, pick_columns(records, COLUMNS), as_json=as_json, empty="no subscribers")


@subscriber.command("show")
@click.argument("username")
@json_option
def subscriber_show(username: str, as_json: bool) -> None:
    """Show one subscriber (the credential is never printed)."""
    from radiusd.store.subscribers import get_subscriber

    async def go(engine: AsyncEngine) -> Any:
        return await get_subscriber(engine, username)

    data = run_store(go).to_json()
    if as_json:
        print_json(data)
    else:
        print_record(data)


def _set_status(username: str, status: str) -> None:
    from radiusd.store.subscribers import set_subscriber_status

    async def go(engine: AsyncEngine) -> Any:
        return await set_subscriber_status(engine, username, status)

    record = run_store(go)
    click.echo(f"subscriber {record.username!r} is {record.status}")


@subscriber.command("suspend")
@click.argument("username")
def subscriber_suspend(username: str) -> None:
    """Suspend a subscriber (rejected, or walled garden if the plan has one) and disconnect
    its open sessions through their NAS's plugin (RFC 5176 Disconnect-Request)."""
    from radiusd.cli.coa import disconnect_user

    _set_status(username, "suspended")
    disconnect_user(username)


@subscriber.command("resume")
@click.argument("username")
def subscriber_resume(username: str) -> None:
    """Make a suspended or disabled subscriber active again."""
    _set_status(username, "active")


@subscriber.command("disable")
@click.argument("username")
def subscriber_disable(username: str) -> None:
    """Disable a subscriber (always rejected, no walled garden)."""
    _set_status(username, "disabled")


@subscriber.command("set-plan")
@click.argument("username")
@click.argument("plan", required=False)
@click.option("--none", "no_plan", is_flag=True, help="Take the subscriber off any plan.")
def subscriber_set_plan(username: str, plan: str | None, no_plan: bool) -> None:
    """Move USERNAME to PLAN (or off any plan with --none); open sessions get PLAN at once
    through their NAS's plugin (CoA, or a disconnect where the vendor cannot change it live)."""
    from radiusd.store.subscribers import set_subscriber_plan

    if (plan is None) == (not no_plan):
        raise click.UsageError("give a PLAN or --none")

    async def go(engine: AsyncEngine) -> Any:
        return await set_subscriber_plan(engine, username, plan)

    record = run_store(go)
    click.echo(
        f"subscriber {record.username!r} is on plan {record.plan!r}"
        if record.plan
        else f"subscriber {record.username!r} has no plan"
    )
    if record.plan:  # open sessions get the new plan now: CoA, or a disconnect where it cannot
        from radiusd.cli.coa import apply_plan_live

        apply_plan_live(record.username, record.plan)


@subscriber.command("remove")
@click.argument("username")
def subscriber_remove(username: str) -> None:
    """Remove a subscriber."""
    from radiusd.store.subscribers import remove_subscriber

    async def go(engine: AsyncEngine) -> None:
        await remove_subscriber(engine, username)

    run_store(go)
    click.echo(f"removed subscriber {username!r}")
