"""CLI triggers of Disconnect/CoA and provisioning, added to existing groups:
``session disconnect``, ``subscriber provision``, and the NAS side of ``subscriber suspend``
and ``subscriber set-plan`` (called from radiusd.cli.subscribers).

Each session acted on is one line (``--json``: one object); a session left connected makes
the command end with one ``radiusd: error:`` line and exit status 1. Secrets never printed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from radiusd.cli.context import run_store
from radiusd.cli.output import fail, json_flag, plural, print_json
from radiusd.cli.secrets import secret_option
from radiusd.cli.sessions import session
from radiusd.cli.subscribers import subscriber

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from inventory.actions import SessionAction
    from radiusd.coa.sessions import SessionRef

json_option = json_flag("text")


#: ``--timeout`` default: RFC 5080's maximum retransmission duration
DEFAULT_TIMEOUT = 30.0


def wait_options(f: Any) -> Any:
    """``--timeout SECONDS`` and ``--no-wait``: how long each Disconnect-Request waits for its NAS."""
    f = click.option(
        "--no-wait",
        is_flag=True,
        help="Send each Disconnect-Request once and do not wait for the NAS's answer.",
    )(f)
    return click.option(
        "--timeout",
        type=click.FloatRange(min=0.1, max=300),
        default=DEFAULT_TIMEOUT,
        show_default=True,
        metavar="SECONDS",
        help="Give up on a NAS that has not answered after this long (per session).",
    )(f)


def _who(a: SessionAction) -> str:
    return f"session {a.session.id} ({a.session.username} on {a.nas or a.session.nas_address})"


def _line(a: SessionAction, waited: bool = True) -> str:
    who = _who(a)
    if a.error is not None:
        return f"{who}: not done: {a.error}"
    r = a.result
    assert r is not None
    if not waited and not r.ok and r.error_cause is None:
        return f"{who}: Disconnect-Request sent (not waiting for the NAS's answer)"
    prefix = f"{a.fallback}; " if a.fallback else ""
    if r.ok:
        done = "plan changed (CoA-ACK)" if a.action == "change-plan" else "disconnected"
        via = f" ({r.detail})" if r.detail else ""
        return f"{who}: {prefix}{done}{via}"
    text = f"{who}: {prefix}{a.action} {r.describe()}"
    if a.closed:
        text += ": the NAS has no such session, our record is closed"
    elif r.detail and r.outcome != "error":  # describe() already holds an error's detail
        text += f" ({r.detail})"
    return text


def _sent(a: SessionAction) -> bool:
    """A --no-wait request that left (no answer was awaited, so none is missing)."""
    return a.error is None and a.result is not None and a.result.outcome == "timeout"


def report(
    actions: Sequence[SessionAction],
    *,
    as_json: bool = False,
    empty: str = "no open sessions",
    printed: bool = False,
    waited: bool = True,
) -> None:
    """Print what happened (``printed``: the lines were already shown one by one); fail
    (exit 1) when a session may still be connected."""
    if as_json:
        print_json([a.to_json() | {"waited": waited} for a in actions])
    elif not actions:
        click.echo(empty)
    for a in actions if not as_json and not printed else ():
        click.echo(_line(a, waited))
    # A 503 NAK is not a failure: the session is gone, and our record now says so.
    failed = [a for a in actions if not a.ok and not a.closed and (waited or not _sent(a))]
    if failed:
        fail(f"{len(failed)} of {plural(len(actions), 'session')} not acted on (see above)")


def run_disconnects(
    fetch: Callable[[AsyncEngine], Awaitable[list[SessionRef]]],
    *,
    as_json: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    no_wait: bool = False,
    empty: str = "no open sessions",
) -> None:
    """Disconnect the sessions ``fetch`` finds, one after another, each waiting at most
    ``timeout`` seconds for its NAS (not at all with ``no_wait``); a line per session as it
    goes (progress on stderr, the outcome on stdout; ``--json``: the array at the end)."""
    from inventory.actions import disconnect_sessions
    from radiusd.coa.service import CoaService

    async def go(engine: AsyncEngine) -> list[SessionAction]:
        sessions = await fetch(engine)
        coa = CoaService(engine, timeout=0 if no_wait else timeout)
        done: list[SessionAction] = []
        for ref in sessions:
            where = f"session {ref.id} ({ref.username} on {ref.nas_address})"
            step = "sending a Disconnect-Request" if no_wait else f"waiting up to {timeout:g} s for the NAS"
            click.echo(f"{where}: {step}", err=True)
            [action] = await disconnect_sessions(engine, [ref], coa)
            done.append(action)
            if not as_json:
                click.echo(_line(action, waited=not no_wait))
        return done

    report(run_store(go), as_json=as_json, empty=empty, printed=True, waited=not no_wait)


def disconnect_user(
    username: str, *, as_json: bool = False, timeout: float = DEFAULT_TIMEOUT, no_wait: bool = False
) -> None:
    """Disconnect every open session of ``username`` through its NAS's plugin, and report."""
    from radiusd.coa.sessions import open_sessions_of

    run_disconnects(
        lambda engine: open_sessions_of(engine, username),
        as_json=as_json,
        timeout=timeout,
        no_wait=no_wait,
        empty=f"{username!r} has no open sessions",
    )


def apply_plan_live(username: str, plan: str) -> None:
    """CoA ``username``'s open sessions with ``plan`` (disconnect where it cannot apply live)."""
    from inventory.actions import apply_plan
    from radiusd.coa.service import CoaService
    from radiusd.coa.sessions import open_sessions_of
    from radiusd.store.plans import get_plan

    async def go(engine: AsyncEngine) -> list[SessionAction]:
        record = await get_plan(engine, plan)
        sessions = await open_sessions_of(engine, username)
        return await apply_plan(engine, sessions, record, CoaService(engine))

    report(run_store(go), empty=f"{username!r} has no open sessions")


@session.command("disconnect")
@click.argument("session_id", metavar="ID", required=False)
@click.option("--user", metavar="U", help="Disconnect every open session of this username.")
@wait_options
@json_option
def session_disconnect(
    session_id: str | None, user: str | None, timeout: float, no_wait: bool, as_json: bool
) -> None:
    """Disconnect session ID (numeric id or Acct-Unique-Session-Id), or all of --user's,
    with a Disconnect-Request (RFC 5176) through the NAS's plugin.

    Each session waits at most --timeout seconds for its NAS (--no-wait: not at all; the
    request is sent once). A NAS answering Session-Context-Not-Found (Error-Cause 503)
    closes our record. JSON: an array of {session, acct_session_id, username, nas, action,
    outcome (ack/nak/timeout/error), error_cause, error_cause_name, attempts, detail,
    session_closed, ok, waited}.
    """
    if (session_id is None) == (user is None):
        raise click.UsageError("give a session ID or --user")
    if user is not None:
        disconnect_user(user, as_json=as_json, timeout=timeout, no_wait=no_wait)
        return
    assert session_id is not None
    from radiusd.coa.sessions import find_open_session

    async def fetch(engine: AsyncEngine) -> list[SessionRef]:
        return [await find_open_session(engine, session_id)]

    run_disconnects(fetch, as_json=as_json, timeout=timeout, no_wait=no_wait)


@subscriber.command("provision")
@click.argument("username")
@secret_option("--password", metavar="P", required=True, help="Password.")
@click.option("--plan", metavar="X", required=True, help="Plan name (must exist).")
@click.option("--pool", metavar="P", required=True, help="Pool the static address is taken from.")
@click.option("--nas", metavar="N", required=True, help="NAS (name) that gets the PPPoE credentials.")
@json_option
def subscriber_provision(username: str, password: str, plan: str, pool: str, nas: str, as_json: bool) -> None:
    """Provision USERNAME: reserve a free address of POOL as its static address, create the
    account on PLAN, push the PPPoE credentials with that address to NAS through its plugin.

    All or nothing: a failed step undoes the earlier ones and the error names the step.
    """
    from inventory.actions import provision
    from radiusd.coa.service import CoaService

    async def go(engine: AsyncEngine) -> Any:
        return await provision(
            engine, username, password, plan=plan, pool=pool, nas=nas, coa=CoaService(engine)
        )

    done = run_store(go)
    if as_json:
        print_json(
            {"username": username, "address": done.address, "plan": plan, "pool": pool, "nas": done.nas}
        )
    else:
        click.echo(
            f"provisioned {username!r}: address {done.address} (pool {pool!r}), plan {plan!r}, "
            f"PPPoE credentials on NAS {done.nas!r}"
        )
