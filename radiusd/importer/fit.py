"""Does a source value fit the column it is going to? Checked before anything is written.

A FreeRADIUS database may hold what our tables refuse: PostgreSQL rejects a NUL byte in text
and a value longer than a ``VARCHAR(n)``, both reject an integer beyond the column's range, and
one refused value would abort the whole import (it is one transaction). The translator asks
:func:`misfit` for every item and reports the row instead. Messages name the column and the
limit, never the value (it may be a password or a secret).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa

from radiusd.store.models import IPPool, Plan, RadiusSession, Router, Subscriber
from radiusd.store.tables import core_table

ROUTERS = core_table(Router)
PLANS = core_table(Plan)
SUBSCRIBERS = core_table(Subscriber)
POOLS = core_table(IPPool)
SESSIONS = core_table(RadiusSession)

INT32_MAX = 2**31 - 1
_LIMITS = ((sa.SmallInteger, 2**15 - 1), (sa.BigInteger, 2**63 - 1), (sa.Integer, INT32_MAX))
SHOWN = 48  # characters of a hostile subject (a user name, a NAS name) shown in a report


def misfit(table: sa.Table, values: Mapping[str, Any], names: Mapping[str, str] | None = None) -> str | None:
    """Why one of ``values`` (column -> value) cannot be stored in ``table``; None when all fit.
    ``names`` gives the source's name of a column, for the message (``shortname`` for ``name``)."""
    for column, value in values.items():
        if column not in table.c:
            continue
        problem = _problem(table.c[column].type, value)
        if problem is not None:
            return f"{(names or {}).get(column, column)} {problem}"
    return None


def _problem(kind: sa.types.TypeEngine[Any], value: Any) -> str | None:
    if isinstance(value, str):
        if "\x00" in value:
            return "contains a NUL byte"
        length = getattr(kind, "length", None)
        if length is not None and len(value) > length:
            return f"is longer than {length} characters ({len(value)})"
    elif isinstance(value, bool):
        return None
    elif isinstance(value, int):
        for base, limit in _LIMITS:
            if isinstance(kind, base) and not -limit - 1 <= value <= limit:
                return f"is out of range (at most {limit})"
    elif isinstance(value, list | tuple | dict) and any("\x00" in s for s in _strings(value)):
        return "contains a NUL byte"
    return None


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)


def shown(text: str) -> str:
    """``text`` as a report may print it: control characters escaped, at most SHOWN characters."""
    clean = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return clean if len(clean) <= SHOWN else f"{clean[: SHOWN - 3]}... ({len(text)} characters)"
