"""api idempotency keys

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07

The reply to each admin-API POST sent with an ``Idempotency-Key`` header, per token, so a
retried request (a billing system after a timeout) gets the first reply again and creates
nothing twice. Rows older than a day are pruned.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_idempotency_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_idempotency_keys")),
        sa.UniqueConstraint("token_id", "key", name=op.f("uq_api_idempotency_keys_token_id_key")),
    )
    op.create_index(op.f("ix_api_idempotency_keys_created_at"), "api_idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_api_idempotency_keys_created_at"), table_name="api_idempotency_keys")
    op.drop_table("api_idempotency_keys")
