"""Accounting-On/Off in the database: the sessions and leases of a rebooted NAS that this
node's memory does not hold (PostgreSQL, several nodes on one database).

A NAS that reboots sends Accounting-On, or Accounting-Off before it shuts down (RFC 2866
§5.1): every session it had is over. The accounting policy closes the sessions it holds in
memory (radiusd.policy.accounting_state) and the lease hook releases the items its allocator
knows (radiusd.policy.ipam_hooks); both are written over the stored state as usual. Another
node may hold sessions of the same NAS that this node never learnt of (the NAS failed over
between servers, or its announcement has not been read here yet): the operations below end
those in the same transaction, after this node's own writes of the batch, and announce them.

- :class:`NasSessionsOp` closes every session of the NAS still open in ``radius_sessions``
  (cause NAS-Reboot, stopped at the event time, the revision moved on so that a node still
  writing it over its old revision loses and rereads it), writes its closed record, and names
  the sessions on the ``radiusd_sessions`` channel: the other nodes read them into memory as
  any session closed elsewhere. Nothing is added to ``service_usage``: a closure carries no
  usage of its own (the usage was counted by the requests that reported it). Sessions started
  after the NAS sent the request (a login after the reboot, at another node) and sessions this
  node holds open in memory (opened by a later request of the same batch) are left alone.
- :class:`NasLeasesOp` reads the lease rows of the NAS's router still offered or leased and
  hands them to the IPAM service, which releases those its memory did not hold live and
  returns the lease operation, written here (the ``release`` guard, the history, the
  announcement on ``radiusd_leases``). When the router is a subnet entry that several NASes
  share, only the rows whose session is open from the rebooted NAS's address.

On SQLite (one node) memory holds every session and lease: the daemon does not use them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ipam import Lease
from radiusd.model.events import NAS_REBOOT
from radiusd.model.sessions import LiveSession

from . import rawpg
from .accounting_pg import _PG_CLOSED_COLS, SESSION_CHANNEL
from .lease_ops import V4, V6, LeaseOp, announce, lease_of, lease_select
from .models import RadiusSession
from .sessions_load import session_from_row
from .tables import core_table

_SESSIONS = core_table(RadiusSession)


def _close_sql() -> str:
    """$1 the NAS address, $2 its router id (which narrows the search to the partial index of
    open sessions by router), $3 the event time, $4 the sessions open in this node's memory,
    $5 the moment before which a session must have started.
    The closed records are built as the batch statement builds them (radiusd.store.accounting_pg)."""
    a_cols = [c for c, _ in _PG_CLOSED_COLS]
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in a_cols if c != "acct_unique_id")
    return (
        "WITH r AS (UPDATE radius_sessions SET status = 'closed', stopped_at = $3, "
        f"terminate_cause = '{NAS_REBOOT}', updated_at = GREATEST(updated_at, $3), rev = rev + 1 "
        "WHERE status = 'open' AND router_id = $2 AND nas_address = $1 AND started_at <= $5 "
        "AND acct_unique_id <> ALL($4::text[]) RETURNING *), "
        f"a AS (INSERT INTO radius_accounting ({', '.join(a_cols)}) "
        f"SELECT {', '.join(sql for _, sql in _PG_CLOSED_COLS)} FROM r "
        f"ON CONFLICT (acct_unique_id, started_at) DO UPDATE SET {updates}) "
        "SELECT * FROM r ORDER BY acct_unique_id"
    )


_CLOSE_SQL = _close_sql()


class NasSessionsOp:
    """Close a NAS's sessions still open in the database (see the module docstring).
    ``open_here`` gives, when the batch is written, the sessions of that NAS open in this
    node's memory (they are this node's to write); ``closed`` holds the sessions closed, as
    stored, once the transaction has committed."""

    order: ClassVar[int] = 55  # after the accounting of the batch (50): this node's own closures
    __slots__ = ("closed", "event_time", "nas_address", "node", "open_here", "router_id", "started_before")

    def __init__(
        self,
        nas_address: str,
        router_id: int | None,
        event_time: dt.datetime,
        started_before: dt.datetime | None = None,
        node: str | None = None,
        open_here: Callable[[], Collection[str]] | None = None,
    ) -> None:
        self.nas_address = nas_address
        self.router_id = router_id
        self.event_time = event_time
        #: sessions started later are not the rebooted NAS's (default: the event time)
        self.started_before = started_before or event_time
        self.node = node
        self.open_here = open_here
        self.closed: list[LiveSession] = []

    @classmethod
    async def apply_batch(cls, conn: AsyncConnection, ops: Sequence[NasSessionsOp]) -> None:
        if conn.dialect.name != "postgresql":
            return
        driver = await rawpg.driver(conn)
        node = next((op.node for op in ops if op.node is not None), None)
        announced: list[str] = []
        for op in ops:
            if op.router_id is None:
                continue  # (every NAS the daemon serves has a row: never expected)
            keep = sorted(op.open_here()) if op.open_here is not None else []
            args = (op.nas_address, op.router_id, op.event_time, keep, op.started_before)
            rows = await driver.fetch(_CLOSE_SQL, *args)
            op.closed = [session_from_row(r) for r in rows]
            announced += [s.unique_id for s in op.closed]
        if node is not None and announced:
            await announce(conn, node, announced, SESSION_CHANNEL)

    def rolled_back(self) -> None:
        self.closed = []


#: the IPAM service's part: given the live rows of the router, the lease operation releasing
#: those its memory did not hold live (None: nothing to release)
ReleaseStored = Callable[[list[Lease]], LeaseOp | None]


class NasLeasesOp:
    """Release a NAS's items still offered or leased in the database (see the module
    docstring), through ``release``; ``lease_op`` is what it wrote."""

    order: ClassVar[int] = 15  # after the batch's lease rows (10), before the sessions
    __slots__ = ("lease_op", "nas_address", "release", "router_id", "since")

    def __init__(
        self,
        router_id: int,
        release: ReleaseStored,
        nas_address: str | None = None,
        since: dt.datetime | None = None,
    ) -> None:
        self.router_id = router_id
        self.release = release
        #: a subnet entry shared by several NASes: only the leases of this address's sessions
        self.nas_address = nas_address
        #: when the NAS sent the reset: the leases of sessions started since are spared
        self.since = since
        self.lease_op: LeaseOp | None = None

    @classmethod
    async def apply_batch(cls, conn: AsyncConnection, ops: Sequence[NasLeasesOp]) -> None:
        if conn.dialect.name != "postgresql":
            return
        for op in ops:
            rows = await live_rows_of_router(conn, op.router_id, op.nas_address, op.since)
            lease_op = op.release(rows) if rows else None
            if lease_op:
                op.lease_op = lease_op
                await LeaseOp.apply_batch(conn, [lease_op])

    def rolled_back(self) -> None:
        lease_op, self.lease_op = self.lease_op, None
        if lease_op is not None:
            lease_op.rolled_back()


async def live_rows_of_router(
    conn: AsyncConnection, router_id: int, nas_address: str | None = None, since: dt.datetime | None = None
) -> list[Lease]:
    """The lease rows (both tables) offered or leased through ``router_id``, locked until the
    transaction ends (a write by another node waits for this release, then meets its guard),
    in the order of their key; with ``nas_address``, only those whose session is open from
    that address (the router is a subnet entry that other NASes share; this runs before the
    batch closes them); with ``since``, not those of a session open and started later (the
    NAS's new life). No index serves ``router_id``: a scan of the lease table, once per
    Accounting-On/Off."""
    out: list[Lease] = []
    for table, key in ((V4, "address"), (V6, "prefix")):
        stmt = (
            lease_select(table)
            .where(table.c.router_id == router_id, table.c.state.in_(("offered", "leased")))
            .order_by(table.c[key])
            .with_for_update(of=table)
        )
        key_col = table.c.session_key
        if nas_address is not None:
            mine = _open_sessions_of(router_id, nas_address)
            stmt = stmt.where(
                key_col.in_(mine if since is None else mine.where(_SESSIONS.c.started_at <= since))
            )
        elif since is not None:
            later = _open_sessions_of(router_id).where(_SESSIONS.c.started_at > since)
            stmt = stmt.where(sa.or_(key_col.is_(None), key_col.not_in(later)))
        out += [lease_of(r, key) for r in (await conn.execute(stmt)).mappings()]
    return out


def _open_sessions_of(router_id: int, nas_address: str | None = None) -> sa.Select[Any]:
    """The unique ids of the sessions open under ``router_id`` (from ``nas_address`` when
    given; the partial index of open sessions by router serves it)."""
    stmt = sa.select(_SESSIONS.c.acct_unique_id).where(
        _SESSIONS.c.status == "open", _SESSIONS.c.router_id == router_id
    )
    return stmt if nas_address is None else stmt.where(_SESSIONS.c.nas_address == nas_address)
