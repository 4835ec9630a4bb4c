"""``radiusd db``: database maintenance (migrations)."""

from __future__ import annotations

import click

from radiusd.cli.context import get_context, upgrade
from radiusd.config import redacted_url


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all pending migrations (creates the database schema when new)."""
    url = get_context().database_url()
    upgrade(url)
    click.echo(f"database is up to date: {redacted_url(url)}")
