"""Alembic environment (async).

Run programmatically by :func:`radiusd.store.engine.ensure_schema`, which hands over an open
connection in ``config.attributes["connection"]``; run by the ``alembic`` command (developers:
``alembic -c radiusd/store/alembic.ini revision --autogenerate -m ...``), it opens its own engine
from ``sqlalchemy.url`` or, when that is empty, from the radiusd settings (RADIUSD_DATABASE_URL).
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from radiusd.store.partitions import include_object_for
from radiusd.store.schema import metadata

config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from radiusd.config import load_settings

    return load_settings().effective_database_url()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        include_object=include_object_for(connection.dialect.name),
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_own_engine() -> None:
    from radiusd.store.engine import begin_write, create_engine

    engine = create_engine(_url())
    try:
        async with begin_write(engine) as conn:
            await conn.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    from radiusd.store.engine import normalise_url

    context.configure(url=normalise_url(_url()), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    given = config.attributes.get("connection")
    if given is not None:
        _run(given)
    else:
        asyncio.run(_run_own_engine())
