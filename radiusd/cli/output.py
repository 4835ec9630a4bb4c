"""Rendering for the admin CLI: tables, JSON, ``key: value`` records and one-line errors.

Everything a command prints goes through here, so the output contract (a table, a JSON list
with ``--json``, an object for ``show --json``, one ``radiusd: error: ...`` line on stderr)
lives in one place. Every table has one style, that of :class:`TableWriter`: a header row and
columns aligned with two spaces, the values printed verbatim (no markup or emoji codes, so
``2001:db8:100:100::/56`` stays what it is), which also streams for lists too long to hold.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, Any, NoReturn, TypeVar

import click

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


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 session``, ``2 sessions``, ``0 sessions`` (``plural_form`` for irregular words)."""
    return f"{count} {singular if count == 1 else plural_form or singular + 's'}"


#: control characters in a cell: a line break would break the table, an escape sequence the terminal
_CONTROL = {c: " " if chr(c) in "\t\n\r" else "?" for c in (*range(0x20), 0x7F)}


class TableWriter:
    """Aligned columns under a header, sized on the first ``sample`` rows.

    Rows are held until ``sample`` of them have arrived (or :meth:`close`), then written; later
    rows are written at once at those widths, so a streamed list needs no more memory than that.
    """

    def __init__(self, columns: Sequence[str], out: IO[str], *, sample: int = 200) -> None:
        self.columns = list(columns)
        self.out = out
        self.sample = sample
        self.count = 0
        self._widths = [len(name) for name in columns]
        self._held: list[list[str]] | None = []

    def _emit(self, cells: Sequence[str]) -> None:
        line = "  ".join(cell.ljust(width) for cell, width in zip(cells, self._widths, strict=True))
        self.out.write(line.rstrip() + "\n")

    def _flush(self) -> None:
        held, self._held = self._held or [], None
        self._emit([name.replace("_", " ") for name in self.columns])
        for cells in held:
            self._emit(cells)

    def add(self, row: Mapping[str, Any]) -> None:
        cells = [format_value(row.get(name)).translate(_CONTROL) for name in self.columns]
        self.count += 1
        if self._held is None:
            self._emit(cells)
            return
        self._held.append(cells)
        self._widths = [max(w, len(c)) for w, c in zip(self._widths, cells, strict=True)]
        if len(self._held) >= self.sample:
            self._flush()

    def close(self, empty: str) -> int:
        """Write what is held (or ``empty`` when there were no rows); returns the row count."""
        if self.count == 0:
            if empty:
                self.out.write(empty + "\n")
        elif self._held is not None:
            self._flush()
        return self.count


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], *, empty: str) -> None:
    """A table of ``rows`` with the given ``columns`` (missing keys show as ``-``)."""
    writer = TableWriter(columns, sys.stdout, sample=max(len(rows), 1))
    for row in rows:
        writer.add(row)
    writer.close(empty)


def print_record(record: Mapping[str, Any], *, extra: Iterable[tuple[str, str]] = ()) -> None:
    """One object as aligned ``key: value`` lines, then ``extra`` lines (e.g. a masked secret)."""
    items = [(k, format_value(v)) for k, v in record.items()]
    items.extend(extra)
    width = max((len(k) for k, _ in items), default=0)
    for key, value in items:
        click.echo(f"{key + ':':<{width + 1}} {value}")


def pick_columns(records: Sequence[Mapping[str, Any]], preferred: Sequence[str]) -> list[str]:
    """The ``preferred`` columns the records actually have (all keys if none of them match)."""
    if not records:
        return list(preferred)
    keys = list(records[0].keys())
    chosen = [name for name in preferred if name in keys]
    return chosen or keys
