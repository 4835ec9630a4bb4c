"""What other nodes write to the lease tables, as it happens (PostgreSQL ``LISTEN``).

Every batch of lease rows a node commits is announced on one channel (``pg_notify`` inside the
writer's transaction: see :mod:`radiusd.store.lease_ops`), naming the node and the items. A
:class:`LeaseFeed` holds one dedicated connection listening on it and hands the items written
by *other* nodes to a callback; it never reads the rows itself. The rows are read through the
writer (:class:`LeaseReadOp`), in the same order as this node's own writes, so a row read
there can never be older than what this node's memory already holds for a settled item.

A notification is lost while the listening connection is down. On every (re)connection the
feed therefore asks, through ``on_gap``, for every row changed since a moment safely before
the connection was lost (``updated_at`` of the lease rows is the change feed here); until
the connection is back, it asks the same every ``poll_interval`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection

from ipam import Lease
from radiusd.logs import get_logger
from radiusd.tasks import reraise_if_cancelled

from .lease_ops import NOTIFY_CHANNEL, V4, V6, lease_of, lease_select, read_leases

log = get_logger("radiusd.lease-feed")

#: how far before the last moment the feed was known to be connected a catch-up read starts
#: (rows stamped by a node whose clock is behind this one's still fall inside)
CATCH_UP_MARGIN = 120.0


def asyncpg_dsn(url: URL) -> str:
    """A SQLAlchemy PostgreSQL URL as a libpq-style DSN for asyncpg (driver name dropped; a
    list of ``host=`` parameters, several servers of which one is the primary, as the
    comma-separated hosts asyncpg reads)."""
    hosts = url.query.get("host")
    if isinstance(hosts, tuple) and len(hosts) > 1:
        rest = {k: v for k, v in url.query.items() if k != "host"}
        plain = url.set(drivername="postgresql", host=None, port=None, query=rest)
        text = plain.render_as_string(hide_password=False)
        scheme, _, tail = text.partition("://")
        userinfo, at, path = tail.partition("@") if "@" in tail.split("/", 1)[0] else ("", "", tail)
        return f"{scheme}://{userinfo}{at}{','.join(hosts)}{path}"
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class LeaseFeed:
    """Listen for other nodes' writes announced on ``channel`` (see the module docstring; the
    session feed of radiusd.store.accounting_ops uses it too)."""

    def __init__(
        self,
        dsn: str,
        node: str,
        on_items: Callable[[list[str]], None],
        on_gap: Callable[[dt.datetime], None],
        *,
        poll_interval: float = 5.0,
        channel: str = NOTIFY_CHANNEL,
    ) -> None:
        self.channel = channel
        self.dsn = dsn
        self.node = node
        self.on_items = on_items
        self.on_gap = on_gap
        self.poll_interval = poll_interval
        self.connected = False
        self.notifications = 0  # announcements of other nodes received
        self._since: float | None = None  # last moment the feed was known to be complete

    def _received(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        node, _, items = payload.partition("|")
        if node == self.node or not items:
            return
        self.notifications += 1
        self.on_items(items.split(","))

    async def run(self) -> None:
        """Listen until cancelled, reconnecting (with a catch-up read) whenever the link drops."""
        import asyncpg  # the PostgreSQL driver; only a node on PostgreSQL listens

        pause = 0.5
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(self.dsn, timeout=10)
                await conn.add_listener(self.channel, self._received)
                self.connected = True
                if self._since is not None:  # notifications may have been missed meanwhile
                    self.on_gap(dt.datetime.fromtimestamp(self._since - CATCH_UP_MARGIN, dt.UTC))
                pause = 0.5
                while not conn.is_closed():
                    self._since = time.time()
                    await asyncio.sleep(self.poll_interval)
                    await conn.execute("SELECT 1")  # a dead link shows here, not only at the next NOTIFY
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # reconnect: the database restarted, failed over or is away
                reraise_if_cancelled(exc)
                if self.connected:
                    error = f"{type(exc).__name__}: {exc}"[:200]
                    log.warning("lease-feed.lost", channel=self.channel, error=error)
            finally:
                self.connected = False
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=2)
            if self._since is not None:
                self.on_gap(dt.datetime.fromtimestamp(self._since - CATCH_UP_MARGIN, dt.UTC))
            await asyncio.sleep(pause)
            pause = min(pause * 2, self.poll_interval)


class LeaseReadOp:
    """Read stored lease rows inside the writer's transaction, after its lease writes.

    ``items`` names rows to read; ``since`` asks for every row changed at or after that time.
    ``rows`` holds them (as ipam Leases) once the transaction has committed.
    """

    order: ClassVar[int] = 90  # after the lease rows (10) and the sessions (50) of the batch
    __slots__ = ("items", "rows", "since")

    def __init__(self, items: Iterable[str] = (), since: dt.datetime | None = None) -> None:
        self.items = list(items)
        self.since = since
        self.rows: dict[str, Lease] = {}

    @classmethod
    async def apply_batch(cls, conn: AsyncConnection, ops: Sequence[LeaseReadOp]) -> None:
        items = [item for op in ops for item in op.items]
        found = await read_leases(conn, items) if items else {}
        since = min((op.since for op in ops if op.since is not None), default=None)
        if since is not None:
            found.update(await read_changed_since(conn, since))
        for op in ops:
            op.rows = found

    def rolled_back(self) -> None:
        """Nothing in memory to undo: the caller reads again."""


async def read_changed_since(conn: AsyncConnection, since: dt.datetime) -> dict[str, Lease]:
    """Every lease row stamped at or after ``since``."""
    out: dict[str, Lease] = {}
    for table, key in ((V4, "address"), (V6, "prefix")):
        for r in (await conn.execute(lease_select(table).where(table.c.updated_at >= since))).mappings():
            out[r[key]] = lease_of(r, key)
    return out
