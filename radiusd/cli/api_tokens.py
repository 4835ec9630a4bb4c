"""``radiusd api-token``: bearer tokens of the HTTP admin API (create prints the token once)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from radiusd.cli.context import run_store
from radiusd.cli.listing import render
from radiusd.cli.output import json_option, print_json

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

COLUMNS = ("name", "read_only", "created_at", "last_used_at")


@click.group("api-token")
def api_token() -> None:
    """Bearer tokens of the HTTP admin API (only their SHA-256 is stored)."""


@api_token.command("create")
@click.argument("name")
@click.option("--read-only", is_flag=True, help="GET only (dashboards, Prometheus): no changes.")
@json_option
def token_create(name: str, read_only: bool, as_json: bool) -> None:
    """Create a token NAME and print it once: it cannot be shown again."""
    from radiusd.store.api_tokens import create_token

    async def go(engine: AsyncEngine) -> Any:
        return await create_token(engine, name, read_only=read_only)

    info, token = run_store(go)
    if as_json:
        print_json(info.to_json() | {"token": token})
        return
    click.echo(token)
    kind = "read-only " if info.read_only else ""
    click.echo(
        f"created {kind}API token {info.name!r}; it is shown only now: "
        "send it as 'Authorization: Bearer TOKEN'",
        err=True,
    )


@api_token.command("list")
@json_option
def token_list(as_json: bool) -> None:
    """List the tokens (names and use, never the tokens)."""
    from radiusd.store.api_tokens import list_tokens

    records = [t.to_json() for t in run_store(list_tokens)]
    render(records, COLUMNS, as_json=as_json, empty="no API tokens")


@api_token.command("revoke")
@click.argument("name")
def token_revoke(name: str) -> None:
    """Revoke token NAME (a running daemon refuses it within 5 seconds)."""
    from radiusd.store.api_tokens import revoke_token

    async def go(engine: AsyncEngine) -> None:
        await revoke_token(engine, name)

    run_store(go)
    click.echo(f"revoked API token {name!r}")
