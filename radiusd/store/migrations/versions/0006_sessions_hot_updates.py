"""HOT updates of open sessions: radius_sessions.closed_updated_at, fillfactor

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26

Every accounting update rewrites its session's row and its subscriber's usage row for the
day. PostgreSQL writes no index entry for an update (a HOT update) only when no indexed column
changed and the new version fits in the same page. Two things prevented it:

- ``updated_at`` changes with every update and was indexed (0005, for the daemon start's load
  of recently closed sessions; a partial index would not help: a column in its predicate or
  key blocks HOT all the same). It is replaced by an index on ``closed_updated_at``, a
  generated column: ``updated_at`` of a closed session, NULL while the session is open, so
  updates of open sessions leave it (and every other indexed column) unchanged.
- full pages (fillfactor 100): ``radius_sessions`` and ``service_usage`` get fillfactor 70
  (PostgreSQL only), room for the new versions of a page's rows until the old ones are pruned.

PostgreSQL: adding the stored column rewrites the table (with the new fillfactor) under an
exclusive lock. SQLite (no HOT): the column is VIRTUAL, since ALTER TABLE cannot add a stored
one; the models' CREATE TABLE makes it stored, which reads the same.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILLFACTOR = 70
CLOSED_UPDATED_AT_SQL = "CASE WHEN status = 'closed' THEN updated_at END"  # as in the models
_TABLES = ("radius_sessions", "service_usage")


def upgrade() -> None:
    postgresql = op.get_context().dialect.name == "postgresql"
    if postgresql:
        for table in _TABLES:
            op.execute(f"ALTER TABLE {table} SET (fillfactor = {FILLFACTOR})")
        op.add_column(
            "radius_sessions",
            sa.Column(
                "closed_updated_at",
                sa.DateTime(timezone=True),
                sa.Computed(CLOSED_UPDATED_AT_SQL, persisted=True),
                nullable=True,
            ),
        )
    else:
        op.execute(
            "ALTER TABLE radius_sessions ADD COLUMN closed_updated_at DATETIME "
            f"GENERATED ALWAYS AS ({CLOSED_UPDATED_AT_SQL}) VIRTUAL"
        )
    op.create_index(
        op.f("ix_radius_sessions_closed_updated_at"), "radius_sessions", ["closed_updated_at"], unique=False
    )
    op.drop_index(op.f("ix_radius_sessions_updated_at"), table_name="radius_sessions")


def downgrade() -> None:
    op.create_index(op.f("ix_radius_sessions_updated_at"), "radius_sessions", ["updated_at"], unique=False)
    op.drop_index(op.f("ix_radius_sessions_closed_updated_at"), table_name="radius_sessions")
    op.drop_column("radius_sessions", "closed_updated_at")
    if op.get_context().dialect.name == "postgresql":
        for table in _TABLES:
            op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
