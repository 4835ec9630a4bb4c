"""Secret options of the admin CLI (NAS secrets, passwords, router-API and SNMP credentials).

A value given on the command line is visible to every local user while the command runs
(``ps``, ``/proc/PID/cmdline``) and stays in shell history. Every secret option therefore also
takes ``-``: the value is then read from standard input (one line, the line end stripped), or
prompted for without echo when standard input is a terminal. Several ``-`` options in one
command read successive lines, in the order the options are given. Values are never printed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

FROM_STDIN = "-"

_Command = TypeVar("_Command", bound=Callable[..., Any])


def _read(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value != FROM_STDIN:
        return value
    name = param.opts[0] if param.opts else str(param.name)
    stdin = sys.stdin  # looked up at call time: CliRunner swaps it (click 8.5 deprecates get_text_stream)
    if stdin.isatty():
        entered: str = click.prompt(name, hide_input=True, err=True)
        return entered
    line = stdin.readline()
    if not line:
        raise click.BadParameter("'-' given but standard input is empty", ctx=ctx, param=param)
    secret = line.rstrip("\r\n")
    if not secret:
        raise click.BadParameter(
            "'-' given but the line read from standard input is empty", ctx=ctx, param=param
        )
    return secret


def secret_option(*decls: str, help: str, **kwargs: Any) -> Callable[[_Command], _Command]:
    """``click.option`` for a secret: never printed; ``-`` reads it from standard input."""
    return click.option(
        *decls,
        callback=_read,
        help=f"{help} Never printed; '-' reads it from standard input.",
        **kwargs,
    )
