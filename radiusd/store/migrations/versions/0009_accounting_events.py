"""radius_accounting_events: Accounting-Requests that are not session events, recorded

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26

An Acct-Status-Type other than Start, Interim-Update, Stop, Accounting-On and Accounting-Off
(Failed, RFC 2867's tunnel types, vendor values) was dropped unanswered, so the NAS
retransmitted it and could mark the server dead. Such a request is now written to this table
and then acknowledged (RFC 2866 §2). ``digest`` (MD5 of the NAS address and the attributes
other than Acct-Delay-Time and Message-Authenticator) is unique: a retransmission is one row.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "radius_accounting_events",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("nas_address", sa.String(length=64), nullable=False),
        sa.Column("router_id", sa.Integer(), nullable=True),
        sa.Column("status_type", sa.BigInteger(), nullable=False),
        sa.Column("status_name", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=253), nullable=True),
        sa.Column("acct_session_id", sa.String(length=255), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_radius_accounting_events")),
        sa.UniqueConstraint("digest", name=op.f("uq_radius_accounting_events_digest")),
    )
    op.create_index(
        op.f("ix_radius_accounting_events_event_time"), "radius_accounting_events", ["event_time"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_radius_accounting_events_event_time"), table_name="radius_accounting_events")
    op.drop_table("radius_accounting_events")
