"""A list command's output: JSON, or a table that names the database when it is empty.

Above both radiusd.cli.output (tables, JSON, errors) and radiusd.cli.context (which database
the command reads), so neither of those imports the other's way up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import click

from radiusd.cli.context import in_database
from radiusd.cli.output import print_json, print_table


def empty_in_database(empty: str) -> str:
    """``empty`` naming the database that was read (``no plans in sqlite:///...``), in a command."""
    if click.get_current_context(silent=True) is None:
        return empty
    return in_database(empty)


def render(
    records: Sequence[Mapping[str, Any]], columns: Sequence[str], *, as_json: bool, empty: str
) -> None:
    """A list command's output: a JSON list with ``--json``, else a table (``empty``, naming
    the database, when there are no records)."""
    if as_json:
        print_json(list(records))
    else:
        print_table(records, columns, empty=empty_in_database(empty) if not records else empty)
