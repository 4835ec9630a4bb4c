"""managed_devices and device_connections: what LLDP discovery found, and when

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07

``source`` says who made a row: ``manual`` (typed in; every existing row) or ``lldp``
(written by ``radiusd discover lldp --apply``); ``discovered_at`` is when discovery last
wrote it. ``managed_devices.chassis_id`` is the LLDP chassis ID (a MAC as aa:bb:cc:dd:ee:ff,
or the text of the other subtypes), so the next run matches the device by it (IEEE 802.1AB
section 8.5.2). Discovery removes only links whose ``source`` is ``lldp``.

``discovery_runs`` records each run (who, when, what it found and whether it was applied); a
daemon claims a row before its periodic run, so a cluster runs discovery once per interval.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("managed_devices", "device_connections")


def upgrade() -> None:
    # plain ADD COLUMN, not a batch copy: other tables' foreign keys point at both tables
    for table in TABLES:
        op.add_column(
            table, sa.Column("source", sa.String(length=16), nullable=False, server_default="manual")
        )
        op.add_column(table, sa.Column("discovered_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("managed_devices", sa.Column("chassis_id", sa.String(length=255), nullable=True))
    op.create_index("ix_managed_devices_chassis_id", "managed_devices", ["chassis_id"])
    op.create_table(
        "discovery_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("node", sa.String(length=128), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discovery_runs")),
    )
    op.create_index(op.f("ix_discovery_runs_started_at"), "discovery_runs", ["started_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_discovery_runs_started_at"), table_name="discovery_runs")
    op.drop_table("discovery_runs")
    op.drop_index("ix_managed_devices_chassis_id", table_name="managed_devices")
    op.drop_column("managed_devices", "chassis_id")
    for table in reversed(TABLES):
        op.drop_column(table, "discovered_at")
        op.drop_column(table, "source")
