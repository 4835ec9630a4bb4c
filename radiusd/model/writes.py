"""What the group-commit writer (``radiusd.store.writer``) accepts, and how it refuses.

The policies build operations and submit them; the writer applies every operation of one
class together (``apply_batch``) in one transaction, and calls ``rolled_back`` on each when
that transaction fails. The policies catch :class:`WriterBusy` and :class:`WriterClosed`
without importing the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Protocol


class WriterBusy(RuntimeError):
    """The writer's queue is full: the request is dropped (and counted), not half-written."""


class WriterClosed(RuntimeError):
    """The writer is shutting down and takes no new work."""


class Operation(Protocol):
    """One unit of durable work. Operations of one class are applied together.

    A class may also set ``raw_postgresql = True``: on PostgreSQL its ``apply_batch`` writes
    only through the asyncpg connection (``radiusd.store.rawpg``), never through SQLAlchemy's,
    so the writer begins and commits a batch made of such classes alone on asyncpg directly."""

    #: Operation classes run in ascending ``order`` within a transaction (e.g. leases before
    #: the sessions that refer to them); ties keep first-arrival order.
    order: ClassVar[int]

    @classmethod
    async def apply_batch(cls, conn: Any, ops: Sequence[Any]) -> None:
        """Write every operation of the batch with as few statements as possible, on ``conn``
        (the writer's SQLAlchemy AsyncConnection: typed Any so that this floor needs no SQLAlchemy)."""

    def rolled_back(self) -> None:
        """Undo in-memory effects after the transaction that held this operation failed."""
