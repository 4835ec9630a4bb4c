"""Is the database at the revision this radiusd ships? Answered cheaply when it is.

Every admin command checks the schema before it runs. Alembic answers exactly, but importing
it and its migration scripts costs more than the rest of a short command. In the common case
(database at the head revision) this module answers from the ``revision`` lines of the
migration files and one ``SELECT`` on ``alembic_version``; anything else (a new database, an
older revision, a file it cannot read) is left to Alembic (:func:`radiusd.cli.context.prepare_schema`).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE)


def shipped_head(versions: Path) -> str | None:
    """The one head revision of the migration files in ``versions`` (None: not one clear head)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        found = dict(_ASSIGNMENT.findall(path.read_text(encoding="utf-8")))
        try:
            revision = ast.literal_eval(found["revision"])
            down = ast.literal_eval(found.get("down_revision", "None"))
        except (KeyError, ValueError, SyntaxError):
            return None
        if not isinstance(revision, str):
            return None
        revisions.add(revision)
        parents.update([down] if isinstance(down, str) else down or ())
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


async def at_head(engine: AsyncEngine) -> bool:
    """True when the database is known to be at the shipped head revision (cheap check)."""
    import sqlalchemy as sa
    from sqlalchemy.exc import DBAPIError

    from radiusd.store.engine import MIGRATIONS_DIR

    head = shipped_head(MIGRATIONS_DIR / "versions")
    if head is None:
        return False
    try:
        async with engine.connect() as conn:
            stored = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalars().all()
    except DBAPIError:  # no alembic_version table: a new database
        return False
    return list(stored) == [head]
