"""``radiusd serve``: parse the daemon's flags into Settings and hand over to radiusd.daemon.

The daemon module is imported only here, when the command runs, so the admin commands do not pay
for it (and still work in a build without it).
"""

from __future__ import annotations

import errno
import importlib
import ipaddress
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import click

from radiusd.cli.context import get_context, run_store
from radiusd.cli.listen_check import check_listen
from radiusd.cli.output import fail
from radiusd.config import Settings, find_config, load_settings

APP_MODULE = "radiusd.daemon"


def _check_binds(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise click.BadParameter(f"{value!r} is not an IPv4 or IPv6 address", ctx, param) from None
    return values


def _check_api_bind(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    host, sep, port = value.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(host)
        ok = bool(sep) and 0 < int(port) < 65536
    except ValueError:
        ok = False
    if not ok:
        raise click.BadParameter(f"{value!r} is not ADDR:PORT (e.g. 127.0.0.1:8080, [::1]:8080)", ctx, param)
    return value


def _check_workers(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    if value.strip().lower() == "auto":
        return 0  # radiusd.server.supervisor.resolve_workers
    if not value.strip().isdigit() or int(value) < 1:
        raise click.BadParameter(f"{value!r} is neither a number of processes (1 or more) nor 'auto'")
    return int(value)


def load_app_runner() -> Callable[..., Any]:
    """``radiusd.daemon.run``, imported only when the daemon starts."""
    try:
        module = importlib.import_module(APP_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name not in (APP_MODULE, APP_MODULE.rpartition(".")[0]):
            raise
        fail(f"the daemon ({APP_MODULE}) is not part of this build yet")
    run = getattr(module, "run", None)
    if not callable(run):
        fail(f"{APP_MODULE} has no run(settings) function")
    return cast(Callable[..., Any], run)


def refuse_readable_database(settings: Settings) -> None:
    """One error line when the SQLite database files are open to other users (they hold
    passwords and secrets), unless ``allow_readable_database`` is set."""
    from radiusd.store.engine import exposed_sqlite_files

    if settings.allow_readable_database:
        return
    exposed = exposed_sqlite_files(settings.effective_database_url())
    if exposed:
        listed = ", ".join(f"{path} (mode {mode:04o})" for path, mode in exposed)
        fail(
            f"the database holds passwords and secrets but other users may read it: {listed}; "
            "chmod 600 each, or set allow_readable_database = true"
        )


@click.command()
@click.option(
    "--config", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE", help="TOML configuration."
)
@click.option(
    "--bind",
    "binds",
    multiple=True,
    metavar="ADDR",
    callback=_check_binds,
    help="Address to listen on (repeatable; IPv4 or IPv6). Default from the config: 0.0.0.0.",
)
@click.option("--auth-port", type=click.IntRange(0, 65535), metavar="N", help="Authentication port (1812).")
@click.option("--acct-port", type=click.IntRange(0, 65535), metavar="N", help="Accounting port (1813).")
@click.option("--api-bind", metavar="ADDR:PORT", callback=_check_api_bind, help="Serve the HTTP admin API.")
@click.option(
    "--api-tls-cert",
    type=click.Path(exists=True, dir_okay=False),
    metavar="FILE",
    help="Serve the admin API over HTTPS with this PEM certificate (chain); needs --api-tls-key.",
)
@click.option(
    "--api-tls-key",
    type=click.Path(exists=True, dir_okay=False),
    metavar="FILE",
    help="PEM private key of --api-tls-cert.",
)
@click.option("-X", "--debug", is_flag=True, help="Print every packet and decision (secrets masked).")
@click.option("--demo", is_flag=True, help="Seed a demo NAS, plan and subscriber first (idempotent).")
@click.option(
    "--workers",
    callback=_check_workers,
    metavar="N|auto",
    help="Processes sharing the ports (SO_REUSEPORT); auto: CPU cores on PostgreSQL, 1 on SQLite. Default 1.",
)
def serve(
    config: Path | None,
    binds: tuple[str, ...],
    auth_port: int | None,
    acct_port: int | None,
    api_bind: str | None,
    api_tls_cert: str | None,
    api_tls_key: str | None,
    debug: bool,
    demo: bool,
    workers: int | None,
) -> None:
    """Run the RADIUS server."""
    cli_ctx = get_context()
    config_path = find_config(config or cli_ctx.config)
    settings = load_settings(
        config_path,
        database_url=cli_ctx.database,
        bind=binds or None,
        auth_port=auth_port,
        acct_port=acct_port,
        api_bind=api_bind,
        api_tls_cert=api_tls_cert,
        api_tls_key=api_tls_key,
        debug=True if debug else None,
        workers=workers,
    )
    refuse_readable_database(settings)
    if settings.eap:
        from radiusd.eap.build import check_engine

        try:
            check_engine(settings.eap)
        except ValueError as exc:
            fail(str(exc))
    trouble = check_listen(settings)
    if trouble is not None:
        fail(trouble)
    run = load_app_runner()
    if demo:
        from radiusd.cli.demo import seed_demo

        run_store(seed_demo, url=settings.effective_database_url())
    from radiusd.server.supervisor import serve_workers

    # config_path lets SIGHUP re-read the same file.
    try:
        serve_workers(settings, run, str(config_path) if config_path is not None else None)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        # another program took a port between the check and the daemon's own bind: say which
        fail(check_listen(settings) or f"cannot listen: {exc.strerror or exc}")
