"""routers: the RouterOS API over TLS by default, with a CA file or a pinned fingerprint

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

The plain RouterOS API (port 8728) sends the router's password, and the subscribers' PPPoE
passwords pushed to it, in clear. API-SSL (8729) is now what a router with API credentials
uses: every such row is switched to it (``api_tls``). ``api_ca_file`` and ``api_fingerprint``
(SHA-256 of the certificate, for self-signed routers) say how its certificate is checked;
``api_insecure_plain`` marks a router whose plain API was chosen explicitly.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ADD/DROP COLUMN, not a batch copy: other tables' foreign keys point at routers
    op.add_column("routers", sa.Column("api_ca_file", sa.Text(), nullable=True))
    op.add_column("routers", sa.Column("api_fingerprint", sa.String(length=64), nullable=True))
    op.add_column(
        "routers", sa.Column("api_insecure_plain", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    routers = sa.table("routers", sa.column("api_username", sa.String), sa.column("api_tls", sa.Boolean))
    op.execute(routers.update().where(routers.c.api_username.is_not(None)).values(api_tls=True))


def downgrade() -> None:
    for column in ("api_insecure_plain", "api_fingerprint", "api_ca_file"):
        op.drop_column("routers", column)
