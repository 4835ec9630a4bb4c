"""Background loops that survive a database outage yet stop when they are told to.

A periodic job (storage maintenance, the change poll, heartbeats, sweeps, feeds) catches
``Exception`` so a database that is away costs one log line, not the loop. When the daemon stops
it cancels the job; if the cancellation lands in the middle of a transaction, the clean-up
(closing the connection, disposing an engine) can raise an ordinary exception of its own, such
as SQLAlchemy's ``PendingRollbackError``. Caught as an outage, it would swallow the cancellation
and the loop would sleep on while shutdown waits for it.
"""

from __future__ import annotations

import asyncio


def reraise_if_cancelled(exc: BaseException) -> None:
    """Raise CancelledError when the current task is being cancelled (call it in ``except
    Exception``): the error came from the clean-up of a cancelled step, not from the database."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError() from exc
