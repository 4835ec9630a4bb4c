"""routers: RadSec (RADIUS over TLS) clients, identified by their certificate

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07

A NAS marked ``radsec`` talks to the daemon over TLS (RFC 6614) and is identified by its
client certificate: its SHA-256 fingerprint (``radsec_fingerprint``, 64 hex digits) and/or its
subject (``radsec_subject``). Its UDP requests are refused from then on: the point of moving a
NAS to TLS is that MD5-protected UDP is not safe on the path it takes. Both identities are
unique, so a certificate names at most one NAS.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ADD/DROP COLUMN, not a batch copy: other tables' foreign keys point at routers
    op.add_column("routers", sa.Column("radsec", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("routers", sa.Column("radsec_fingerprint", sa.String(length=64), nullable=True))
    op.add_column("routers", sa.Column("radsec_subject", sa.String(length=512), nullable=True))
    op.create_index("ix_routers_radsec_fingerprint", "routers", ["radsec_fingerprint"], unique=True)
    op.create_index("ix_routers_radsec_subject", "routers", ["radsec_subject"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_routers_radsec_subject", table_name="routers")
    op.drop_index("ix_routers_radsec_fingerprint", table_name="routers")
    for column in ("radsec_subject", "radsec_fingerprint", "radsec"):
        op.drop_column("routers", column)
