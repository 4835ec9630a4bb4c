"""CLI triggers of Disconnect/CoA and provisioning, added to existing groups:
``session disconnect`` and ``subscriber provision``. The NAS side of ``subscriber suspend``
and ``subscriber set-plan`` is in radiusd.cli.nas_actions, which both modules use.

Each session acted on is one line (``--json``: one object); a session left connected makes
the command end with one ``radiusd: error:`` line and exit status 1. Secrets never printed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from radiusd.cli.context import run_store
from radiusd.cli.nas_actions import disconnect_user, run_disconnects, wait_options
from radiusd.cli.output import json_flag, print_json
from radiusd.cli.secrets import secret_option
from radiusd.cli.sessions import session
from radiusd.cli.subscribers import subscriber

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from radiusd.coa.sessions import SessionRef

json_option = json_flag("text")


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
