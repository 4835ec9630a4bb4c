"""Read side of accounting: session lists, time series, billing exports and the usage rebuild.

Every query streams (``AsyncConnection.stream`` with ``yield_per``): rows are fetched in chunks
through a server-side cursor and handed out one by one, so memory stays flat whether the answer
has ten rows or ten million. Aggregations run in the database (``GROUP BY``), never in Python.

Usage attribution (shared by ``export usage`` and :func:`rebuild_usage`, and the rule the live
roll-up into ``service_usage`` follows):

* The updates of a session are the rows of ``radius_interim_updates`` (Start, Interim-Update
  and Stop alike), taken in arrival order (``id``), which is the order the live roll-up saw.
* Each update's *delta* is its counters (input/output octets, session time) minus those of the
  previous update of the same session; the first update's delta is its counters (from zero).
  A counter that went down (NAS counter reset) starts a new baseline: its delta is the new
  value, never negative.
* A delta is counted on the UTC day, and in the period, of the *later* update's event time
  (Acct-Delay-Time already applied). A session spanning midnight or a period's edge is thus
  split by its interim updates: only deltas whose later update falls inside count.
* A session is counted once, on the day of its first update (``sessions``), so summing days
  never counts a session twice.
* A group (subscriber, day or session) whose sums are all zero is left out, as the live
  roll-up writes no row for it.

The accounting policy (radiusd.policy.accounting_state) stores cumulative session totals in the
time series (monotonic across counter resets), so the reset rule above never fires on its
rows; it is there for rows holding raw NAS counters (imports, older data).

Periods are half-open, ``[start, end)``; times are timezone-aware UTC.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from . import session_view
from .engine import begin_write
from .errors import InvalidInput, NotFound
from .models import (
    RadiusAccounting,
    RadiusAccountingEvent,
    RadiusInterimUpdate,
    RadiusSession,
    Router,
    ServiceUsageTracking,
)
from .tables import core_table

CHUNK = 2_000
UsageBy = Literal["subscriber", "day", "session"]
USAGE_BY: tuple[UsageBy, ...] = ("subscriber", "day", "session")


_s = core_table(RadiusSession)
_u = core_table(RadiusInterimUpdate)
_a = core_table(RadiusAccounting)
_r = core_table(Router)
_su = core_table(ServiceUsageTracking)
_e = core_table(RadiusAccountingEvent)

#: Field order of a session as listed (``session list``); JSON and CSV keys.
SESSION_FIELDS = session_view.FIELDS
UPDATE_FIELDS = (
    "id", "event_time", "status_type", "session_time", "input_octets", "output_octets",
    "input_packets", "output_packets",
)  # fmt: skip
USAGE_FIELDS: dict[UsageBy, tuple[str, ...]] = {
    "subscriber": ("username", "input_octets", "output_octets", "session_time", "sessions"),
    "day": ("day", "username", "input_octets", "output_octets", "session_time", "sessions"),
    "session": (
        "id", "acct_unique_id", "username", "nas", "address", "started", "stopped",
        "input_octets", "output_octets", "session_time", "sessions",
    ),
}  # fmt: skip
EVENT_FIELDS = (
    "id", "event_time", "nas", "nas_address", "status_type", "status_name", "username",
    "acct_session_id", "attributes",
)  # fmt: skip
ACCOUNTING_FIELDS = (
    "id", "acct_unique_id", "acct_session_id", "username", "nas_address", "framed_ip",
    "framed_ipv6_prefix", "delegated_ipv6_prefix", "calling_station_id", "started", "stopped",
    "session_time", "input_octets", "output_octets", "terminate_cause",
)  # fmt: skip


# --- periods ----------------------------------------------------------------------------------


def parse_when(text: str) -> dt.datetime:
    """``YYYY-MM-DD`` (start of that UTC day) or an ISO 8601 datetime (naive means UTC) -> aware UTC."""
    value = text.strip()
    try:
        if len(value) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), dt.UTC)
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 datetime (YYYY-MM-DDTHH:MM[:SS][+HH:MM])"
        ) from None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open UTC time range ``[start, end)``."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise InvalidInput("a period needs timezone-aware times")
        if self.end <= self.start:
            raise InvalidInput(
                f"the period is empty: --to {self.end.isoformat()} "
                f"is not after --from {self.start.isoformat()}"
            )

    @classmethod
    def parse(cls, start: str, end: str) -> Period:
        return cls(parse_when(start), parse_when(end))

    def whole_days(self) -> Period:
        """The smallest period of whole UTC days that contains this one."""
        first = dt.datetime.combine(self.start.date(), dt.time(), dt.UTC)
        last = dt.datetime.combine(self.end.date(), dt.time(), dt.UTC)
        return Period(first, last if last == self.end else last + dt.timedelta(days=1))


# --- helpers ----------------------------------------------------------------------------------


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def _day_of(engine: AsyncEngine, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The UTC calendar day of a UTCDateTime column, computed by the database."""
    if engine.dialect.name == "sqlite":
        # UTCDateTime is stored as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC on SQLite.
        return sa.func.substr(column, sa.literal_column("1"), sa.literal_column("10"))
    # Literal 'UTC' (not a bound parameter) so that GROUP BY matches the selected expression.
    return sa.cast(sa.func.timezone(sa.literal_column("'UTC'"), column), sa.Date)


def _int_sum(expr: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
    # PostgreSQL's SUM(bigint) is numeric (Decimal in Python): bring it back to a 64-bit integer.
    return sa.cast(sa.func.coalesce(sa.func.sum(expr), 0), sa.BigInteger)


def _delta(cur: sa.ColumnElement[Any], prev: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
    """Usage between two updates: the difference, or the new value after a counter reset."""
    return sa.case((prev.is_(None), cur), (cur >= prev, cur - prev), else_=cur)


async def _stream(engine: AsyncEngine, stmt: sa.Executable, chunk: int) -> AsyncIterator[sa.RowMapping]:
    async with engine.connect() as conn:
        result = await conn.stream(stmt, execution_options={"yield_per": chunk})
        async for row in result.mappings():
            yield row


def _nas_label() -> sa.ColumnElement[str]:
    return sa.func.coalesce(_r.c.name, _s.c.nas_address).label("nas")


# --- sessions ---------------------------------------------------------------------------------


def _session_json(row: sa.RowMapping) -> dict[str, Any]:
    return {name: _iso(row[name]) for name in SESSION_FIELDS}


async def _check_nas(engine: AsyncEngine, nas: str) -> None:
    try:
        ipaddress.ip_address(nas)
        return  # an address: sessions of a removed NAS are still found by it
    except ValueError:
        pass
    async with engine.connect() as conn:
        found = await conn.scalar(sa.select(_r.c.id).where(_r.c.name == nas))
    if found is None:
        raise NotFound(f"no NAS named {nas!r}")


async def _newest_first(
    engine: AsyncEngine,
    stmt: sa.Select[Any],
    table: sa.Table,
    when: sa.ColumnElement[Any],
    *,
    username: str | None,
    nas: str | None,
    limit: int | None,
) -> sa.Select[Any]:
    """``stmt`` over ``table`` (joined to the NAS as ``_r``) narrowed to one username and one
    NAS (name or address), newest ``when`` first, at most ``limit`` rows."""
    if username is not None:
        stmt = stmt.where(table.c.username == username)
    if nas is not None:
        await _check_nas(engine, nas)
        stmt = stmt.where(sa.or_(_r.c.name == nas, table.c.nas_address == nas))
    stmt = stmt.order_by(when.desc(), table.c.id.desc())
    return stmt if limit is None else stmt.limit(limit)


async def iter_sessions(
    engine: AsyncEngine,
    *,
    online: bool = False,
    nas: str | None = None,
    username: str | None = None,
    limit: int | None = None,
    chunk: int = CHUNK,
) -> AsyncIterator[dict[str, Any]]:
    """Sessions, newest first: only open ones with ``online``; ``nas`` is a NAS name or address."""
    stmt = session_view.session_select()
    if online:
        stmt = stmt.where(_s.c.status == "open")
    stmt = await _newest_first(engine, stmt, _s, _s.c.started_at, username=username, nas=nas, limit=limit)
    async for row in _stream(engine, stmt, chunk):
        yield _session_json(row)


async def get_session(engine: AsyncEngine, key: str | int) -> dict[str, Any]:
    """One session by its numeric id or its Acct-Unique-Session-Id."""
    text = str(key).strip()
    conditions = [_s.c.acct_unique_id == text]
    if text.isdigit():
        conditions.insert(0, _s.c.id == int(text))
    async with engine.connect() as conn:
        for condition in conditions:
            row = (await conn.execute(session_view.session_select().where(condition))).mappings().first()
            if row is not None:
                return _session_json(row)
    raise NotFound(f"no session {text!r}")


async def iter_session_updates(
    engine: AsyncEngine, session_id: int, *, chunk: int = CHUNK
) -> AsyncIterator[dict[str, Any]]:
    """The counter time series of one session (Start, Interim-Update, Stop rows) in arrival order."""
    stmt = (
        sa.select(*(_u.c[name] for name in UPDATE_FIELDS))
        .where(_u.c.session_id == session_id)
        .order_by(_u.c.id)
    )
    async for row in _stream(engine, stmt, chunk):
        yield {name: _iso(row[name]) for name in UPDATE_FIELDS}


async def iter_accounting_events(
    engine: AsyncEngine,
    *,
    nas: str | None = None,
    username: str | None = None,
    status: str | None = None,
    limit: int | None = None,
    chunk: int = CHUNK,
) -> AsyncIterator[dict[str, Any]]:
    """Recorded Accounting-Requests that are not session events (Failed, tunnel types, vendor
    values), newest first; ``status`` is a name (Failed) or a number (15)."""
    nas_label = sa.func.coalesce(_r.c.name, _e.c.nas_address).label("nas")
    stmt = sa.select(
        _e.c.id, _e.c.event_time, nas_label, _e.c.nas_address, _e.c.status_type, _e.c.status_name,
        _e.c.username, _e.c.acct_session_id, _e.c.attributes,
    ).select_from(_e.outerjoin(_r, _r.c.id == _e.c.router_id))  # fmt: skip
    if status is not None:
        stmt = stmt.where(_e.c.status_type == int(status) if status.isdigit() else _e.c.status_name == status)
    stmt = await _newest_first(engine, stmt, _e, _e.c.event_time, username=username, nas=nas, limit=limit)
    async for row in _stream(engine, stmt, chunk):
        yield {name: _iso(row[name]) for name in EVENT_FIELDS}


# --- usage ------------------------------------------------------------------------------------


def _deltas(period: Period) -> sa.Subquery:
    """One row per update of every session with an update in ``period``, with its deltas."""

    def over(func: sa.FunctionElement[Any]) -> sa.Over[Any]:
        return func.over(partition_by=_u.c.session_id, order_by=_u.c.id)

    touched = sa.select(_u.c.session_id).where(_u.c.event_time >= period.start, _u.c.event_time < period.end)
    lagged = (
        sa.select(
            _u.c.session_id,
            _u.c.event_time,
            _u.c.input_octets,
            _u.c.output_octets,
            _u.c.session_time,
            over(sa.func.lag(_u.c.input_octets)).label("prev_input"),
            over(sa.func.lag(_u.c.output_octets)).label("prev_output"),
            over(sa.func.lag(_u.c.session_time)).label("prev_time"),
            over(sa.func.row_number()).label("seq"),
        )
        # later updates change no delta in the period: bounding the time lets PostgreSQL skip
        # the partitions after it (radiusd.store.partitions)
        .where(_u.c.session_id.in_(touched), _u.c.event_time < period.end)
        .subquery("lagged")
    )
    return (
        sa.select(
            lagged.c.session_id,
            lagged.c.event_time,
            _delta(lagged.c.input_octets, lagged.c.prev_input).label("d_input"),
            _delta(lagged.c.output_octets, lagged.c.prev_output).label("d_output"),
            _delta(lagged.c.session_time, lagged.c.prev_time).label("d_time"),
            sa.case((lagged.c.seq == 1, 1), else_=0).label("d_sessions"),
        )
        .where(lagged.c.event_time >= period.start, lagged.c.event_time < period.end)
        .subquery("deltas")
    )


def _sums(d: sa.Subquery) -> list[sa.ColumnElement[Any]]:
    return [
        _int_sum(d.c.d_input).label("input_octets"),
        _int_sum(d.c.d_output).label("output_octets"),
        _int_sum(d.c.d_time).label("session_time"),
        _int_sum(d.c.d_sessions).label("sessions"),
    ]


def _not_all_zero(d: sa.Subquery) -> sa.ColumnElement[bool]:
    """HAVING clause: a group whose four sums are all zero is no usage (the live roll-up skips it)."""
    return sa.or_(
        *(sa.func.sum(column) != 0 for column in (d.c.d_input, d.c.d_output, d.c.d_time, d.c.d_sessions))
    )


#: Acct-Session-Id prefix of the sessions ``radiusd loadtest`` simulates: exports leave them out
#: unless asked (``--include-loadtest``).
LOADTEST_SESSION_PREFIX = "radiusd-loadtest-"


def not_loadtest(column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    """``column`` (an Acct-Session-Id) is not that of a load-test session."""
    return sa.not_(column.startswith(LOADTEST_SESSION_PREFIX, autoescape=True))


def usage_query(
    engine: AsyncEngine, period: Period, by: UsageBy = "subscriber", *, include_loadtest: bool = False
) -> sa.Select[Any]:
    """The ``GROUP BY`` statement behind ``export usage --by`` (see the module docstring);
    load-test sessions left out unless ``include_loadtest``."""
    d = _deltas(period)
    joined = d.join(
        _s,
        sa.and_(
            _s.c.id == d.c.session_id, sa.true() if include_loadtest else not_loadtest(_s.c.acct_session_id)
        ),
    )
    if by == "subscriber":
        return (
            sa.select(_s.c.username, *_sums(d))
            .select_from(joined)
            .group_by(_s.c.username)
            .having(_not_all_zero(d))
            .order_by(_s.c.username)
        )
    if by == "day":
        day = _day_of(engine, d.c.event_time).label("day")
        return (
            sa.select(day, _s.c.username, *_sums(d))
            .select_from(joined)
            .group_by(day, _s.c.username)
            .having(_not_all_zero(d))
            .order_by(day, _s.c.username)
        )
    if by == "session":
        return (
            sa.select(
                _s.c.id, _s.c.acct_unique_id, _s.c.username, _nas_label(),
                _s.c.framed_ip.label("address"), _s.c.started_at.label("started"),
                _s.c.stopped_at.label("stopped"), *_sums(d),
            )
            .select_from(joined.outerjoin(_r, _r.c.id == _s.c.router_id))
            .group_by(
                _s.c.id, _s.c.acct_unique_id, _s.c.username, _r.c.name, _s.c.nas_address,
                _s.c.framed_ip, _s.c.started_at, _s.c.stopped_at,
            )
            .having(_not_all_zero(d))
            .order_by(_s.c.id)
        )  # fmt: skip
    raise InvalidInput(f"unknown grouping {by!r}: use one of {', '.join(USAGE_BY)}")


async def iter_usage(
    engine: AsyncEngine,
    period: Period,
    *,
    by: UsageBy = "subscriber",
    chunk: int = CHUNK,
    include_loadtest: bool = False,
) -> AsyncIterator[dict[str, Any]]:
    """Usage within ``period`` per subscriber, per subscriber and UTC day, or per session
    (load-test sessions only with ``include_loadtest``)."""
    stmt = usage_query(engine, period, by, include_loadtest=include_loadtest)
    fields = USAGE_FIELDS[by]
    async for row in _stream(engine, stmt, chunk):
        yield {name: _iso(row[name]) for name in fields}


async def iter_closed_sessions(
    engine: AsyncEngine, period: Period, *, chunk: int = CHUNK, include_loadtest: bool = False
) -> AsyncIterator[dict[str, Any]]:
    """The closed records (``radius_accounting``) whose session stopped within ``period``
    (load-test sessions only with ``include_loadtest``)."""
    columns = {name: _a.c[name] for name in ACCOUNTING_FIELDS if name in _a.c}
    columns["started"] = _a.c.started_at
    columns["stopped"] = _a.c.stopped_at
    stmt = (
        sa.select(*(columns[name].label(name) for name in ACCOUNTING_FIELDS))
        .where(_a.c.stopped_at >= period.start, _a.c.stopped_at < period.end)
        .where(sa.true() if include_loadtest else not_loadtest(_a.c.acct_session_id))
        .order_by(_a.c.stopped_at, _a.c.id)
    )
    async for row in _stream(engine, stmt, chunk):
        yield {name: _iso(row[name]) for name in ACCOUNTING_FIELDS}


# --- rebuild ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RebuildResult:
    """What :func:`rebuild_usage` did: the whole days it covered and the rows it wrote."""

    period: Period
    days: int
    deleted: int
    rows: int

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.period.start.date().isoformat(),
            "to": self.period.end.date().isoformat(),
            "days": self.days,
            "deleted": self.deleted,
            "rows": self.rows,
        }


async def rebuild_usage(engine: AsyncEngine, start: dt.datetime, end: dt.datetime) -> RebuildResult:
    """Recompute ``service_usage`` for the UTC days of ``[start, end)`` from the updates.

    The period is widened to whole UTC days (``service_usage`` has one row per subscriber per
    day); the days' rows are deleted and rewritten with one ``INSERT ... SELECT`` in a single
    transaction, so nothing goes through Python and memory stays flat. On PostgreSQL the table is
    locked against the live roll-up for the duration (its upserts wait, then add on top); on
    SQLite the write transaction itself serialises with the daemon's writer.
    """
    period = Period(start, end).whole_days()
    d = _deltas(period)
    day = _day_of(engine, d.c.event_time).label("day")
    select = (
        sa.select(_s.c.username, day, *_sums(d))
        .select_from(d.join(_s, _s.c.id == d.c.session_id))
        .group_by(_s.c.username, day)
        .having(_not_all_zero(d))
    )
    first_day, last_day = period.start.date(), period.end.date()
    async with begin_write(engine) as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(sa.text("LOCK TABLE service_usage IN SHARE ROW EXCLUSIVE MODE"))
        deleted = await conn.execute(sa.delete(_su).where(_su.c.day >= first_day, _su.c.day < last_day))
        inserted = await conn.execute(
            sa.insert(_su).from_select(
                ["username", "day", "input_octets", "output_octets", "session_time", "sessions"], select
            )
        )
    return RebuildResult(
        period=period,
        days=(last_day - first_day).days,
        deleted=max(deleted.rowcount, 0),
        rows=max(inserted.rowcount, 0),
    )


async def iter_service_usage(
    engine: AsyncEngine, period: Period, *, chunk: int = CHUNK
) -> AsyncIterator[dict[str, Any]]:
    """The rolled-up ``service_usage`` rows of the UTC days within ``period`` (by day, username)."""
    days = period.whole_days()
    stmt = (
        sa.select(
            _su.c.day, _su.c.username, _su.c.input_octets, _su.c.output_octets,
            _su.c.session_time, _su.c.sessions,
        )
        .where(_su.c.day >= days.start.date(), _su.c.day < days.end.date())
        .order_by(_su.c.day, _su.c.username)
    )  # fmt: skip
    async for row in _stream(engine, stmt, chunk):
        yield {name: _iso(row[name]) for name in USAGE_FIELDS["day"]}
