"""The PostgreSQL path of the accounting writer (radiusd.store.accounting_ops): the whole batch
in one statement, each table's rows as one array of a composite row type (migration 0008).
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from radiusd.model.sessions import InterimPoint, LiveSession, UsageDelta

from . import rawpg

# -- PostgreSQL: the whole batch in one statement ------------------------------------------------
#
# Each table's rows travel as one array of composite values (the row types of migration 0008)
# and are expanded by unnest(), so the batch is one statement (one round trip, one plan
# execution per table) instead of one execution per row. It goes straight to asyncpg
# (radiusd.store.rawpg) as a prepared statement inside the writer's transaction: no SQLAlchemy
# execution layer per batch. What is sent is kept small, because asyncpg's encoding is most of
# the writer's CPU:
#
# - timestamps travel as float8 epoch seconds and become timestamptz in SQL (``to_timestamp``:
#   exact to the microsecond for these values, a fifth of asyncpg's timestamptz encoding cost);
# - the closed records (``radius_accounting``) are built in SQL from the session rows already
#   sent, named by their ordinal (in a batch a session once closed stays closed, so its closed
#   record is its last state: checked, see _apply_postgresql);
# - a usage delta names its time-series row by ordinal instead of repeating its key.
#
# A session already stored is written by UPDATE (the row found through its unique key, then by
# its ctid, so even a generic plan cached while the table was small probes the index instead of
# joining the batch against a scan of the table) only while it holds the revision this node
# computed from; new sessions by INSERT ... ON CONFLICT DO NOTHING. Cheaper than the upsert it
# replaces, whose revision check looked up each row's expected revision in the whole batch.
#
# The time-series insert RETURNs the rows it really added; usage deltas whose row was not added
# (it existed before: a commit whose acknowledgement was lost) are left out in SQL, which
# replaces the SELECT of stored points that the generic path needs.

#: sessions opened or closed, announced to the other nodes at commit (payload: node, then the
#: Acct-Unique-Session-Ids): their Simultaneous-Use counts follow within milliseconds
SESSION_CHANNEL = "radiusd_sessions"

#: radius_sessions columns: (column, field type in radiusd_acct_session_row, LiveSession
#: attribute); FLOAT8 = a timestamptz sent as epoch seconds
_PG_SESSION_COLS = (
    ("acct_unique_id", "TEXT", "unique_id"),
    ("acct_session_id", "TEXT", "acct_session_id"),
    ("username", "TEXT", "username"),
    ("subscriber_id", "INT4", "subscriber_id"),
    ("router_id", "INT4", "router_id"),
    ("nas_address", "TEXT", "nas_address"),
    ("nas_port", "INT8", "nas_port"),
    ("nas_port_id", "TEXT", "nas_port_id"),
    ("nas_port_type", "TEXT", "nas_port_type"),
    ("framed_ip", "TEXT", "framed_ip"),
    ("framed_ipv6_prefix", "TEXT", "framed_ipv6_prefix"),
    ("delegated_ipv6_prefix", "TEXT", "delegated_ipv6_prefix"),
    ("calling_station_id", "TEXT", "calling_station_id"),
    ("called_station_id", "TEXT", "called_station_id"),
    ("class", "TEXT", "class_"),
    ("started_at", "FLOAT8", "started_at"),
    ("updated_at", "FLOAT8", "updated_at"),
    ("stopped_at", "FLOAT8", "stopped_at"),
    ("session_time", "INT8", "session_time"),
    ("input_octets", "INT8", "input_octets"),
    ("output_octets", "INT8", "output_octets"),
    ("input_packets", "INT8", "input_packets"),
    ("output_packets", "INT8", "output_packets"),
    ("input_base", "INT8", "input_base"),
    ("output_base", "INT8", "output_base"),
    ("terminate_cause", "TEXT", "terminate_cause"),
    ("status", "TEXT", "status"),
    ("interim_interval", "INT4", "interim_interval"),
    ("rev", "INT8", "rev"),
)
#: radius_accounting columns, as SQL over a session row ``r`` (the closed record's values)
_PG_CLOSED_COLS = (
    ("acct_unique_id", "r.acct_unique_id"),
    ("acct_session_id", "r.acct_session_id"),
    ("username", "r.username"),
    ("router_id", "r.router_id"),
    ("nas_address", "r.nas_address"),
    ("framed_ip", "r.framed_ip"),
    ("framed_ipv6_prefix", "r.framed_ipv6_prefix"),
    ("delegated_ipv6_prefix", "r.delegated_ipv6_prefix"),
    ("calling_station_id", "r.calling_station_id"),
    ("started_at", "r.started_at"),
    ("stopped_at", "COALESCE(r.stopped_at, r.updated_at)"),
    ("session_time", "r.session_time"),
    ("input_octets", "r.input_base + r.input_octets"),
    ("output_octets", "r.output_base + r.output_octets"),
    ("terminate_cause", "r.terminate_cause"),
)
_PG_POINT_COLS = (
    ("acct_unique_id", "TEXT", "unique_id"),
    ("event_time", "FLOAT8", "event_time"),
    ("status_type", "TEXT", "status_type"),
    ("session_time", "INT8", "session_time"),
    ("input_octets", "INT8", "input_octets"),
    ("output_octets", "INT8", "output_octets"),
    ("input_packets", "INT8", "input_packets"),
    ("output_packets", "INT8", "output_packets"),
)
#: usage deltas; ``pn``: the ordinal of their time-series row (NULL: none, 0: not in the batch)
_PG_DELTA_COLS = (
    ("username", "TEXT"),
    ("day", "DATE"),
    ("input_octets", "INT8"),
    ("output_octets", "INT8"),
    ("session_time", "INT8"),
    ("sessions", "INT4"),
    ("pn", "INT4"),
)
_KEY = ("acct_unique_id", "status_type", "session_time", "input_octets", "output_octets")


#: the composite types (migration 0008) whose arrays carry the rows: one parameter per table
PG_ROW_TYPES = {
    # rev_before: the revision the row must hold to be written (-1: the row must not exist)
    "radiusd_acct_session_row": (*((c, t) for c, t, _ in _PG_SESSION_COLS), ("rev_before", "INT8")),
    "radiusd_acct_point_row": tuple((c, t) for c, t, _ in _PG_POINT_COLS),
    "radiusd_acct_delta_row": _PG_DELTA_COLS,
}


def _pg_batch_sql() -> str:
    def rows(param: int, type_name: str) -> str:
        """Rows of the composite array ``$param``, numbered (``n``) in the order given."""
        select = ", ".join(
            f"to_timestamp(u.{q(name)}) AS {q(name)}" if typ == "FLOAT8" else f"u.{q(name)}"
            for name, typ in PG_ROW_TYPES[type_name]
        )
        return f"SELECT {select}, u.ordinality AS n FROM unnest(${param}::{type_name}[]) WITH ORDINALITY AS u"

    def q(c: str) -> str:
        return f'"{c}"' if c == "class" else c

    s_cols = [c for c, _, _ in _PG_SESSION_COLS]
    quoted = ", ".join(q(c) for c in s_cols)
    s_updates = ", ".join(f"{q(c)} = r.{q(c)}" for c in s_cols if c != "acct_unique_id")
    p_cols = [c for c, _, _ in _PG_POINT_COLS]
    a_cols = [c for c, _ in _PG_CLOSED_COLS]
    a_updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in a_cols if c != "acct_unique_id")
    key = ", ".join(_KEY)
    return (
        f"WITH r AS MATERIALIZED ({rows(1, 'radiusd_acct_session_row')}), "
        f"p AS MATERIALIZED ({rows(2, 'radiusd_acct_point_row')}), "
        # a stored session: UPDATE over the revision this node computed from; a new one (or
        # one whose row is gone): INSERT, nothing on conflict. A row neither wrote is lost.
        f"su AS (UPDATE radius_sessions t SET {s_updates} FROM r CROSS JOIN LATERAL (SELECT x.ctid "
        "FROM radius_sessions x WHERE x.acct_unique_id = r.acct_unique_id LIMIT 1) k "
        "WHERE r.rev_before >= 0 AND t.ctid = k.ctid AND t.rev = r.rev_before "
        "RETURNING t.id, t.acct_unique_id), "
        f"si AS (INSERT INTO radius_sessions ({quoted}) SELECT {', '.join('r.' + q(c) for c in s_cols)} "
        "FROM r WHERE NOT EXISTS (SELECT 1 FROM su WHERE su.acct_unique_id = r.acct_unique_id) "
        "ORDER BY r.n ON CONFLICT (acct_unique_id) DO NOTHING RETURNING id, acct_unique_id), "
        "s AS (SELECT id, acct_unique_id FROM su UNION ALL SELECT id, acct_unique_id FROM si), "
        "lost AS (SELECT r.acct_unique_id FROM r WHERE NOT EXISTS "
        "(SELECT 1 FROM s WHERE s.acct_unique_id = r.acct_unique_id)), "
        f"i AS (INSERT INTO radius_interim_updates (session_id, {', '.join(p_cols)}) "
        f"SELECT q.sid, {', '.join('p.' + c for c in p_cols)} FROM p "
        "LEFT JOIN s ON s.acct_unique_id = p.acct_unique_id CROSS JOIN LATERAL (SELECT COALESCE(s.id, "
        "(SELECT x.id FROM radius_sessions x WHERE x.acct_unique_id = p.acct_unique_id)) AS sid) q "
        "WHERE q.sid IS NOT NULL AND p.acct_unique_id NOT IN (SELECT acct_unique_id FROM lost) "
        f"ORDER BY p.n ON CONFLICT DO NOTHING RETURNING {key}), "
        f"a AS (INSERT INTO radius_accounting ({', '.join(a_cols)}) "
        f"SELECT {', '.join(sql for _, sql in _PG_CLOSED_COLS)} "
        "FROM unnest($3::INT4[]) WITH ORDINALITY AS c(sn, k) JOIN r ON r.n = c.sn "
        "WHERE r.acct_unique_id NOT IN (SELECT acct_unique_id FROM lost) ORDER BY c.k "
        # the key of the partitioned table (migration 0016): a session's start never changes
        f"ON CONFLICT (acct_unique_id, started_at) DO UPDATE SET {a_updates}), "
        "u AS (INSERT INTO service_usage "
        "(username, day, input_octets, output_octets, session_time, sessions) "
        "SELECT d.username, d.day, sum(d.input_octets), sum(d.output_octets), sum(d.session_time), "
        "sum(d.sessions) FROM unnest($4::radiusd_acct_delta_row[]) AS d LEFT JOIN p ON p.n = d.pn "
        f"WHERE d.pn IS NULL OR (p.acct_unique_id, p.status_type, p.session_time, p.input_octets, "
        f"p.output_octets) IN (SELECT {key} FROM i) "
        "GROUP BY d.username, d.day "
        "HAVING sum(d.input_octets) <> 0 OR sum(d.output_octets) <> 0 OR sum(d.session_time) <> 0 "
        "OR sum(d.sessions) <> 0 ORDER BY d.username, d.day "
        "ON CONFLICT (username, day) DO UPDATE SET "
        + ", ".join(
            f"{c} = service_usage.{c} + EXCLUDED.{c}"
            for c in ("input_octets", "output_octets", "session_time", "sessions")
        )
        # the batch's transaction id (in doubt: ask txid_status), the sessions not written, and
        # the other nodes told which sessions opened or closed ($5: NOTIFY payloads, delivered
        # at commit; in this statement rather than one more round trip per batch)
        + ") SELECT txid_current(), ARRAY(SELECT acct_unique_id FROM lost), "
        f"(SELECT count(pg_notify('{SESSION_CHANNEL}', x)) FROM unnest($5::TEXT[]) AS x)"
    )


_PG_BATCH = _pg_batch_sql()
_S_STARTED, _S_UPDATED, _S_STOPPED = (
    [c for c, _, _ in _PG_SESSION_COLS].index(n) for n in ("started_at", "updated_at", "stopped_at")
)
_P_TIME = [c for c, _, _ in _PG_POINT_COLS].index("event_time")


# the three times are neighbours, so a row is two slices around them (no list per row)
assert _S_UPDATED == _S_STARTED + 1 and _S_STOPPED == _S_STARTED + 2
_get_session_head = attrgetter(*(a for _, _, a in _PG_SESSION_COLS[:_S_STARTED]))
_get_session_tail = attrgetter(*(a for _, _, a in _PG_SESSION_COLS[_S_STOPPED + 1 :]))
assert _P_TIME == 1 and _PG_POINT_COLS[0][2] == "unique_id"  # (one attribute: attrgetter gives no tuple)
_get_point_tail = attrgetter(*(a for _, _, a in _PG_POINT_COLS[_P_TIME + 1 :]))


def _session_wire(s: LiveSession, rev_before: int) -> tuple[Any, ...]:
    """A radiusd_acct_session_row value. A tuple: asyncpg reads a list in an array as a
    sub-array, a tuple as a composite."""
    stopped = s.stopped_at
    return (
        *_get_session_head(s),
        s.started_at.timestamp(),
        s.updated_at.timestamp(),
        None if stopped is None else stopped.timestamp(),
        *_get_session_tail(s),
        rev_before,
    )


def _point_wire(p: InterimPoint) -> tuple[Any, ...]:
    return (p.unique_id, p.event_time.timestamp(), *_get_point_tail(p))


async def _apply_postgresql(
    conn: AsyncConnection,
    sessions: dict[str, LiveSession],
    closed: dict[str, LiveSession],
    interims: list[InterimPoint],
    deltas: list[UsageDelta],
    stored_rev: dict[str, int],
    notify: list[str],
) -> tuple[int, set[str]]:
    """One statement: each table's rows as one array of composite values (migration 0008),
    which asyncpg encodes field by field in Cython (an array per column cost ~3x the client
    CPU and ~2.5x the server CPU: asyncpg checks each element of an array in Python).

    A session is written only over the revision ``stored_rev`` names (another node may have
    written it since this node's memory was computed); the sessions not written come back with
    the transaction id, and their time-series rows, closed records and usage are left out."""
    s_rows = [_session_wire(s, stored_rev[uid]) for uid, s in sessions.items()]
    ordinal = {uid: n for n, uid in enumerate(sessions, 1)}
    closed_at: list[int] = []
    for uid, s in closed.items():
        if sessions[uid] is not s:  # never expected: a batch never reopens a session it closed
            raise RuntimeError(f"session {uid} closed and changed again in one batch")
        closed_at.append(ordinal[uid])
    p_rows = [_point_wire(p) for p in interims]
    point_n = {id(p): n for n, p in enumerate(interims, 1)}
    d_rows = [
        (u.username, u.day, u.input_octets, u.output_octets, u.session_time, u.sessions,
         None if u.point is None else point_n.get(id(u.point), 0))
        for u in deltas
    ]  # fmt: skip
    pg = await rawpg.driver(conn)
    xid, lost, _ = await pg.fetchrow(_PG_BATCH, s_rows, p_rows, closed_at, d_rows, notify)
    return xid, set(lost)
