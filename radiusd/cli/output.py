"""Rendering for the admin CLI: rich tables, JSON, ``key: value`` records and one-line errors.

Everything a command prints goes through here, so the output contract (table on a terminal,
a JSON list with ``--json``, an object for ``show --json``, one ``radiusd: error: ...`` line on
stderr) lives in one place.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.table import Table

PROG = "radiusd"
MASK = "********"


_Command = TypeVar("_Command", bound=Callable[..., Any])


def json_flag(instead_of: str = "a table") -> Callable[[_Command], _Command]:
    """The ``--json`` option every listing and showing command takes (as ``as_json``)."""
    return click.option("--json", "as_json", is_flag=True, help=f"Print JSON instead of {instead_of}.")


json_option = json_flag()
EXIT_ERROR = 1
EXIT_USAGE = 2


class CliError(click.ClickException):
    """A runtime or data error: printed as one line on stderr, exit status 1."""

    exit_code = EXIT_ERROR

    def show(self, file: Any = None) -> None:
        print_error(self.format_message(), file=file)


def one_line(message: str) -> str:
    """``message`` squeezed onto one line (newlines and runs of spaces become one space)."""
    return " ".join(str(message).split())


def print_error(message: str, *, file: Any = None) -> None:
    """Print ``radiusd: error: <message>`` as exactly one line on stderr."""
    click.echo(f"{PROG}: error: {one_line(message)}", file=file or sys.stderr)


def fail(message: str) -> NoReturn:
    """Abort the current command with a one-line error and exit status 1."""
    raise CliError(message)


def _console() -> Console:
    # Not a terminal (a pipe, a test): do not squeeze columns into 80 characters.
    out = click.get_text_stream("stdout")
    width = None if out.isatty() else 200
    return Console(file=out, width=width, highlight=False, soft_wrap=False)


def format_value(value: Any) -> str:
    """A JSON-ish value as table text: ``-`` for missing, lists comma-joined, maps as k=v."""
    if value is None or value == "" or value == [] or value == {}:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={format_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        if all(isinstance(v, list | tuple) and len(v) == 2 for v in value):
            return ", ".join(f"{k}={format_value(v)}" for k, v in value)  # attribute pairs
        return ", ".join(format_value(v) for v in value)
    return str(value)


def print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout (keys in their given order)."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], *, empty: str) -> None:
    """A rich table of ``rows`` with the given ``columns`` (missing keys show as ``-``)."""
    if not rows:
        click.echo(empty)
        return
    table = Table(show_header=True, header_style="bold", show_lines=False)
    for name in columns:
        table.add_column(name.replace("_", " "), overflow="fold")
    for row in rows:
        table.add_row(*(format_value(row.get(name)) for name in columns))
    _console().print(table)


def print_record(record: Mapping[str, Any], *, extra: Iterable[tuple[str, str]] = ()) -> None:
    """One object as aligned ``key: value`` lines, then ``extra`` lines (e.g. a masked secret)."""
    items = [(k, format_value(v)) for k, v in record.items()]
    items.extend(extra)
    width = max((len(k) for k, _ in items), default=0)
    for key, value in items:
        click.echo(f"{key + ':':<{width + 1}} {value}")


def render(
    records: Sequence[Mapping[str, Any]], columns: Sequence[str], *, as_json: bool, empty: str
) -> None:
    """A list command's output: a JSON list with ``--json``, else a table."""
    if as_json:
        print_json(list(records))
    else:
        print_table(records, columns, empty=empty)


def pick_columns(records: Sequence[Mapping[str, Any]], preferred: Sequence[str]) -> list[str]:
    """The ``preferred`` columns the records actually have (all keys if none of them match)."""
    if not records:
        return list(preferred)
    keys = list(records[0].keys())
    chosen = [name for name in preferred if name in keys]
    return chosen or keys
