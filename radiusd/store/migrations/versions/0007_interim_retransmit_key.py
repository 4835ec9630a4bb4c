"""radius_interim_updates: the retransmit key by session_id, no separate session_id index

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26

The unique constraint that makes a retransmitted point one row was on (acct_unique_id,
status_type, session_time, input_octets, output_octets), beside an index on session_id. Every
accounting request inserts a row, so both were written each time, the first comparing text.
session_id names the same session as acct_unique_id (the row's session, found by it), so the
constraint is now on (session_id, status_type, session_time, input_octets, output_octets): the
same rows are unique, and it serves the lookups by session_id (a session's series, the usage
export's join, the cascade from radius_sessions), so the separate index goes.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = "uq_radius_interim_updates_retransmit"
_TAIL = ["status_type", "session_time", "input_octets", "output_octets"]


def upgrade() -> None:
    with op.batch_alter_table("radius_interim_updates") as batch:
        batch.drop_constraint(_NAME, type_="unique")
        batch.create_unique_constraint(_NAME, ["session_id", *_TAIL])
        batch.drop_index(op.f("ix_radius_interim_updates_session_id"))


def downgrade() -> None:
    with op.batch_alter_table("radius_interim_updates") as batch:
        batch.create_index(op.f("ix_radius_interim_updates_session_id"), ["session_id"])
        batch.drop_constraint(_NAME, type_="unique")
        batch.create_unique_constraint(_NAME, ["acct_unique_id", *_TAIL])
