"""``radiusd operator``: accounts of the web console (``/ui``), with roles.

A password is never taken from the command line (it would stay in the shell history and in
``ps``): ``--password -`` reads one line from standard input, otherwise it is prompted for
twice without echo.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from radiusd.cli.context import run_store
from radiusd.cli.listing import render
from radiusd.cli.output import json_option, print_json

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

F = TypeVar("F", bound=Callable[..., Any])
COLUMNS = ("name", "role", "disabled", "locked", "created_at", "last_login_at")
ROLES = click.Choice(["readonly", "helpdesk", "admin"])


def _password_option(required: bool) -> Callable[[F], F]:
    return click.option(
        "--password",
        "password_from",
        type=click.Choice(["-", "prompt"]),
        default="prompt" if required else None,
        help="'-': read the password from standard input (one line); default: prompt.",
    )


def _read_password(source: str | None) -> str | None:
    if source is None:
        return None
    if source == "-":
        line = sys.stdin.readline()
        if not line:
            raise click.UsageError("--password -: nothing on standard input")
        return line.rstrip("\r\n")
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    return value


@click.group("operator")
def operator() -> None:
    """Web console accounts: readonly, helpdesk (acts on subscribers and sessions), admin."""


@operator.command("add")
@click.argument("name")
@click.option("--role", type=ROLES, required=True)
@_password_option(True)
@json_option
def operator_add(name: str, role: str, password_from: str, as_json: bool) -> None:
    """Create operator NAME with ROLE (password: prompted, or '--password -' from stdin)."""
    from radiusd.store.operators import add_operator, audit

    password = _read_password(password_from) or ""

    async def go(engine: AsyncEngine) -> Any:
        info = await add_operator(engine, name, password, role)
        await audit(engine, "cli", "operator-add", info.name, detail=f"role {role}")
        return info

    info = run_store(go)
    if as_json:
        print_json(info.to_json())
    else:
        click.echo(f"added operator {info.name!r} ({info.role})")


@operator.command("list")
@json_option
def operator_list(as_json: bool) -> None:
    """List the operators (never their password hashes)."""
    from radiusd.store.operators import list_operators

    render([o.to_json() for o in run_store(list_operators)], COLUMNS, as_json=as_json, empty="no operators")


@operator.command("set")
@click.argument("name")
@click.option("--role", type=ROLES)
@_password_option(False)
@click.option("--disable/--enable", "disabled", default=None, help="Refuse (or allow again) its logins.")
@click.option("--unlock", is_flag=True, help="Clear a lockout after failed logins.")
@json_option
def operator_set(
    name: str, role: str | None, password_from: str | None, disabled: bool | None, unlock: bool, as_json: bool
) -> None:
    """Change operator NAME; a new password, role or --disable ends its open sessions."""
    from radiusd.store.operators import audit, set_operator

    password = _read_password(password_from)

    async def go(engine: AsyncEngine) -> Any:
        info = await set_operator(
            engine, name, password=password, role=role, disabled=disabled, unlock=unlock
        )
        flags = (
            ("password", password is not None),
            (f"role {role}", role is not None),
            ("disabled" if disabled else "enabled", disabled is not None),
            ("unlocked", unlock),
        )
        changed = [what for what, on in flags if on]
        await audit(engine, "cli", "operator-set", info.name, detail=", ".join(changed) or None)
        return info

    info = run_store(go)
    if as_json:
        print_json(info.to_json())
    else:
        click.echo(f"changed operator {info.name!r} ({info.role}{', disabled' if info.disabled else ''})")


@operator.command("remove")
@click.argument("name")
def operator_remove(name: str) -> None:
    """Remove operator NAME (its sessions end at once; the audit log keeps its name)."""
    from radiusd.store.operators import audit, remove_operator

    async def go(engine: AsyncEngine) -> None:
        await remove_operator(engine, name)
        await audit(engine, "cli", "operator-remove", name)

    run_store(go)
    click.echo(f"removed operator {name!r}")
