"""Session revisions: several nodes write one session's rows without counting twice

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07

A session's requests may reach any node (a NAS that fails over or balances). Each node keeps
the sessions in memory and computes usage deltas against what it holds, so a node whose memory
is behind another's would count the other's delta again. ``radius_sessions.rev`` counts the
writes of a row; a node writes a session only where the stored revision is the one its memory
was computed from (radiusd.store.accounting_ops), and rereads it otherwise. The accounting
batch's session row type carries the revision written and the one expected.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a plain ADD/DROP COLUMN: batch mode would copy the table, which SQLite refuses for the
    # generated column closed_updated_at
    op.add_column("radius_sessions", sa.Column("rev", sa.BigInteger(), nullable=False, server_default="0"))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TYPE radiusd_acct_session_row ADD ATTRIBUTE rev int8, ADD ATTRIBUTE rev_before int8"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TYPE radiusd_acct_session_row DROP ATTRIBUTE rev_before, DROP ATTRIBUTE rev")
    op.drop_column("radius_sessions", "rev")
