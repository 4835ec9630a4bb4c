"""The asyncpg connection under a SQLAlchemy connection, inside the writer's transaction.

Writer operations on PostgreSQL send their batch statements straight to asyncpg (one prepared
statement over column arrays), skipping SQLAlchemy's per-execution work, while SQLAlchemy
still owns the transaction: its COMMIT or ROLLBACK covers what was sent here.

Used by the lease writes (lease_ops) and the accounting writes (accounting_ops).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection


async def driver(conn: AsyncConnection) -> Any:
    """The asyncpg connection of ``conn``, with the transaction SQLAlchemy holds open begun.

    SQLAlchemy's asyncpg adapter sends BEGIN lazily, with its first statement: when ours is
    the first, the adapter's own ``_start_transaction`` sends it (so its COMMIT and ROLLBACK
    cover our statements; a statement through SQLAlchemy if that hook is gone). Raises
    RuntimeError rather than write anything outside the transaction.
    """
    raw = _checked_out(conn)
    if raw is None:
        raw = await conn.get_raw_connection()
    found: Any = raw.driver_connection
    if not found.is_in_transaction():
        adapter = raw.dbapi_connection
        start = getattr(adapter, "_start_transaction", None)
        if start is not None and getattr(adapter, "_transaction", False) is None:
            await start()  # BEGIN alone: no statement round, no SQLAlchemy execution around it
        else:
            await conn.exec_driver_sql("SELECT 1")
        if not found.is_in_transaction():
            raise RuntimeError("batch rows must be written inside the writer's transaction")
    return found


def idle_driver(conn: AsyncConnection) -> Any | None:
    """The asyncpg connection of ``conn`` when it is checked out and no transaction is open on
    it (the writer then begins and commits one itself), else None."""
    raw = _checked_out(conn)
    if raw is None:
        return None
    found: Any = raw.driver_connection
    if found.is_in_transaction() or getattr(raw.dbapi_connection, "_transaction", None) is not None:
        return None
    return found


def _checked_out(conn: AsyncConnection) -> Any:
    """The pooled connection ``conn`` holds now, or None when it holds none (closed,
    invalidated: ``get_raw_connection`` then revalidates it, with I/O).

    What ``get_raw_connection`` returns in that case too (``Connection.connection`` gives its
    ``_dbapi_connection`` when set), without its greenlet: the writer asks once or twice per
    batch, and each greenlet cost about 40 µs of CPU."""
    sync = conn.sync_connection
    return None if sync is None else getattr(sync, "_dbapi_connection", None)
