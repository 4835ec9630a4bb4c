"""coa_audit: every Disconnect-/CoA-Request sent to a NAS and its outcome

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

Plain SQLAlchemy types (not the models' decorators), as in 0001.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "coa_audit",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("router_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("session_id", sa.BigInteger(), nullable=True),
        sa.Column("username", sa.String(length=253), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error_cause", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('disconnect', 'coa')", name=op.f("ck_coa_audit_kind")),
        sa.CheckConstraint(
            "outcome IN ('pending', 'ack', 'nak', 'timeout', 'error')", name=op.f("ck_coa_audit_outcome")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coa_audit")),
    )
    op.create_index(op.f("ix_coa_audit_created_at"), "coa_audit", ["created_at"])
    op.create_index(op.f("ix_coa_audit_session_id"), "coa_audit", ["session_id"])
    op.create_index(op.f("ix_coa_audit_username"), "coa_audit", ["username"])


def downgrade() -> None:
    op.drop_index(op.f("ix_coa_audit_username"), table_name="coa_audit")
    op.drop_index(op.f("ix_coa_audit_session_id"), table_name="coa_audit")
    op.drop_index(op.f("ix_coa_audit_created_at"), table_name="coa_audit")
    op.drop_table("coa_audit")
