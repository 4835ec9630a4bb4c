"""The ``radiusd`` command: global options, subcommand groups and error handling.

Every failure ends as exactly one ``radiusd: error: ...`` line on stderr: exit status 1 for
runtime and data errors (store errors, bad config, unreachable database), 2 for usage errors
found by click. Unexpected exceptions (bugs) keep their traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from radiusd.cli.api_tokens import api_token
from radiusd.cli.cluster import cluster
from radiusd.cli.coa import session_disconnect, subscriber_provision  # noqa: F401  (registers them)
from radiusd.cli.context import CliContext
from radiusd.cli.db import db
from radiusd.cli.discover import COMMANDS as DISCOVER_COMMANDS
from radiusd.cli.eap import eap
from radiusd.cli.export import export, usage
from radiusd.cli.help import help_command
from radiusd.cli.importer import import_group
from radiusd.cli.inventory import COMMANDS as INVENTORY_COMMANDS
from radiusd.cli.leases import lease
from radiusd.cli.loadtest import loadtest
from radiusd.cli.nas import nas
from radiusd.cli.netbox import COMMANDS as NETBOX_COMMANDS
from radiusd.cli.operators import operator
from radiusd.cli.output import EXIT_ERROR, PROG, print_error
from radiusd.cli.plans import plan
from radiusd.cli.pools import pool
from radiusd.cli.prefixes import COMMANDS as PREFIX_COMMANDS
from radiusd.cli.serve import serve
from radiusd.cli.sessions import session
from radiusd.cli.subscribers import subscriber
from radiusd.config import ConfigError
from radiusd.store.errors import StoreError


def _database_error_message(exc: BaseException) -> str | None:
    """One line for a driver/SQLAlchemy failure, without SQL parameters (they may hold secrets)."""
    try:
        from sqlalchemy.exc import DBAPIError, SQLAlchemyError
    except ImportError:  # pragma: no cover - sqlalchemy is a dependency
        return None
    if isinstance(exc, DBAPIError):
        orig = exc.orig if exc.orig is not None else exc
        first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        return f"database error: {first}"
    if isinstance(exc, SQLAlchemyError):
        return f"database error: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}"
    return None


def error_message(exc: BaseException) -> str | None:
    """The one-line message for an expected failure, or None for a bug (keep the traceback)."""
    if isinstance(exc, StoreError | ConfigError):
        return str(exc)
    db = _database_error_message(exc)
    if db is not None:
        return db
    if isinstance(exc, ConnectionError | TimeoutError):
        return f"cannot reach the database: {exc.strerror or exc}"
    return None


class RadiusdGroup(click.Group):
    """A click group whose errors are one line, for the console script and CliRunner alike."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            rv = super().main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except click.exceptions.NoArgsIsHelpError as exc:
            exc.show()  # `radiusd` alone: the help text, like click does by default
            code = exc.exit_code
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            print_error(exc.format_message().rstrip() + hint)
            code = exc.exit_code
        except click.ClickException as exc:
            print_error(exc.format_message())
            code = exc.exit_code
        except click.Abort:
            print_error("aborted")
            code = EXIT_ERROR
        except BrokenPipeError:
            sys.stderr.close()  # `radiusd nas list | head`: not an error worth a traceback
            code = EXIT_ERROR
        except Exception as exc:
            message = error_message(exc)
            if message is None:
                raise
            print_error(message)
            code = EXIT_ERROR
        else:
            code = rv if isinstance(rv, int) else 0
        if not standalone_mode:
            return code
        sys.exit(code)


@click.group(cls=RadiusdGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--database",
    metavar="URL",
    envvar="RADIUSD_DATABASE_URL",
    help="Database URL (sqlite+aiosqlite:///FILE or postgresql+asyncpg://...). "
    "Default: RADIUSD_DATABASE_URL, else the SQLite file of the config.",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="TOML configuration file.",
)
@click.version_option(package_name="radiusd", prog_name=PROG)
@click.pass_context
def cli(ctx: click.Context, database: str | None, config: Path | None) -> None:
    """RADIUS server with IP address management for ISPs: admin commands."""
    ctx.obj = CliContext(database=database or None, config=config)


cli.add_command(db)
cli.add_command(nas)
cli.add_command(plan)
cli.add_command(subscriber)
cli.add_command(serve)
cli.add_command(session)
cli.add_command(export)
cli.add_command(usage)
cli.add_command(pool)
cli.add_command(lease)
cli.add_command(loadtest)
cli.add_command(api_token)
cli.add_command(operator)
cli.add_command(import_group)
cli.add_command(cluster)
cli.add_command(eap)
cli.add_command(help_command)
for _command in DISCOVER_COMMANDS + NETBOX_COMMANDS:
    cli.add_command(_command)
for _command in INVENTORY_COMMANDS:  # site, router, sector, device, link
    cli.add_command(_command)
for _command in PREFIX_COMMANDS:  # prefix, address, pd
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (``radiusd = radiusd.cli.main:main``)."""
    cli.main(args=argv, prog_name=PROG)
