"""Reading and checking a subscriber CSV file before it reaches the store.

The header row names the columns (``username,password`` and optionally ``plan,pool,static_ip,
status``, in any order, case-insensitive). Rows are numbered like the store numbers them:
1 is the first data row; blank lines are skipped and not counted. The whole file is checked
before anything is written; the first problem found raises :class:`CsvError` naming the row.
Values other than the password are stripped of surrounding spaces; empty optional values are
left out (the store then uses its defaults).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable

REQUIRED_COLUMNS = ("username", "password")
OPTIONAL_COLUMNS = ("plan", "pool", "static_ip", "status")
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
STATUSES = ("active", "suspended", "disabled")


class CsvError(ValueError):
    """The CSV file cannot be imported; the message is one line and names the row."""


def _header(raw: list[str]) -> list[str]:
    names = [name.strip().lower().replace("-", "_").replace(" ", "_") for name in raw]
    if names and names[0].startswith("\ufeff"):
        names[0] = names[0][1:]
    seen: set[str] = set()
    for name in names:
        if not name:
            raise CsvError("header: empty column name")
        if name not in KNOWN_COLUMNS:
            raise CsvError(f"header: unknown column {name!r} (known: {', '.join(KNOWN_COLUMNS)})")
        if name in seen:
            raise CsvError(f"header: column {name!r} appears twice")
        seen.add(name)
    missing = [name for name in REQUIRED_COLUMNS if name not in seen]
    if missing:
        raise CsvError(f"header: missing column {', '.join(repr(m) for m in missing)}")
    return names


def read_subscriber_rows(lines: Iterable[str]) -> list[dict[str, str]]:
    """Parse and check CSV ``lines``; return one dict per data row (columns -> values)."""
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise CsvError("empty file: expected a header row (username,password,...)")
        names = _header(header)
        width = len(names)
        rows: list[dict[str, str]] = []
        first_row_of: dict[str, int] = {}
        for fields in reader:
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # blank line
            number = len(rows) + 1
            if len(fields) != width:
                raise CsvError(
                    f"row {number}: expected {width} fields ({','.join(names)}), found {len(fields)}"
                )
            row: dict[str, str] = {}
            for name, value in zip(names, fields, strict=True):
                if name != "password":
                    value = value.strip()
                if value:
                    row[name] = value
            username = row.get("username")
            if not username:
                raise CsvError(f"row {number}: empty username")
            if "password" not in row:
                raise CsvError(f"row {number}: empty password for {username!r}")
            status = row.get("status")
            if status is not None:
                status = row["status"] = status.lower()
                if status not in STATUSES:
                    raise CsvError(f"row {number}: status {status!r} is not one of {', '.join(STATUSES)}")
            previous = first_row_of.setdefault(username, number)
            if previous != number:
                raise CsvError(f"row {number}: username {username!r} repeats row {previous}")
            rows.append(row)
    except csv.Error as exc:
        raise CsvError(f"line {reader.line_num}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise CsvError(f"not UTF-8 text ({exc.reason})") from None
    return rows
