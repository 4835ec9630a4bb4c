"""Migration tests' way back: the schema taken down to an older revision on an open engine.

The daemon and CLI only ever upgrade (radiusd.store.engine.ensure_schema); the migration tests
also run each conversion's ``downgrade`` and come back up, so the round trip is tested too.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.store.engine import alembic_config


async def downgrade_schema(engine: AsyncEngine, revision: str) -> None:
    """Run the migrations' downgrades on ``engine`` down to ``revision``, in one transaction."""

    def run(sync_conn: sa.Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        command.downgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)
