"""radiusd_nodes: the registry of running daemons (and worker processes) on this database

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

Several daemons may share one PostgreSQL database. Each one inserts a row at start, refreshes
``heartbeat_at`` (the database's clock, so skewed hosts agree) every ``heartbeat_interval``
seconds with its request counters, and sets ``stopped_at`` at a clean exit. A row whose
heartbeat is older than three intervals belongs to a dead process (SIGKILL, power loss).
``protocol`` is the cluster protocol number: a daemon refuses to start beside a live node
that speaks another one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "radiusd_nodes",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("worker", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_interval", sa.Double(), nullable=False),
        sa.Column("schema_revision", sa.String(length=32), nullable=False),
        sa.Column("protocol", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("auth_requests", sa.BigInteger(), nullable=False),
        sa.Column("acct_requests", sa.BigInteger(), nullable=False),
        sa.Column("requests_per_second", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_radiusd_nodes")),
    )


def downgrade() -> None:
    op.drop_table("radiusd_nodes")
