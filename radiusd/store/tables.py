"""The Core table of an ORM model, typed: what the writer and bulk paths build statements on.

SQLAlchemy types ``Model.__table__`` as ``FromClause``; for a declarative model it is always
a :class:`sqlalchemy.Table`. Checking that once here spares each module a type-ignore.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def core_table(model: type[Any]) -> sa.Table:
    """``model.__table__`` as the :class:`sqlalchemy.Table` it is."""
    t = model.__table__
    assert isinstance(t, sa.Table), f"{model.__name__} has no Table"
    return t
