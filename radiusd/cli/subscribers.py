"""``radiusd subscriber``: subscribers (the seed's CustomerService), one by one or from CSV."""

from __future__ import annotations

import io
import sys
import time
from typing import TYPE_CHECKING, Any

import click

from radiusd.cli.context import get_context, run_store
from radiusd.cli.listing import render
from radiusd.cli.nas_actions import apply_plan_live, disconnect_user, timeout_option
from radiusd.cli.output import fail, json_option, pick_columns, plural, print_json, print_record
from radiusd.cli.progress import progress
from radiusd.cli.secrets import secret_option
from radiusd.store.subscriber_csv import STATUSES, CsvError, read_subscriber_rows

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

COLUMNS = ("username", "status", "plan", "pool", "static_ip", "simultaneous_use", "password_store")
STORES = ("cleartext", "nt", "hashed")
store_option = click.option(
    "--store",
    type=click.Choice(STORES),
    help="What to keep of the password: cleartext (PAP, CHAP, MS-CHAP), nt (its NT hash: PAP, "
    "MS-CHAP) or hashed (PBKDF2: PAP only). Default: the password_store setting (cleartext).",
)


def _with_store(record: Any) -> dict[str, Any]:
    """A subscriber as JSON, with how its password is kept (``password_store``)."""
    from radiusd.model.credentials import password_store

    return {**record.to_json(), "password_store": password_store(record.credential)}


def _store(chosen: str | None) -> str:
    return chosen if chosen is not None else get_context().settings().password_store


@click.group()
def subscriber() -> None:
    """Subscribers: who may log in, with which plan and addresses."""


@subscriber.command("add")
@click.argument("username")
@secret_option("--password", metavar="P", help="Password (required unless --credential).")
@secret_option(
    "--credential",
    metavar="STORED",
    help="A ready-made stored credential instead of --password, e.g. nt:<32 hex> (MS-CHAP, PAP) or a "
    "salted hash such as $pbkdf2-sha256$... (PAP only).",
)
@store_option
@click.option("--plan", metavar="X", help="Plan name (must exist).")
@click.option("--pool", metavar="P", help="Address pool (overrides the plan's).")
@click.option("--static-ip", metavar="IP", help="Fixed address for this subscriber.")
@click.option("--simultaneous-use", type=click.IntRange(min=1), metavar="N", help="Sessions allowed at once.")
@json_option
def subscriber_add(
    username: str,
    password: str | None,
    credential: str | None,
    store: str | None,
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
    if store is not None and credential is not None:
        raise click.UsageError("--store applies to --password (a --credential is kept as given)")
    kept = _store(store)

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
            store=kept,
        )

    record = run_store(go)
    if as_json:
        print_json(_with_store(record))
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
@store_option
@json_option
def subscriber_import(file: str, store: str | None, as_json: bool) -> None:
    """Import subscribers from a CSV file (- reads stdin), all or nothing.

    The header row names the columns: username,password and optionally
    plan,pool,static_ip,status. Rows are numbered from 1 (the first data row).
    """
    from radiusd.store.errors import StoreError
    from radiusd.store.subscribers import import_subscribers

    started = time.perf_counter()  # rows/s: reading, checking and writing, not module imports
    kept = _store(store)
    source, rows = _read_csv(file)
    if not rows:
        fail(f"{source}: no data rows")

    async def go(engine: AsyncEngine) -> int:
        return int(await import_subscribers(engine, rows, store=kept, progress=bar.advance))

    try:
        with progress(f"importing {len(rows)} subscribers", total=2 * len(rows)) as bar:
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

    records = [_with_store(r) for r in run_store(go)]
    render(records, pick_columns(records, COLUMNS), as_json=as_json, empty="no subscribers")


@subscriber.command("show")
@click.argument("username")
@json_option
def subscriber_show(username: str, as_json: bool) -> None:
    """Show one subscriber (the credential is never printed)."""
    from radiusd.store.subscribers import get_subscriber

    async def go(engine: AsyncEngine) -> Any:
        return await get_subscriber(engine, username)

    data = _with_store(run_store(go))
    from radiusd.cli.prefixes import addressing, addressing_text

    held = addressing(f"subscriber:{data['username']}")
    data["addressing"] = held if as_json else addressing_text(held)
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
@timeout_option("Give up on a NAS that has not answered the Disconnect-Request after this long.")
@click.option("--no-wait", is_flag=True, help="Send the Disconnect-Requests; do not wait for answers.")
def subscriber_suspend(username: str, timeout: float, no_wait: bool) -> None:
    """Suspend a subscriber (rejected, or walled garden if the plan has one) and disconnect
    its open sessions through their NAS's plugin (RFC 5176 Disconnect-Request)."""
    _set_status(username, "suspended")
    disconnect_user(username, timeout=timeout, no_wait=no_wait)


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
        apply_plan_live(record.username, record.plan)


@subscriber.command("remove")
@click.argument("username")
@click.option(
    "--disconnect",
    is_flag=True,
    help="Disconnect its open sessions first (refused otherwise while it is online).",
)
@timeout_option("With --disconnect: give up on a NAS that has not answered after this long (per session).")
def subscriber_remove(username: str, disconnect: bool, timeout: float) -> None:
    """Remove a subscriber (refused while it is online, unless --disconnect)."""
    _remove(username, disconnect, timeout)
    click.echo(f"removed subscriber {username!r}")


def _remove(username: str, disconnect: bool, timeout: float) -> None:
    """Remove ``username``; with ``disconnect`` its sessions go first, those of a RadSec NAS
    through the daemon (radiusd.cli.coa_relay), the only process holding that NAS's connection."""
    from radiusd.cli.coa_relay import DaemonRoute
    from radiusd.cli.nas_actions import removal_disconnect

    settings = get_context().settings()

    async def go(engine: AsyncEngine) -> Any:
        from inventory.offboard import remove_online_subscriber

        daemon = DaemonRoute(settings, engine)
        try:
            send = removal_disconnect(engine, daemon, timeout)
            return await remove_online_subscriber(engine, username, disconnect=disconnect, send=send)
        finally:
            await daemon.close()

    for done in run_store(go):
        how = "disconnected" if done["ok"] else "closed (the NAS had no such session)"
        click.echo(f"session {done['acct_session_id']} ({done['username']} on {done['nas']}): {how}")


@subscriber.command("set")
@click.argument("username")
@secret_option("--password", metavar="P", help="New password.")
@click.option("--credential", metavar="STORED", help="A ready-made stored credential instead of --password.")
@click.option("--plan", metavar="X", help="Plan (must exist; 'none' takes it off any plan).")
@click.option("--pool", metavar="P", help="Address pool (must exist; 'none' clears it).")
@click.option("--static-ip", metavar="IP|none", help="Fixed address ('none' clears it).")
@click.option("--status", type=click.Choice(STATUSES), help="active, suspended or disabled.")
@click.option(
    "--simultaneous-use", metavar="N|none", help="Sessions allowed at once ('none': the plan's limit)."
)
@click.option(
    "--routed-subnet",
    "routed",
    multiple=True,
    metavar="PREFIX|none",
    help="Static block routed to the subscriber (Framed-Route / Framed-IPv6-Route); repeatable; "
    "replaces the ones it has ('none' removes them).",
)
@json_option
def subscriber_set(
    username: str,
    password: str | None,
    credential: str | None,
    plan: str | None,
    pool: str | None,
    static_ip: str | None,
    status: str | None,
    simultaneous_use: str | None,
    routed: tuple[str, ...],
    as_json: bool,
) -> None:
    """Change USERNAME; the running daemon applies it within a second. A new plan reaches open
    sessions as with `set-plan`, a suspension disconnects them as with `suspend`."""
    if password is not None and credential is not None:
        raise click.UsageError("give --password or --credential, not both")
    changes = _set_changes(password, credential, plan, pool, static_ip, status, simultaneous_use)
    if not changes and not routed:
        raise click.UsageError("nothing to change: give at least one option")
    from radiusd.store.subscribers import get_subscriber, update_subscriber

    async def go(engine: AsyncEngine) -> Any:
        before = await get_subscriber(engine, username)
        if routed:  # radiusd.store.prefixes: customer prefixes of the tree, sent as Framed-Route
            from radiusd.store.prefixes import set_routed_subnets

            await set_routed_subnets(engine, username, [r for r in routed if _none(r) is not None])
        if not changes:
            return before, before
        return before, await update_subscriber(engine, username, **changes, store=_store(None))

    before, record = run_store(go)
    if as_json:
        print_json(record.to_json())
    else:
        click.echo(f"updated subscriber {record.username!r}")
    if record.status == "suspended" and before.status != "suspended":
        disconnect_user(record.username)
    elif record.plan and record.plan != before.plan:
        apply_plan_live(record.username, record.plan)


def _none(value: str | None) -> str | None:
    """'none' (any case) or blank: clear the field."""
    return None if value is None or value.strip().lower() in ("", "none") else value


def _set_changes(
    password: str | None,
    credential: str | None,
    plan: str | None,
    pool: str | None,
    static_ip: str | None,
    status: str | None,
    simultaneous_use: str | None,
) -> dict[str, Any]:
    """The keyword arguments of update_subscriber for the options given."""
    changes: dict[str, Any] = {}
    for key, value in (("password", password), ("credential", credential), ("status", status)):
        if value is not None:
            changes[key] = value
    for key, value in (("plan", plan), ("pool", pool), ("static_ip", static_ip)):
        if value is not None:
            changes[key] = _none(value)
    if simultaneous_use is not None:
        text = _none(simultaneous_use)
        if text is not None and not text.strip().isdigit():
            raise click.BadParameter(f"{simultaneous_use!r} is not a whole number or 'none'",
                                     param_hint="--simultaneous-use")  # fmt: skip
        changes["simultaneous_use"] = None if text is None else int(text)
    return changes
