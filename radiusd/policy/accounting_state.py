"""The accounting session state machine: pure functions of the table, an event and a time.

No I/O and no clock: :func:`apply_event` reads the event's own time, :func:`stale_sessions`
is given ``now``. Effects are recorded in a :class:`~radiusd.model.sessions.Change` (the new
session states, time-series points and usage deltas), which the handler
(radiusd.policy.accounting) hands to the group-commit writer and undoes if the commit fails.

Tables (what other readers may rely on):

- ``radius_sessions``: one row per unique id, the live state. ``input_octets``/``output_octets``
  are the NAS's counters as last reported; ``input_base``/``output_base`` what was counted
  before those counters last went down. Usage of the session = ``base + octets``.
  ``updated_at`` is the event time of the last request that brought news (the sweep's clock).
- ``radius_interim_updates``: the time series. Each row holds *cumulative session totals*
  (base + counter, so monotonic even across a NAS counter reset); ``status_type`` is Start,
  Interim-Update or Stop. A row is added on the first sight of a session, whenever its
  counters or session time advance, and on the Stop that closes it. Differences between
  consecutive rows of a session give its usage; the first row's totals count on its day.
- ``radius_accounting``: the closed record (one per unique id); octets are session totals.
- ``service_usage``: per username per UTC day of the event time, the sum of the deltas above;
  ``sessions`` counts a session on the day it was first seen. Written in the same transaction
  as the session row, from deltas computed against the in-memory state, so a retransmission
  (no delta) is never counted twice. Each delta belongs to one time-series row and is added
  only when that row is new: when the connection drops during COMMIT and the transaction did
  commit after all, the retransmitted request recomputes the same row and adds nothing.

Edge cases:

- Stop without Start: a closed session is created with the Stop's counters (started at
  event time - Acct-Session-Time).
- Interim-Update without Start: an open session is created the same way.
- Interim-Update after Stop: acknowledged, never reopens. Counters that went *up* are kept
  (usage happened and is billed; e.g. the sweep closed a session that was alive) but the
  session stays closed; lower or equal counters change nothing and store no row.
- Start for a known session (retransmission, or a Start that arrives late): fills in missing
  attributes only.
- Counters going down while Acct-Session-Time went up: the NAS reset (or wrapped without
  Gigawords): the old counter moves into the base, usage never goes negative. Going down
  while the session time did not advance: a late or reordered update; nothing changes.
- Accounting-On/Off (RFC 2866 §5.1): every open session of that NAS is closed with cause
  NAS-Reboot at the event time; a retransmission finds none left and changes nothing.
- Stale sessions (no news within k x Acct-Interim-Interval + grace, :func:`stale_sessions`):
  closed by the sweep (radiusd.policy.accounting_sweep) with cause Lost-Service
  (:func:`lost_service`), stopped at their last update.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable
from dataclasses import fields, replace
from operator import attrgetter
from typing import Any

from radiusd.model.events import LOST_SERVICE, NAS_REBOOT, AcctEvent, StatusType
from radiusd.model.sessions import CLOSED, Change, InterimPoint, LiveSession, UsageDelta

from .sessions import SessionTable

_ATTRS = (
    "nas_port_id",
    "nas_port_type",
    "framed_ip",
    "framed_ipv6_prefix",
    "delegated_ipv6_prefix",
    "calling_station_id",
    "called_station_id",
    "class_",
    "interim_interval",
)
#: a retransmission's event time may differ by the rounding of Acct-Delay-Time
_SAME_TIME = dt.timedelta(seconds=1)


_FIELDS = tuple(f.name for f in fields(LiveSession))
_FIELD_INDEX = {name: i for i, name in enumerate(_FIELDS)}
_values = attrgetter(*_FIELDS)


def _evolve(s: LiveSession, changes: dict[str, Any]) -> LiveSession:
    """``dataclasses.replace(s, **changes)``, positionally (a third of its cost on the hot path)."""
    values = list(_values(s))
    for name, value in changes.items():
        values[_FIELD_INDEX[name]] = value
    return LiveSession(*values)


_attrs_of = attrgetter(*_ATTRS)


def _missing(cur: LiveSession, ev: AcctEvent) -> dict[str, Any]:
    """The attributes ``cur`` lacks and ``ev`` carries (a later request may carry more)."""
    have = _attrs_of(cur)
    if None not in have:
        return {}
    return {a: v for a, c, v in zip(_ATTRS, have, _attrs_of(ev), strict=True) if c is None and v is not None}


def _filled(cur: LiveSession, ev: AcctEvent) -> LiveSession:
    """``cur`` with attributes it lacks taken from ``ev``."""
    missing = _missing(cur, ev)
    return _evolve(cur, missing) if missing else cur


def _first_sight(ev: AcctEvent, interim_interval: int | None) -> LiveSession:
    stop = ev.status == StatusType.STOP
    started = ev.event_time
    if ev.status != StatusType.START:
        started -= dt.timedelta(seconds=ev.session_time)
    return LiveSession(
        unique_id=ev.unique_id,
        acct_session_id=ev.acct_session_id,
        username=ev.username,
        nas_address=ev.nas_address,
        router_id=ev.router_id,
        started_at=started,
        updated_at=ev.event_time,
        nas_port=ev.nas_port,
        nas_port_id=ev.nas_port_id,
        nas_port_type=ev.nas_port_type,
        framed_ip=ev.framed_ip,
        framed_ipv6_prefix=ev.framed_ipv6_prefix,
        delegated_ipv6_prefix=ev.delegated_ipv6_prefix,
        calling_station_id=ev.calling_station_id,
        called_station_id=ev.called_station_id,
        class_=ev.class_,
        stopped_at=ev.event_time if stop else None,
        session_time=ev.session_time,
        input_octets=ev.input_octets,
        output_octets=ev.output_octets,
        input_packets=ev.input_packets,
        output_packets=ev.output_packets,
        terminate_cause=ev.terminate_cause if stop else None,
        status=CLOSED if stop else "open",
        interim_interval=ev.interim_interval if ev.interim_interval is not None else interim_interval,
    )


def _point(s: LiveSession, ev_time: dt.datetime, status_type: str) -> InterimPoint:
    return InterimPoint(
        s.unique_id,
        ev_time,
        status_type,
        s.session_time,
        s.input_total,
        s.output_total,
        s.input_packets,
        s.output_packets,
    )


def _counter(cur_raw: int, cur_base: int, new_raw: int, reset_allowed: bool) -> tuple[int, int, int]:
    """(raw, base, delta) after a report of ``new_raw``; a reset moves the old counter to the base."""
    if new_raw >= cur_raw:
        return new_raw, cur_base, new_raw - cur_raw
    if reset_allowed:
        return new_raw, cur_base + cur_raw, new_raw
    return cur_raw, cur_base, 0  # a late report: keep what we know


def apply_event(
    table: SessionTable,
    ev: AcctEvent,
    change: Change,
    interim_interval: int | None = None,
    reset_before: dt.datetime | None = None,
) -> None:
    """Run ``ev`` through the state machine, recording its effects in ``change``.
    ``reset_before`` (Accounting-On/Off): when the NAS sent it; a session started later is
    one of the NAS's new life (a login after the reboot, met by a late retransmission of
    the Accounting-On) and stays open."""
    if ev.status in (StatusType.ACCOUNTING_ON, StatusType.ACCOUNTING_OFF):
        for s in table.open_of_nas(ev.nas_address):
            if reset_before is not None and s.started_at > reset_before:
                continue
            change.put(
                replace(s, status=CLOSED, stopped_at=ev.event_time, terminate_cause=NAS_REBOOT,
                        updated_at=max(s.updated_at, ev.event_time))
            )  # fmt: skip
        return
    cur = table.get(ev.unique_id)
    if cur is None:
        new = _first_sight(ev, interim_interval)
        change.put(new)
        point = _point(new, ev.event_time, ev.status_name)
        change.interims.append(point)
        change.usage.append(
            UsageDelta(
                new.username,
                ev.event_time.date(),
                new.input_total,
                new.output_total,
                new.session_time,
                1,
                point,
            )
        )
        return
    if ev.status == StatusType.START:
        filled = _filled(cur, ev)
        if filled is not cur:
            change.put(filled)
        else:
            change.touch(cur.unique_id)
        return
    was_open = cur.is_open
    late = ev.session_time < cur.session_time
    reset_allowed = was_open and ev.session_time > cur.session_time
    new_in = cur.input_octets if late else ev.input_octets
    new_out = cur.output_octets if late else ev.output_octets
    in_raw, in_base, d_in = _counter(cur.input_octets, cur.input_base, new_in, reset_allowed)
    out_raw, out_base, d_out = _counter(cur.output_octets, cur.output_base, new_out, reset_allowed)
    d_time = max(0, ev.session_time - cur.session_time)
    advanced = bool(d_in or d_out or d_time)
    closing = was_open and ev.status == StatusType.STOP
    fresh = ev.event_time > cur.updated_at + _SAME_TIME  # news, even with equal counters
    if not (advanced or closing or (was_open and fresh and not late)):
        filled = _filled(cur, ev) if was_open else cur
        if filled is not cur:
            change.put(filled)
        else:
            change.touch(cur.unique_id)
        return
    changes = _missing(cur, ev) if was_open else {}
    changes["session_time"] = max(cur.session_time, ev.session_time)
    changes["input_octets"] = in_raw
    changes["output_octets"] = out_raw
    changes["input_base"] = in_base
    changes["output_base"] = out_base
    changes["input_packets"] = ev.input_packets if reset_allowed else max(cur.input_packets, ev.input_packets)
    changes["output_packets"] = (
        ev.output_packets if reset_allowed else max(cur.output_packets, ev.output_packets)
    )
    changes["updated_at"] = max(cur.updated_at, ev.event_time)
    if closing or (not was_open and advanced and ev.status == StatusType.STOP):
        changes["status"] = CLOSED
        changes["stopped_at"] = ev.event_time
        changes["terminate_cause"] = ev.terminate_cause
    new = _evolve(cur, changes)
    change.put(new)
    if advanced or closing:
        point = _point(new, ev.event_time, ev.status_name)
        change.interims.append(point)
        if advanced:
            change.usage.append(UsageDelta(new.username, ev.event_time.date(), d_in, d_out, d_time, 0, point))


def lost_service(s: LiveSession) -> LiveSession:
    """``s`` closed by the sweep: stopped at its last sign of life, cause Lost-Service."""
    return replace(s, status=CLOSED, stopped_at=s.updated_at, terminate_cause=LOST_SERVICE)


def event_of(s: LiveSession, status: StatusType) -> AcctEvent:
    """An event describing ``s`` (for lease hooks called by the sweep)."""
    return AcctEvent(
        status=status,
        nas_address=s.nas_address,
        router_id=s.router_id,
        event_time=s.stopped_at or s.updated_at,
        unique_id=s.unique_id,
        acct_session_id=s.acct_session_id,
        username=s.username,
        nas_port=s.nas_port,
        framed_ip=s.framed_ip,
        framed_ipv6_prefix=s.framed_ipv6_prefix,
        delegated_ipv6_prefix=s.delegated_ipv6_prefix,
        session_time=s.session_time,
        input_octets=s.input_total,
        output_octets=s.output_total,
        terminate_cause=s.terminate_cause,
        interim_interval=s.interim_interval,
        swept=True,
    )


def stale_sessions(
    open_sessions: Iterable[LiveSession],
    now: dt.datetime,
    limit: Callable[[LiveSession], float],
    *,
    stepped: Callable[[float], float] | None = None,
    skip: Collection[str] = (),
) -> list[LiveSession]:
    """The sessions with no news for longer than ``limit(s)`` seconds at ``now``, except those
    in ``skip``. ``stepped(t)``: seconds the wall clock was stepped since ``t`` (they do not
    count towards a session's age; radiusd.clock.ClockWatch.stepped_since)."""
    return [
        s
        for s in open_sessions
        if (now - s.updated_at).total_seconds() - (stepped(s.updated_at.timestamp()) if stepped else 0.0)
        > limit(s)
        and s.unique_id not in skip
    ]
