"""Accounting-Request policy (RFC 2866): the session state machine and durable acknowledgement.

An Accounting-Request becomes an :class:`AcctEvent`, the event changes the in-memory
:class:`~radiusd.policy.sessions.SessionTable` at once (so Simultaneous-Use sees it), the
change goes to the group-commit writer, and the Accounting-Response is sent only after the
transaction holding it commits (RFC 2866 §2: "upon receipt of an Accounting-Request, the
server MUST transmit an Accounting-Response reply if it successfully records the
accounting packet"). Commit failed: no reply (the NAS retransmits) and the table is restored.
Writer queue full: the request is dropped and counted (``dropped_busy``), nothing changes.

Identity. ``Acct-Unique-Session-Id`` = MD5 hex of the length-prefixed fields
``nas_address, Acct-Session-Id, User-Name, NAS-Port`` followed by every ``Class`` value when
the request carries one (RFC 2865 §5.25: the NAS echoes what the server sent). Each field is
written as ``<decimal length>:<octets>`` so no two field lists hash alike. The NAS is its
normalised source address (the identity RADIUS itself uses for a client). A retransmission
with a new Identifier and Acct-Delay-Time (RFC 5080 §2.2.1) therefore hits the same record.

Counters and time. 64-bit counters = Acct-*-Gigawords x 2^32 + Acct-*-Octets (RFC 2869
§5.1-5.2). The event time is Event-Timestamp when present (RFC 2869 §5.3), else the arrival
time minus Acct-Delay-Time (RFC 2866 §5.2).

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
- Stale sessions (no news within k x Acct-Interim-Interval + grace): closed by
  :meth:`AccountingPolicy.sweep_once` with cause Lost-Service, stopped at their last update.
- Any other Acct-Status-Type (Failed, RFC 2867's tunnel types, vendor values): not a session
  change; recorded in ``radius_accounting_events`` (one row per request, retransmissions
  included: :func:`other_event`) and acknowledged after the commit, as RFC 2866 §2 asks, so the
  NAS does not retransmit it forever or mark the server dead.

Commit outcome unknown. When the connection drops during COMMIT the transaction may have
committed although the writer reports a failure: memory is rolled back and no reply is sent, as
for any failure, and the sessions of that batch are marked *in doubt*
(:meth:`AccountingPolicy.commit_in_doubt`). A newer request for such a session would otherwise
be computed against the rolled-back state and count the committed delta a second time; instead
it is not answered, and the stored rows of the doubtful sessions are read back through the
writer (:class:`ReloadOp`, first in its transaction; on PostgreSQL only once ``txid_status()``
says the lost transaction is no longer in progress). Once read, memory holds what the database
holds and the NAS's retransmissions are computed on it (a retransmission of the doubtful request
itself then finds its update stored and adds nothing). Accounting-On/Off and the sweep wait for
the doubt to clear too.

Lease hooks (IPAM) are called for every Start, Interim-Update of an open session,
Stop, Accounting-On/Off and swept session; their operations join the same writer batch.
Hooks must be idempotent: a retransmitted request calls them again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import ipaddress
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import fields, replace
from enum import IntEnum
from operator import attrgetter
from typing import Any, Protocol

from radiusd.clock import ClockWatch
from radiusd.codec.attributes_gen import (
    ACCT_DELAY_TIME,
    ACCT_INPUT_GIGAWORDS,
    ACCT_INPUT_OCTETS,
    ACCT_INPUT_PACKETS,
    ACCT_INTERIM_INTERVAL,
    ACCT_OUTPUT_GIGAWORDS,
    ACCT_OUTPUT_OCTETS,
    ACCT_OUTPUT_PACKETS,
    ACCT_SESSION_ID,
    ACCT_SESSION_TIME,
    ACCT_STATUS_TYPE,
    ACCT_TERMINATE_CAUSE,
    CALLED_STATION_ID,
    CALLING_STATION_ID,
    CLASS,
    DELEGATED_IPV6_PREFIX,
    EVENT_TIMESTAMP,
    FRAMED_IP_ADDRESS,
    FRAMED_IPV6_PREFIX,
    NAS_PORT,
    NAS_PORT_ID,
    NAS_PORT_TYPE,
    USER_NAME,
)
from radiusd.codec.codes import Code
from radiusd.codec.dictionary import Dictionary
from radiusd.codec.packet import Packet
from radiusd.logs import get_logger
from radiusd.server.handler import HandlerResult, Request
from radiusd.store.writer import Operation, WriterBusy, WriterClosed

from .directory import Directory
from .seams import LeaseHooks, NoLeaseHooks
from .sessions import CLOSED, Change, InterimPoint, LiveSession, SessionTable, UsageDelta, record

log = get_logger("radiusd.accounting")


NAS_REBOOT = "NAS-Reboot"
LOST_SERVICE = "Lost-Service"


class StatusType(IntEnum):
    """Acct-Status-Type values handled here (RFC 2866 §5.1)."""

    START = 1
    STOP = 2
    INTERIM_UPDATE = 3
    ACCOUNTING_ON = 7
    ACCOUNTING_OFF = 8


_STATUS_NAME = {
    StatusType.START: "Start",
    StatusType.STOP: "Stop",
    StatusType.INTERIM_UPDATE: "Interim-Update",
    StatusType.ACCOUNTING_ON: "Accounting-On",
    StatusType.ACCOUNTING_OFF: "Accounting-Off",
}


class InvalidAccounting(ValueError):
    """The request cannot be recorded (e.g. no Acct-Status-Type); it is dropped, not answered."""


class OtherStatusType(InvalidAccounting):
    """An Acct-Status-Type that is not a session event (Failed, RFC 2867's tunnel types, vendor
    values): not a session change, but still a request to record (:class:`OtherEvent`)."""

    def __init__(self, status: int, event_time: dt.datetime) -> None:
        super().__init__(f"unsupported Acct-Status-Type {status}")
        self.status = status
        self.event_time = event_time


@record
class AcctEvent:
    """One Accounting-Request, typed: what the state machine and the lease hooks read."""

    status: StatusType
    nas_address: str
    router_id: int | None
    event_time: dt.datetime
    unique_id: str = ""
    acct_session_id: str = ""
    username: str = ""
    nas_port: int | None = None
    nas_port_id: str | None = None
    nas_port_type: str | None = None
    framed_ip: str | None = None
    framed_ipv6_prefix: str | None = None
    delegated_ipv6_prefix: str | None = None
    calling_station_id: str | None = None
    called_station_id: str | None = None
    class_: str | None = None
    session_time: int = 0
    input_octets: int = 0
    output_octets: int = 0
    input_packets: int = 0
    output_packets: int = 0
    terminate_cause: str | None = None
    interim_interval: int | None = None
    #: made by the stale-session sweep, not received: its lease ends only if no node renewed it
    swept: bool = False

    @property
    def status_name(self) -> str:
        return _STATUS_NAME[self.status]


def unique_session_id(
    nas: str, acct_session_id: bytes, username: bytes, nas_port: int | None, classes: Sequence[bytes] = ()
) -> str:
    """Acct-Unique-Session-Id: MD5 hex of length-prefixed NAS, session id, user, port (+ Class)."""
    port = b"" if nas_port is None else b"%d" % nas_port
    host = nas.encode()
    data = b"%d:%s%d:%s%d:%s%d:%s" % (
        len(host), host, len(acct_session_id), acct_session_id, len(username), username, len(port), port
    )  # fmt: skip
    if classes:
        data += b"".join([b"%d:%s" % (len(c), c) for c in classes])
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _u32(raw: bytes | None) -> int | None:
    return int.from_bytes(raw) if raw is not None and len(raw) == 4 else None


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "replace")


def _ipv4(raw: bytes | None) -> str | None:
    return socket.inet_ntoa(raw) if raw is not None and len(raw) == 4 else None


def _ipv6_prefix(raw: bytes | None) -> str | None:
    """RFC 3162 §2.3: reserved octet, prefix length, prefix (only the significant octets)."""
    if raw is None or len(raw) < 2 or raw[1] > 128 or len(raw) > 18:
        return None
    addr = ipaddress.IPv6Address(raw[2:].ljust(16, b"\0"))
    try:
        return str(ipaddress.IPv6Network(f"{addr}/{raw[1]}", strict=False))
    except ValueError:
        return None


def _value_name(dictionary: Dictionary | None, attr: str, number: int | None) -> str | None:
    if number is None:
        return None
    found = dictionary.value_name(attr, number) if dictionary is not None else None
    return found or str(number)


_STATUS_OF = {s.value: s for s in StatusType}
_NAS_RESET = (StatusType.ACCOUNTING_ON, StatusType.ACCOUNTING_OFF)


def parse_event(req: Request, dictionary: Dictionary | None = None) -> AcctEvent:
    """Type an Accounting-Request; :class:`InvalidAccounting` when it cannot be recorded.

    One pass over the packet's attributes into a dict by type code (the first occurrence of
    each wins, as with ``Packet.raw``; attributes found invalid are skipped), then lookups.
    """
    pkt: Packet = req.packet
    attrs = pkt.attributes
    invalid = pkt.invalid
    if invalid:
        attrs = [a for i, a in enumerate(attrs) if i not in invalid]
    get = dict(reversed(attrs)).get
    status_raw = _u32(get(ACCT_STATUS_TYPE))
    if status_raw is None:
        raise InvalidAccounting("no Acct-Status-Type")
    stamp = _u32(get(EVENT_TIMESTAMP))
    when = float(stamp) if stamp is not None else req.received - (_u32(get(ACCT_DELAY_TIME)) or 0)
    event_time = dt.datetime.fromtimestamp(when, dt.UTC)
    status = _STATUS_OF.get(status_raw)
    if status is None:
        raise OtherStatusType(status_raw, event_time)
    nas = req.nas
    if status in _NAS_RESET:
        return AcctEvent(status, nas.address, nas.id, event_time)
    sid = get(ACCT_SESSION_ID)
    if sid is None:
        raise InvalidAccounting("no Acct-Session-Id")  # RFC 2866 §5.5: MUST be present
    user = get(USER_NAME) or b""
    port = _u32(get(NAS_PORT))
    classes = [v for t, v in attrs if t == CLASS] if get(CLASS) is not None else []
    return AcctEvent(
        status,
        nas.address,
        nas.id,
        event_time,
        unique_session_id(nas.address, sid, user, port, classes),
        sid.decode("utf-8", "replace"),
        user.decode("utf-8", "replace"),
        port,
        _text(get(NAS_PORT_ID)),
        _value_name(dictionary, "NAS-Port-Type", _u32(get(NAS_PORT_TYPE))),
        _ipv4(get(FRAMED_IP_ADDRESS)),
        _ipv6_prefix(get(FRAMED_IPV6_PREFIX)),
        _ipv6_prefix(get(DELEGATED_IPV6_PREFIX)),
        _text(get(CALLING_STATION_ID)),
        _text(get(CALLED_STATION_ID)),
        b"".join(classes).hex() if classes else None,
        _u32(get(ACCT_SESSION_TIME)) or 0,
        ((_u32(get(ACCT_INPUT_GIGAWORDS)) or 0) << 32) + (_u32(get(ACCT_INPUT_OCTETS)) or 0),
        ((_u32(get(ACCT_OUTPUT_GIGAWORDS)) or 0) << 32) + (_u32(get(ACCT_OUTPUT_OCTETS)) or 0),
        _u32(get(ACCT_INPUT_PACKETS)) or 0,
        _u32(get(ACCT_OUTPUT_PACKETS)) or 0,
        _value_name(dictionary, "Acct-Terminate-Cause", _u32(get(ACCT_TERMINATE_CAUSE))),
        _u32(get(ACCT_INTERIM_INTERVAL)),
    )


@record
class OtherEvent:
    """An Accounting-Request with an Acct-Status-Type that is not a session event, as recorded
    in ``radius_accounting_events`` before it is acknowledged."""

    digest: str
    event_time: dt.datetime
    nas_address: str
    router_id: int | None
    status_type: int
    status_name: str
    username: str | None
    acct_session_id: str | None
    attributes: str


#: left out of an OtherEvent's digest: what a NAS changes when it retransmits (RFC 5080 §2.2.1)
#: and the per-packet Message-Authenticator
_NOT_DIGESTED = frozenset({ACCT_DELAY_TIME, 80})


def other_event(
    req: Request, status: int, event_time: dt.datetime, dictionary: Dictionary | None = None
) -> OtherEvent:
    """The record of a request whose Acct-Status-Type ``status`` is not a session event, at the
    ``event_time`` :func:`parse_event` found.

    The digest is MD5 over the NAS address and every attribute but Acct-Delay-Time and
    Message-Authenticator, in order: a retransmission (new Identifier, new Acct-Delay-Time)
    gives the same digest, so it is one row; two events differ in some attribute (a new
    Acct-Session-Id or Event-Timestamp). Attributes are kept as the debug output prints them,
    secrets masked.
    """
    from radiusd.server.debug import describe_packet  # the debug printer's masking rules

    pkt = req.packet
    digest = hashlib.md5(req.nas.address.encode(), usedforsecurity=False)
    for t, v in pkt.attributes:
        if t not in _NOT_DIGESTED:
            digest.update(b"%d:%d:%s" % (t, len(v), v))
    return OtherEvent(
        digest.hexdigest(),
        event_time,
        req.nas.address,
        req.nas.id,
        status,
        _value_name(dictionary, "Acct-Status-Type", status) or str(status),
        _text(pkt.raw((USER_NAME,))),
        _text(pkt.raw((ACCT_SESSION_ID,))),
        "\n".join(line.strip() for line in describe_packet(pkt)),
    )


# -- the state machine ---------------------------------------------------------------------

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


def _missing(cur: LiveSession, ev: AcctEvent) -> dict[str, Any]:
    """The attributes ``cur`` lacks and ``ev`` carries (a later request may carry more)."""
    return {a: v for a in _ATTRS if getattr(cur, a) is None and (v := getattr(ev, a)) is not None}


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
    table: SessionTable, ev: AcctEvent, change: Change, interim_interval: int | None = None
) -> None:
    """Run ``ev`` through the state machine, recording its effects in ``change``."""
    if ev.status in (StatusType.ACCOUNTING_ON, StatusType.ACCOUNTING_OFF):
        for s in table.open_of_nas(ev.nas_address):
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


# -- the handler ---------------------------------------------------------------------------


class ReloadOp(Operation, Protocol):
    """Reads the stored state of sessions in doubt (radiusd.store.accounting_ops.SessionReloadOp);
    once the transaction holding it has committed, ``found`` holds the rows read, or
    ``settled`` is False when a lost transaction was still running (nothing read yet)."""

    found: list[LiveSession]
    settled: bool


class OpSink(Protocol):
    """What the policy needs of the writer (radiusd.store.writer.Writer)."""

    def submit(self, op: Operation) -> asyncio.Future[None]: ...


MakeOp = Callable[[Change], Operation]


class AccountingPolicy:
    """The Accounting-Request handler; also runs the stale-session sweep."""

    def __init__(
        self,
        table: SessionTable,
        writer: OpSink,
        make_op: MakeOp,
        *,
        dictionary: Dictionary | None = None,
        directory: Directory | None = None,
        hooks: LeaseHooks | None = None,
        make_event_op: Callable[[OtherEvent], Operation] | None = None,
        make_reload_op: Callable[[list[str], list[int]], ReloadOp] | None = None,
        default_interim_interval: int = 300,
        interim_grace_factor: float = 3.0,
        interim_grace: float = 120.0,
        clock: Callable[[], float] = time.time,
        watch: ClockWatch | None = None,
    ) -> None:
        self.table = table
        self.writer = writer
        self.make_op = make_op
        self.dictionary = dictionary
        self.directory = directory
        self.hooks: LeaseHooks = hooks if hooks is not None else NoLeaseHooks()
        #: writes an :class:`OtherEvent`; None: such requests are dropped unanswered, as invalid
        self.make_event_op = make_event_op
        #: reads sessions back after a commit with an unknown outcome; None: doubt is not tracked
        self.make_reload_op = make_reload_op
        self._doubt: set[str] = set()
        self._doubt_xids: set[int] = set()  # the lost transactions (PostgreSQL ids), if known
        self._reloading = False
        self._elsewhere: set[str] = set()  # sessions another node opened or closed, to read
        self._reading_elsewhere = False
        self.default_interim_interval = default_interim_interval
        self.interim_grace_factor = interim_grace_factor
        self.interim_grace = interim_grace
        self.clock = clock
        #: wall-clock steps, noticed by the sweep: a session's age does not count them
        self.watch = watch if watch is not None else ClockWatch.for_clock(interim_grace, clock)
        # figures for metrics and tests
        self.dropped_busy = 0
        self.dropped_invalid = 0
        self.other_events = 0
        self.dropped_in_doubt = 0
        self.dropped_stale = 0  # requests computed on a session another node had written since
        self.taken_elsewhere = 0  # sessions another node opened or closed, taken into memory
        self.failed = 0
        self.swept = 0

    def _plan_interval(self, username: str) -> int | None:
        d = self.directory
        if d is None:
            return None
        sub = d.subscribers.get(username)
        plan = d.plans.get(sub.plan) if sub is not None and sub.plan else None
        return plan.interim_interval if plan is not None else None

    def handle(self, req: Request) -> HandlerResult:
        try:
            ev = parse_event(req, self.dictionary)
        except InvalidAccounting as exc:
            if isinstance(exc, OtherStatusType) and self.make_event_op is not None:
                return self._record_other(req, exc.status, exc.event_time)
            self.dropped_invalid += 1
            log.info("accounting.invalid", nas=req.nas.name, reason=str(exc))
            req.note(f"  not recorded: {exc}")
            req.drop_reason = "invalid-accounting"
            return None
        if req.trace is not None:
            req.note(f"  {ev.status_name} session {ev.unique_id or '-'} user {ev.username!r}")
        if self._doubt and (ev.unique_id in self._doubt or ev.status in _NAS_RESET):
            self.dropped_in_doubt += 1
            req.note("  not answered: a commit of this session lost its connection; rereading it first")
            req.drop_reason = "commit-in-doubt"
            self.resolve_doubt()
            return None
        change = self.table.begin()
        apply_event(self.table, ev, change, self._plan_interval(ev.username) if ev.username else None)
        ops = self._lease_ops(ev, change)
        if change.writes:
            ops.insert(0, self.make_op(change))
        elif not ops and not change.depends:
            change.committed()
            return req.packet.reply(Code.ACCOUNTING_RESPONSE)  # nothing new and nothing pending
        else:
            ops.insert(0, self.make_op(change))  # waits for the pending writes it depends on
        return self._submit(req, change, ops)

    def _record_other(self, req: Request, status: int, event_time: dt.datetime) -> HandlerResult:
        """Record a request that is not a session event, then acknowledge it (RFC 2866 §2)."""
        assert self.make_event_op is not None
        event = other_event(req, status, event_time, self.dictionary)
        req.note(f"  Acct-Status-Type {event.status_name}: not a session event; recorded, then answered")
        self.other_events += 1
        return self._submit(req, self.table.begin(), [self.make_event_op(event)])

    # -- commits with an unknown outcome ---------------------------------------------------

    def commit_in_doubt(self, ops: Sequence[Operation]) -> None:
        """The writer lost its connection during the COMMIT of ``ops`` (Writer.on_in_doubt):
        their sessions are in doubt until reread from the database."""
        if self.make_reload_op is None:
            return
        uids: set[str] = set()
        for op in ops:
            change = getattr(op, "change", None)
            if isinstance(change, Change):
                uids |= change.touched()
            xid = getattr(op, "xid", None)
            if isinstance(xid, int):
                self._doubt_xids.add(xid)
        if uids - self._doubt:
            self._doubt |= uids
            log.warning("accounting.in-doubt", sessions=len(self._doubt))
            self.resolve_doubt()

    @property
    def in_doubt(self) -> int:
        return len(self._doubt)

    def resolve_doubt(self) -> None:
        """Queue one read of the sessions in doubt (again after a failed one: called by every
        request that finds its session in doubt, so the NAS's retransmissions retry it)."""
        if self._reloading or not self._doubt or self.make_reload_op is None:
            return
        uids = sorted(self._doubt)
        xids = sorted(self._doubt_xids)
        op = self.make_reload_op(uids, xids)
        try:
            fut = self.writer.submit(op)
        except (WriterBusy, WriterClosed):
            return
        self._reloading = True
        fut.add_done_callback(lambda done: self._reloaded(uids, xids, op, done))

    def _reloaded(self, uids: list[str], xids: list[int], op: ReloadOp, done: asyncio.Future[None]) -> None:
        self._reloading = False
        if done.cancelled() or done.exception() is not None or not op.settled:
            return  # still in doubt: the next request for one of them asks again
        self._doubt_xids.difference_update(xids)
        stored = {s.unique_id: s for s in op.found}
        resolved = 0
        for uid in uids:
            if self.table.pending(uid):
                continue  # never expected (their requests are not taken); stays in doubt
            self.table.reloaded(uid, stored.get(uid))
            self._doubt.discard(uid)
            resolved += 1
        log.info("accounting.in-doubt-resolved", sessions=resolved, left=len(self._doubt))
        if self._doubt - set(uids):
            self.resolve_doubt()  # sessions put in doubt while this read was on its way

    # -- sessions opened or closed at other nodes -----------------------------------------

    def written_elsewhere(self, unique_ids: list[str]) -> None:
        """Another node opened or closed these sessions (its announcement): read them through
        the writer, after this node's own writes, so that Simultaneous-Use counts them."""
        self._elsewhere.update(unique_ids)
        self._read_elsewhere()

    def _read_elsewhere(self) -> None:
        if self._reading_elsewhere or not self._elsewhere or self.make_reload_op is None:
            return
        uids, self._elsewhere = sorted(self._elsewhere), set()
        op = self.make_reload_op(uids, [])
        try:
            fut = self.writer.submit(op)
        except (WriterBusy, WriterClosed):
            self._elsewhere.update(uids)
            return
        self._reading_elsewhere = True

        def done(read: asyncio.Future[None]) -> None:
            self._reading_elsewhere = False
            if read.cancelled() or read.exception() is not None or not op.settled:
                self._elsewhere.update(uids)  # read again with the next announcement
                return
            stored = {s.unique_id: s for s in op.found}
            for uid in uids:
                if uid in stored and not self.table.pending(uid) and uid not in self._doubt:
                    self.table.reloaded(uid, stored[uid])
                    self.taken_elsewhere += 1
            self._read_elsewhere()

        fut.add_done_callback(done)

    def _lease_ops(self, ev: AcctEvent, change: Change) -> list[Operation]:
        h = self.hooks
        if ev.status == StatusType.START:
            return list(h.on_start(ev))
        if ev.status == StatusType.STOP:
            return list(h.on_stop(ev))
        if ev.status == StatusType.INTERIM_UPDATE:
            s = self.table.get(ev.unique_id)
            return list(h.on_interim(ev)) if s is not None and s.is_open else []
        return list(h.on_nas_reset(ev.nas_address, ev))

    def _submit(self, req: Request, change: Change, ops: list[Operation]) -> HandlerResult:
        futs: list[asyncio.Future[None]] = []
        try:
            for op in ops:
                futs.append(self.writer.submit(op))
        except (WriterBusy, WriterClosed) as exc:
            change.rollback()  # a queued op of this change is now cancelled: it writes nothing
            self.dropped_busy += 1
            req.note(f"  dropped: {exc}")
            req.drop_reason = "writer-busy" if isinstance(exc, WriterBusy) else "shutting-down"
            for fut in futs:  # lease ops already queued still commit (hooks are idempotent)
                fut.add_done_callback(_consume)
            return None
        # A plain future resolved from the writer's callback, not a coroutine: no Task and no
        # extra event-loop steps per request (the dispatcher awaits any awaitable).
        reply: asyncio.Future[Packet | None] = futs[0].get_loop().create_future()
        if len(futs) == 1:
            futs[0].add_done_callback(lambda done: self._finish(req, change, done, reply))
            return reply
        # Several operations (lease hooks): finish at the first failure or after the last
        # success, as gather() would, without its wrapper future.
        left = [len(futs)]

        def one_done(done: asyncio.Future[None]) -> None:
            failed = done.cancelled() or done.exception() is not None  # (retrieves it)
            if left[0] <= 0:
                return  # finished already, by an earlier failure
            left[0] = 0 if failed else left[0] - 1
            if not left[0]:
                self._finish(req, change, done, reply)

        for fut in futs:
            fut.add_done_callback(one_done)
        return reply

    def _finish(
        self, req: Request, change: Change, done: asyncio.Future[Any], reply: asyncio.Future[Packet | None]
    ) -> None:
        """The writer is done with this request's operations: reply, or fail without a reply."""
        if done.cancelled() or done.exception() is not None:
            self.failed += 1
            change.rollback()  # already done by the writer; harmless when repeated
            if not reply.done():
                if done.cancelled():
                    reply.cancel()
                else:
                    reply.set_exception(done.exception())  # type: ignore[arg-type]
            return
        if change.stale:  # another node wrote one of its sessions first: nothing of it was written
            self.dropped_stale += 1
            uids = change.touched()
            change.rollback()
            req.note("  not answered: another node updated this session first; rereading it")
            req.drop_reason = "session-moved"
            log.info("accounting.session-moved", sessions=len(uids), nas=req.nas.name)
            self._doubt |= uids
            self.resolve_doubt()
            result: Packet | None = None
        elif change.cancelled:
            req.note("  not answered: an earlier write of this session failed")
            req.drop_reason = "earlier-write-failed"
            result = None
        else:
            change.committed()
            result = req.packet.reply(Code.ACCOUNTING_RESPONSE)
        if not reply.done():
            reply.set_result(result)

    # -- the sweep ------------------------------------------------------------------------

    def stale_limit(self, s: LiveSession) -> float:
        interval = s.interim_interval or self.default_interim_interval
        return self.interim_grace_factor * interval + self.interim_grace

    async def sweep_once(self, now: dt.datetime | None = None) -> int:
        """Close sessions with no news within k x interval + grace (Lost-Service); prune closed."""
        now = now if now is not None else dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        step = self.watch.look()
        if step:
            log.warning("clock.jump", seconds=round(step, 1), action="session ages do not count it")
        stepped = self.watch.stepped_since if self.watch.steps else None
        stale = [
            s
            for s in self.table.open_all()
            if (now - s.updated_at).total_seconds() - (stepped(s.updated_at.timestamp()) if stepped else 0.0)
            > self.stale_limit(s)
            and s.unique_id not in self._doubt
        ]
        if stale:
            change = self.table.begin()
            ops: list[Operation] = []
            for s in stale:
                closed = lost_service(s)
                change.put(closed)
                ops.extend(self.hooks.on_stop(event_of(closed, StatusType.STOP)))
            ops.insert(0, self.make_op(change))
            try:
                futs = [self.writer.submit(op) for op in ops]
            except (WriterBusy, WriterClosed):
                change.rollback()
                return 0
            try:
                await asyncio.gather(*futs)
            except Exception as exc:
                change.rollback()
                log.warning(
                    "sessions.sweep-failed", sessions=len(stale), error=f"{type(exc).__name__}: {exc}"[:300]
                )
                return 0
            if change.stale:  # another node wrote some of them since: reread, sweep again later
                uids = change.touched()
                change.rollback()
                self._doubt |= uids
                self.resolve_doubt()
                return 0
            if change.cancelled:
                return 0
            change.committed()
            self.swept += len(stale)
            log.info("sessions.swept", closed=len(stale), cause=LOST_SERVICE)
        self.table.prune_closed(now)
        return len(stale)

    async def run_sweeper(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep_once()
            except Exception:  # keep sweeping; the next round retries
                log.exception("sessions.sweep-error")


def _consume(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled():
        fut.exception()
