"""Acting on the open sessions of a subscriber through their NAS: Disconnect and CoA.

Shared by the commands that do it (``session disconnect``, radiusd.cli.coa) and those that
change a subscriber and then tell its NAS (``subscriber suspend``, ``subscriber set-plan``,
radiusd.cli.subscribers). Each session acted on is one line (``--json``: one object); a
session left connected makes the command end with one ``radiusd: error:`` line and exit
status 1. The RFC 5176 client and the plugins are imported when a command runs, not when the
CLI starts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from radiusd.cli.context import run_store
from radiusd.cli.output import fail, plural, print_json

if TYPE_CHECKING:
    from click.decorators import FC
    from sqlalchemy.ext.asyncio import AsyncEngine

    from inventory.actions import SessionAction
    from inventory.offboard import Disconnect
    from radiusd.cli.coa_relay import DaemonRoute
    from radiusd.coa.service import CoaService
    from radiusd.coa.sessions import SessionRef
    from radiusd.store.records import NasRecord


#: ``--timeout`` default: RFC 5080's maximum retransmission duration
DEFAULT_TIMEOUT = 30.0


_TIMEOUT_HELP = "Give up on a NAS that has not answered after this long (per session)."


def timeout_option(help: str = _TIMEOUT_HELP) -> Callable[[FC], FC]:
    """``--timeout SECONDS`` (0.1-300, default 30): how long each request waits for its NAS."""
    return click.option(
        "--timeout",
        type=click.FloatRange(min=0.1, max=300),
        default=DEFAULT_TIMEOUT,
        show_default=True,
        metavar="SECONDS",
        help=help,
    )


def wait_options(f: Any) -> Any:
    """``--timeout SECONDS`` and ``--no-wait``: how long each Disconnect-Request waits for its NAS."""
    f = click.option(
        "--no-wait",
        is_flag=True,
        help="Send each Disconnect-Request once and do not wait for the NAS's answer.",
    )(f)
    return timeout_option()(f)


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
    from inventory.actions import nas_of, routers_by_id
    from radiusd.cli.coa_relay import DaemonRoute
    from radiusd.cli.context import get_context
    from radiusd.coa.service import CoaService

    settings = get_context().settings()

    async def go(engine: AsyncEngine) -> list[SessionAction]:
        sessions = await fetch(engine)
        coa = CoaService(engine, timeout=0 if no_wait else timeout)
        daemon = DaemonRoute(settings, engine)  # RadSec NAS: only the daemon holds their connection
        routers = await routers_by_id(engine) if sessions else {}
        done: list[SessionAction] = []
        try:
            for ref in sessions:
                nas = nas_of(ref, routers)
                relayed = daemon.wanted(nas)
                step = (
                    "sending a Disconnect-Request" if no_wait else f"waiting up to {timeout:g} s for the NAS"
                )
                click.echo(
                    f"{_where(ref)}: {step}{' through the daemon (RadSec NAS)' if relayed else ''}", err=True
                )
                action = await disconnect_one(ref, nas, coa, daemon, wait=timeout, no_wait=no_wait)
                done.append(action)
                if not as_json:
                    click.echo(_line(action, waited=not no_wait))
        finally:
            await daemon.close()
        return done

    report(run_store(go), as_json=as_json, empty=empty, printed=True, waited=not no_wait)


def _where(ref: SessionRef) -> str:
    return f"session {ref.id} ({ref.username} on {ref.nas_address})"


async def disconnect_one(
    ref: SessionRef, nas: NasRecord | None, coa: CoaService, daemon: DaemonRoute,
    *, wait: float = DEFAULT_TIMEOUT, no_wait: bool = False,
) -> SessionAction:  # fmt: skip
    """Disconnect ``ref`` (on ``nas``): through the daemon for a RadSec NAS (``daemon.wanted``),
    waiting up to ``wait`` seconds, else through its NAS's plugin over UDP with ``coa``."""
    from inventory.actions import disconnect_session

    if daemon.wanted(nas):
        return await daemon.disconnect(ref, nas.name, wait=wait, no_wait=no_wait)
    return await disconnect_session(ref, nas, coa)


def removal_disconnect(
    engine: AsyncEngine, daemon: DaemonRoute, timeout: float = DEFAULT_TIMEOUT
) -> Disconnect:
    """How ``subscriber remove --disconnect`` disconnects (inventory.offboard's ``send``): each
    session of a RadSec NAS through the daemon, which holds its connection (one stderr line
    saying so, as it may wait up to ``timeout`` seconds for the NAS), the others over UDP,
    each waiting at most ``timeout`` seconds too."""
    from inventory.actions import nas_of, routers_by_id
    from radiusd.coa.service import CoaService

    coa = CoaService(engine, timeout=timeout)

    async def send(sessions: list[SessionRef]) -> list[dict[str, Any]]:
        routers = await routers_by_id(engine)
        done = []
        for ref in sessions:
            nas = nas_of(ref, routers)
            if daemon.wanted(nas):
                click.echo(f"{_where(ref)}: disconnect through the daemon (RadSec NAS)", err=True)
            done.append((await disconnect_one(ref, nas, coa, daemon, wait=timeout)).to_json())
        return done

    return send


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
    """CoA ``username``'s open sessions with ``plan`` (disconnect where it cannot apply live);
    a RadSec NAS's session through the daemon, which holds its connection (radiusd.cli.coa_relay),
    given time for the CoA and its disconnect fallback."""
    from inventory.actions import apply_plan_to, nas_of, routers_by_id
    from radiusd.cli.coa_relay import DaemonRoute
    from radiusd.cli.context import get_context
    from radiusd.coa.service import CoaService
    from radiusd.coa.sessions import open_sessions_of
    from radiusd.store.plans import get_plan

    settings = get_context().settings()

    async def go(engine: AsyncEngine) -> list[SessionAction]:
        record = await get_plan(engine, plan)
        sessions = await open_sessions_of(engine, username)
        coa = CoaService(engine)
        daemon = DaemonRoute(settings, engine)
        routers = await routers_by_id(engine) if sessions else {}
        done: list[SessionAction] = []
        try:
            for ref in sessions:
                nas = nas_of(ref, routers)
                if daemon.wanted(nas):
                    click.echo(f"{_where(ref)}: CoA through the daemon (RadSec NAS)", err=True)
                    done.append(await daemon.change_plan(ref, nas.name, plan, wait=2 * DEFAULT_TIMEOUT))
                else:
                    done.append(await apply_plan_to(ref, nas, record, coa))
        finally:
            await daemon.close()
        return done

    report(run_store(go), empty=f"{username!r} has no open sessions")
