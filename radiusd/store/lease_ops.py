"""Writer operations and row helpers for leases (issue 4: the lease is durable before the reply).

One IPAM change becomes, at most: an upsert of its lease row (``ipv4_ips`` keyed by address,
``ipv6_ips`` keyed by prefix: one row per item ever touched, so the database itself holds at
most one lease per address), an appended ``service_ip_assignments`` history row when a new
holder starts, and a ``released_at`` stamp on the open history row when a holder stops.

:class:`LeaseOp` carries ready-made row dicts (built by radiusd.policy.ipam_service at
allocation time); :meth:`LeaseOp.apply_batch` runs each kind of statement once for the whole
group commit (``INSERT ... ON CONFLICT (address) DO UPDATE`` with an executemany list, the
last state of an address in the batch winning; the same statements on SQLite and
PostgreSQL). Upserts are idempotent, so a retransmitted request after a crash is harmless.

Row format of the lease state (the ``state`` check constraint has no ``free``): an item that
is free but remembers its last holder (for stickiness) is stored as ``released`` with
``expires_at`` NULL; :func:`row_state` and :func:`lease_state` convert.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ipam import LeaseState

from .models import IPv4IP, IPv6IP, ServiceIPAssignment

V4: sa.Table = IPv4IP.__table__  # type: ignore[assignment]
V6: sa.Table = IPv6IP.__table__  # type: ignore[assignment]
HISTORY: sa.Table = ServiceIPAssignment.__table__  # type: ignore[assignment]

_LEASE_COLUMNS = ("pool_id", "state", "owner", "router_id", "session_key", "expires_at", "updated_at")
#: rows per statement (bound-parameter limits: SQLite 32766, asyncpg 32767; 9 columns a row)
CHUNK = 1000


def row_state(state: LeaseState, expires: float | None) -> str:
    """Lease state -> the ``state`` column (free is stored as released without expiry)."""
    return "released" if state is LeaseState.FREE else state.value


def lease_state(state: str, expires_at: dt.datetime | None) -> LeaseState:
    """The ``state`` column -> lease state (released without expiry is free)."""
    if state == "released" and expires_at is None:
        return LeaseState.FREE
    return LeaseState(state)


def ts(value: float | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value, dt.UTC)


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


async def upsert_rows(
    conn: AsyncConnection, v4: Iterable[dict[str, Any]], v6: Iterable[dict[str, Any]]
) -> None:
    """Upsert lease rows (dicts with ``address`` or ``prefix`` + ``kind`` and the lease columns);
    for an address given several times the last dict wins (one statement must not touch a row
    twice)."""
    for table, key, rows in ((V4, "address", v4), (V6, "prefix", v6)):
        last = {row[key]: row for row in rows}
        if not last:
            continue
        ins = _insert(conn, table)
        cols = _LEASE_COLUMNS + (("kind",) if table is V6 else ())
        stmt = ins.on_conflict_do_update(
            index_elements=[key], set_={c: getattr(ins.excluded, c) for c in cols}
        )
        values = list(last.values())
        for i in range(0, len(values), CHUNK):
            await conn.execute(stmt, values[i : i + CHUNK])


_END = (
    sa.update(HISTORY)
    .where(HISTORY.c.address == sa.bindparam("a"), HISTORY.c.released_at.is_(None))
    .values(released_at=sa.bindparam("t"))
)


async def write_history(
    conn: AsyncConnection, ended: Sequence[dict[str, Any]], started: Sequence[dict[str, Any]]
) -> None:
    """Close the open history rows of ``ended`` addresses (``{"a": address, "t": time}``),
    then append ``started`` assignment rows."""
    if ended:
        for i in range(0, len(ended), CHUNK):
            await conn.execute(_END, list(ended[i : i + CHUNK]))
    if started:
        for i in range(0, len(started), CHUNK):
            await conn.execute(sa.insert(HISTORY), list(started[i : i + CHUNK]))


class LeaseOp:
    """Lease rows and history rows of one request, for the group-commit writer.

    ``undo`` runs when the transaction that carried the op failed (radiusd.store.writer):
    the IPAM service passes a closure that rolls its allocator changes back (Access path) or
    marks the addresses for re-synchronisation (accounting hooks, settled eagerly).
    """

    order: ClassVar[int] = 10  # before sessions (accounting ops use 50)
    __slots__ = ("ended", "started", "undo", "v4", "v6")

    def __init__(
        self,
        v4: list[dict[str, Any]] | None = None,
        v6: list[dict[str, Any]] | None = None,
        started: list[dict[str, Any]] | None = None,
        ended: list[dict[str, Any]] | None = None,
        undo: Callable[[], None] | None = None,
    ) -> None:
        self.v4 = v4 or []
        self.v6 = v6 or []
        self.started = started or []
        self.ended = ended or []
        self.undo = undo

    def __bool__(self) -> bool:
        return bool(self.v4 or self.v6 or self.started or self.ended)

    @classmethod
    async def apply_batch(cls, conn: AsyncConnection, ops: Sequence[LeaseOp]) -> None:
        v4: list[dict[str, Any]] = []
        v6: list[dict[str, Any]] = []
        started: list[dict[str, Any]] = []
        ended: list[dict[str, Any]] = []
        for op in ops:
            v4 += op.v4
            v6 += op.v6
            started += op.started
            ended += op.ended
        await upsert_rows(conn, v4, v6)
        await write_history(conn, ended, started)

    def rolled_back(self) -> None:
        undo, self.undo = self.undo, None  # at most once, whatever the writer does
        if undo is not None:
            undo()
