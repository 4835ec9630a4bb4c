"""``radiusd serve``: parse the daemon's flags into Settings and hand over to radiusd.server.app.

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
from radiusd.config import find_config, load_settings

APP_MODULE = "radiusd.server.app"


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


def load_app_runner() -> Callable[..., Any]:
    """``radiusd.server.app.run``, imported only when the daemon starts."""
    try:
        module = importlib.import_module(APP_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name not in (APP_MODULE, "radiusd.server"):
            raise
        fail(f"the daemon ({APP_MODULE}) is not part of this build yet")
    run = getattr(module, "run", None)
    if not callable(run):
        fail(f"{APP_MODULE} has no run(settings) function")
    return cast(Callable[..., Any], run)


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
@click.option("-X", "--debug", is_flag=True, help="Print every packet and decision (secrets masked).")
@click.option("--demo", is_flag=True, help="Seed a demo NAS, plan and subscriber first (idempotent).")
def serve(
    config: Path | None,
    binds: tuple[str, ...],
    auth_port: int | None,
    acct_port: int | None,
    api_bind: str | None,
    debug: bool,
    demo: bool,
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
        debug=True if debug else None,
    )
    trouble = check_listen(settings)
    if trouble is not None:
        fail(trouble)
    run = load_app_runner()
    if demo:
        from radiusd.cli.demo import seed_demo

        run_store(seed_demo, url=settings.effective_database_url())
    # config_path lets SIGHUP re-read the same file.
    try:
        run(settings, config_path=str(config_path) if config_path is not None else None)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        # another program took a port between the check and the daemon's own bind: say which
        fail(check_listen(settings) or f"cannot listen: {exc.strerror or exc}")
