"""Writer operations and row helpers for leases (the lease is durable before the reply).

One IPAM change becomes, at most: an upsert of its lease row (``ipv4_ips`` keyed by address,
``ipv6_ips`` keyed by prefix: one row per item ever touched, so the database itself holds at
most one lease per address), an appended ``service_ip_assignments`` history row when a new
holder starts, and a ``released_at`` stamp on the open history row when a holder stops.

:class:`LeaseOp` carries ready-made row dicts (built by radiusd.policy.ipam_service at
allocation time); :meth:`LeaseOp.apply_batch` runs each kind of statement once for the whole
group commit (``INSERT ... ON CONFLICT (address) DO UPDATE`` with an executemany list, the
last state of an address in the batch winning). Upserts are idempotent, so a retransmitted
request after a crash is harmless.

On PostgreSQL the rows go straight to asyncpg, inside the writer's transaction, as one
prepared statement per kind whose parameters are column arrays (``INSERT ... SELECT FROM
unnest($1::varchar[], ...) ON CONFLICT ...``): one Bind/Execute for the whole batch instead
of a protocol round of each per row, and no SQLAlchemy parameter processing per row (with
128 logins a batch: half the PostgreSQL CPU of the Core executemany it replaces, 41 -> 21 µs
a login, and 53 -> 45 µs of daemon CPU). On SQLite they go to the aiosqlite connection's
``executemany`` (inside the transaction the engine began), times formatted as SQLAlchemy
stores them for UTCDateTime.

Several nodes on one PostgreSQL database (the database decides who holds an item): every
lease row is written under a *guard* that the row's current state must meet, so a node whose
memory is behind cannot take or end what another node holds:

- ``hold`` (an offer, a confirmation or renewal, an adoption, a reservation): the row is this
  holder's, or not in use (free, released, absent), or its offer or lease has expired by the
  database's clock;
- ``release`` (Accounting-Stop, Accounting-On/Off, an operator's release): the row is still
  in use by, or held for, the same owner;
- ``expire`` (the sweep): the same, and the row's expiry has passed by the database's clock
  (another node may have renewed it).

A row whose guard fails is *lost*: the statement skips it (``ON CONFLICT ... DO UPDATE ...
WHERE``, ``RETURNING`` tells which rows were written), the op's history rows for it are
dropped, and the row as stored is read back in the same transaction (:attr:`LeaseOp.lost`) so
the IPAM service can take it into memory and, for an Access-Request, claim another item before
it replies. Concurrent claims of one row are serialised by PostgreSQL's row lock: the second
re-evaluates its guard against the first's committed row. Every written item is announced on
the ``radiusd_leases`` channel (``pg_notify``, delivered at commit) for the other nodes. An
item touched twice in one batch is written in successive rounds, so each write meets the
state the previous one left. SQLite serves one daemon only and writes without guards.

Row format of the lease state (the ``state`` check constraint has no ``free``): an item that
is free but remembers its last holder (for stickiness) is stored as ``released`` with
``expires_at`` NULL; :func:`row_state` and :func:`lease_state` convert.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ipam import Lease, LeaseState

from . import rawpg
from .models import IPPool, IPv4IP, IPv6IP, ServiceIPAssignment
from .tables import core_table

V4 = core_table(IPv4IP)
V6 = core_table(IPv6IP)
HISTORY = core_table(ServiceIPAssignment)
POOLS = core_table(IPPool)

_LEASE_COLUMNS = ("pool_id", "state", "owner", "router_id", "session_key", "expires_at", "updated_at")


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


#: the guard each row is written under (see the module docstring), as SQL over the stored row
#: (the table's name) and the proposed one (``excluded``)
_SAME_OWNER = "{t}.owner IS NOT DISTINCT FROM excluded.owner"
_HELD = "{t}.state IN ('offered', 'leased', 'released')"
_GUARDS = {
    "hold": f"{_SAME_OWNER} OR {{t}}.state NOT IN ('offered', 'leased', 'reserved')"
    " OR ({t}.state IN ('offered', 'leased') AND {t}.expires_at < now())",
    "release": f"{_SAME_OWNER} AND {_HELD}",
    "expire": f"{_SAME_OWNER} AND {_HELD} AND {{t}}.expires_at <= now()",
    "force": "TRUE",  # an operator's edit through the CLI: the operator decides
}
GUARDS = frozenset(_GUARDS)


def _guarded_upsert(table: str, key: str, types: Sequence[str], extra: Sequence[str], guard: str) -> str:
    cols = (key, *_LEASE_COLUMNS, *extra)
    arrays = ", ".join(f"${i}::{t}[]" for i, t in enumerate(types, 1))
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols[1:])
    return (
        f"INSERT INTO {table} ({', '.join(cols)}) SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {sets} WHERE {_GUARDS[guard].format(t=table)} RETURNING {key}"
    )


_V4_TYPES = ("varchar", "int4", "varchar", "varchar", "int4", "varchar", "timestamptz", "timestamptz")
_UPSERT_V4 = {g: _guarded_upsert("ipv4_ips", "address", _V4_TYPES, (), g) for g in GUARDS}
_UPSERT_V6 = {g: _guarded_upsert("ipv6_ips", "prefix", (*_V4_TYPES, "varchar"), ("kind",), g) for g in GUARDS}
#: every item written, announced to the other nodes at commit (payload: node, then items)
NOTIFY_CHANNEL = "radiusd_leases"
_NOTIFY = "SELECT pg_notify($1, $2)"
_NOTIFY_MAX = 7900  # PostgreSQL's payload limit is 8000 bytes
#: the open history row of each address is closed (at most one is open: rows are appended
#: only after the previous holder's row was closed, and the first closing time wins). On
#: PostgreSQL through radiusd_end_assignments() (migration 0020): one index probe per address,
#: never a scan of every open assignment (see there)
_END_PG = "SELECT radiusd_end_assignments($1::varchar[], $2::timestamptz[])"
_HISTORY_COLUMNS = (
    "username",
    "subscriber_id",
    "address",
    "family",
    "pool_name",
    "router_id",
    "session_key",
    "assigned_at",
    "released_at",
)
_START_PG = """
INSERT INTO service_ip_assignments (username, subscriber_id, address, family, pool_name, router_id,
                                    session_key, assigned_at, released_at)
SELECT * FROM unnest($1::varchar[], $2::int4[], $3::varchar[], $4::int2[], $5::varchar[], $6::int4[],
                     $7::varchar[], $8::timestamptz[], $9::timestamptz[])"""


def _sqlite_upsert(table: str, key: str, cols: Sequence[str]) -> str:
    names = (key, *cols)
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols)
    return (
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {sets}"
    )


_UPSERT_V4_SQLITE = _sqlite_upsert("ipv4_ips", "address", _LEASE_COLUMNS)
_UPSERT_V6_SQLITE = _sqlite_upsert("ipv6_ips", "prefix", (*_LEASE_COLUMNS, "kind"))
_END_SQLITE = "UPDATE service_ip_assignments SET released_at = ? WHERE address = ? AND released_at IS NULL"
_START_SQLITE = (
    f"INSERT INTO service_ip_assignments ({', '.join(_HISTORY_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_HISTORY_COLUMNS))})"
)
_TIME_COLUMNS = frozenset({"expires_at", "updated_at", "assigned_at", "released_at"})


def _sqlite_time(value: dt.datetime | None) -> str | None:
    """A UTC time as SQLAlchemy stores it on SQLite for :class:`~radiusd.store.models.UTCDateTime`
    (``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC; a naive time is refused, as there)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    v = value.astimezone(dt.UTC)
    return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031 (SQLAlchemy's format, verbatim)
        v.year,
        v.month,
        v.day,
        v.hour,
        v.minute,
        v.second,
        v.microsecond,
    )


def _tuples(rows: Iterable[dict[str, Any]], names: Sequence[str]) -> list[tuple[Any, ...]]:
    """Row dicts -> parameter tuples for SQLite (times converted, missing keys NULL)."""
    convert = [name in _TIME_COLUMNS for name in names]
    out: list[tuple[Any, ...]] = []
    for row in rows:
        get = row.get
        out.append(tuple(_sqlite_time(get(n)) if c else get(n) for n, c in zip(names, convert, strict=True)))
    return out


async def _sqlite(conn: AsyncConnection) -> Any:
    """The aiosqlite connection under ``conn``, inside the transaction the engine began (this
    project's SQLite engine sends BEGIN itself when a SQLAlchemy transaction starts)."""
    raw = await conn.get_raw_connection()
    db: Any = raw.driver_connection
    if not db.in_transaction:
        raise RuntimeError("lease rows must be written inside the writer's transaction")
    return db


def _columns(rows: Iterable[dict[str, Any]], names: Sequence[str]) -> list[list[Any]]:
    """Row dicts -> one list per column (missing keys are NULL)."""
    cols: list[list[Any]] = [[] for _ in names]
    pairs = list(zip(cols, names, strict=True))
    for row in rows:
        get = row.get
        for col, name in pairs:
            col.append(get(name))
    return cols


async def upsert_rows(
    conn: AsyncConnection, v4: Iterable[dict[str, Any]], v6: Iterable[dict[str, Any]]
) -> set[str]:
    """Upsert lease rows (dicts with ``address`` or ``prefix`` + ``kind``, the lease columns and
    optionally ``guard``, default ``force``); returns the items whose guard failed (PostgreSQL;
    none on SQLite). An item given several times is written once per occurrence, in order
    (one statement must not touch a row twice)."""
    if conn.dialect.name != "postgresql":
        db = await _sqlite(conn)
        for sql, key, rows, extra in (
            (_UPSERT_V4_SQLITE, "address", v4, ()),
            (_UPSERT_V6_SQLITE, "prefix", v6, ("kind",)),
        ):
            last = {row[key]: row for row in rows}
            if last:
                await db.executemany(sql, _tuples(last.values(), (key, *_LEASE_COLUMNS, *extra)))
        return set()
    lost: set[str] = set()
    driver = None
    for sqls, key, rows, extra in ((_UPSERT_V4, "address", v4, ()), (_UPSERT_V6, "prefix", v6, ("kind",))):
        names = (key, *_LEASE_COLUMNS, *extra)
        for round_rows in _rounds(rows, key):
            by_guard: dict[str, list[dict[str, Any]]] = {}
            for row in round_rows:
                by_guard.setdefault(row.get("guard") or "force", []).append(row)
            for guard, group in by_guard.items():
                driver = driver or await rawpg.driver(conn)
                written = await driver.fetch(sqls[guard], *_columns(group, names))
                if len(written) != len(group):
                    done = {r[0] for r in written}
                    lost.update(row[key] for row in group if row[key] not in done)
    return lost


def _rounds(rows: Iterable[dict[str, Any]], key: str) -> list[list[dict[str, Any]]]:
    """Rows split so that no item appears twice in one round, each item's rows in order."""
    rounds: list[list[dict[str, Any]]] = [[]]
    seen: dict[str, int] = {}
    for row in rows:
        n = seen[row[key]] = seen.get(row[key], -1) + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(row)
    return rounds if rounds[0] else []


def lease_select(table: sa.Table) -> sa.Select[Any]:
    """The rows of a lease table with their pool's name (``pool_name``), for :func:`lease_of`."""
    return sa.select(table, POOLS.c.name.label("pool_name")).join(POOLS, POOLS.c.id == table.c.pool_id)


async def read_leases(conn: AsyncConnection, items: Iterable[str]) -> dict[str, Lease]:
    """The stored rows of ``items`` (IPv4 addresses or IPv6 prefixes) as ipam Leases."""
    wanted = list(dict.fromkeys(items))
    out: dict[str, Lease] = {}
    for table, key in ((V4, "address"), (V6, "prefix")):
        mine = [a for a in wanted if (":" in a) == (table is V6)]
        if not mine:
            continue
        for r in (await conn.execute(lease_select(table).where(table.c[key].in_(mine)))).mappings():
            out[r[key]] = lease_of(r, key)
    return out


async def _read_leases_in_batch(conn: AsyncConnection, items: Iterable[str]) -> dict[str, Lease]:
    """:func:`read_leases` inside the writer's transaction: on PostgreSQL through asyncpg, as the
    rest of :class:`LeaseOp` (a SQLAlchemy statement would begin a transaction of SQLAlchemy's
    inside the one the writer began on asyncpg, which asyncpg refuses)."""
    if conn.dialect.name != "postgresql":
        return await read_leases(conn, items)
    wanted = list(dict.fromkeys(items))
    out: dict[str, Lease] = {}
    driver = await rawpg.driver(conn)
    for sql, key in ((_READ_V4_PG, "address"), (_READ_V6_PG, "prefix")):
        mine = [a for a in wanted if (":" in a) == (key == "prefix")]
        if mine:
            for r in await driver.fetch(sql, mine):
                out[r[key]] = lease_of(r, key)
    return out


def _read_sql(table: sa.Table, key: str) -> str:
    return (
        f"SELECT t.*, p.name AS pool_name FROM {table.name} t JOIN {POOLS.name} p ON p.id = t.pool_id "
        f"WHERE t.{key} = ANY($1::text[])"
    )


_READ_V4_PG = _read_sql(V4, "address")
_READ_V6_PG = _read_sql(V6, "prefix")


def lease_of(row: Any, key: str) -> Lease:
    """A stored lease row (a mapping with ``pool_name``) as an ipam Lease; ``nas`` is the
    router id as text."""
    state = lease_state(row["state"], row["expires_at"])
    expires = row["expires_at"]
    return Lease(
        pool=row["pool_name"],
        address=row[key],
        state=state,
        owner=row["owner"],
        expires=None if expires is None else expires.timestamp(),
        nas=None if row["router_id"] is None else str(row["router_id"]),
        session=row["session_key"],
        reserved=state is LeaseState.RESERVED,
    )


async def announce(
    conn: AsyncConnection, node: str, items: Sequence[str], channel: str = NOTIFY_CHANNEL
) -> None:
    """Tell the other nodes (``NOTIFY`` on ``channel``, delivered at commit) that ``items`` were
    written."""
    if not items:
        return
    driver = await rawpg.driver(conn)
    for payload in notify_payloads(node, items):
        await driver.execute(_NOTIFY, channel, payload)


def notify_payloads(node: str, items: Sequence[str]) -> list[str]:
    """``node|item,item,...`` payloads, each within PostgreSQL's NOTIFY limit (none for no items)."""
    payloads: list[str] = []
    chunk: list[str] = []
    size = len(node)
    for item in items:
        if chunk and size + len(item) + 1 > _NOTIFY_MAX:
            payloads.append(node + "|" + ",".join(chunk))
            chunk, size = [], len(node)
        chunk.append(item)
        size += len(item) + 1
    if chunk:
        payloads.append(node + "|" + ",".join(chunk))
    return payloads


async def write_history(
    conn: AsyncConnection, ended: Sequence[dict[str, Any]], started: Sequence[dict[str, Any]]
) -> None:
    """Close the open history rows of ``ended`` addresses (``{"a": address, "t": time}``),
    then append ``started`` assignment rows."""
    if conn.dialect.name == "postgresql":
        if not (ended or started):
            return
        driver = await rawpg.driver(conn)
        if ended:
            first: dict[str, Any] = {}
            for row in ended:
                first.setdefault(row["a"], row["t"])
            await driver.execute(_END_PG, list(first), list(first.values()))
        if started:
            await driver.execute(_START_PG, *_columns(started, _HISTORY_COLUMNS))
        return
    if not (ended or started):
        return
    db = await _sqlite(conn)
    if ended:
        await db.executemany(_END_SQLITE, [(_sqlite_time(row["t"]), row["a"]) for row in ended])
    if started:
        await db.executemany(_START_SQLITE, _tuples(started, _HISTORY_COLUMNS))


class LeaseOp:
    """Lease rows and history rows of one request, for the group-commit writer.

    ``undo`` runs when the transaction that carried the op failed (radiusd.store.writer):
    the IPAM service passes a closure that rolls its allocator changes back (Access path) or
    marks the addresses for re-synchronisation (accounting hooks, settled eagerly). After a
    commit, :attr:`lost` holds, as stored, the rows whose guard failed (another node holds
    them; see the module docstring); ``node`` names this node in the announcement to the
    others (None: no announcement), and ``on_lost``, when set, is called with the lost rows
    inside the transaction (they are other nodes' committed rows, true whatever becomes of it).
    """

    order: ClassVar[int] = 10  # before sessions (accounting ops use 50)
    raw_postgresql: ClassVar[bool] = True  # rows, history and announcement through asyncpg
    __slots__ = ("ended", "lost", "node", "on_lost", "started", "undo", "v4", "v6")

    def __init__(
        self,
        v4: list[dict[str, Any]] | None = None,
        v6: list[dict[str, Any]] | None = None,
        started: list[dict[str, Any]] | None = None,
        ended: list[dict[str, Any]] | None = None,
        undo: Callable[[], None] | None = None,
        node: str | None = None,
    ) -> None:
        self.v4 = v4 if v4 is not None else []
        self.v6 = v6 if v6 is not None else []
        self.started = started if started is not None else []
        self.ended = ended if ended is not None else []
        self.undo = undo
        self.node = node
        self.lost: dict[str, Lease] = {}
        self.on_lost: Callable[[dict[str, Lease]], None] | None = None

    def __bool__(self) -> bool:
        return bool(self.v4 or self.v6 or self.started or self.ended)

    @classmethod
    async def apply_batch(cls, conn: AsyncConnection, ops: Sequence[LeaseOp]) -> None:
        v4: list[dict[str, Any]] = []
        v6: list[dict[str, Any]] = []
        for op in ops:
            v4 += op.v4
            v6 += op.v6
        lost = await upsert_rows(conn, v4, v6)
        started: list[dict[str, Any]] = []
        ended: list[dict[str, Any]] = []
        stored = await _read_leases_in_batch(conn, lost) if lost else {}
        for op in ops:
            if lost:
                mine = [row.get("address") or row["prefix"] for row in (*op.v4, *op.v6)]
                op.lost = {item: stored[item] for item in mine if item in lost and item in stored}
                if op.lost and op.on_lost is not None:
                    op.on_lost(op.lost)
                started += [row for row in op.started if row["address"] not in op.lost]
                ended += [row for row in op.ended if row["a"] not in op.lost]
            else:
                started += op.started
                ended += op.ended
        await write_history(conn, ended, started)
        node = next((op.node for op in ops if op.node is not None), None)
        if node is not None and conn.dialect.name == "postgresql":
            written = dict.fromkeys(
                item for row in (*v4, *v6) if (item := row.get("address") or row["prefix"]) not in lost
            )
            await announce(conn, node, list(written))

    def rolled_back(self) -> None:
        undo, self.undo = self.undo, None  # at most once, whatever the writer does
        if undo is not None:
            undo()
