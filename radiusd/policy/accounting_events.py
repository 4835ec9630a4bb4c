"""Accounting-Request on the wire -> :class:`~radiusd.model.events.AcctEvent` (RFC 2866).

Identity. ``Acct-Unique-Session-Id`` = MD5 hex of the length-prefixed fields
``nas_address, Acct-Session-Id, User-Name, NAS-Port`` followed by every ``Class`` value when
the request carries one (RFC 2865 §5.25: the NAS echoes what the server sent). Each field is
written as ``<decimal length>:<octets>`` so no two field lists hash alike
(:func:`radiusd.model.events.unique_session_id`). The NAS is its normalised source address
(the identity RADIUS itself uses for a client). A retransmission with a new Identifier and
Acct-Delay-Time (RFC 5080 §2.2.1) therefore hits the same record.

Counters and time. 64-bit counters = Acct-*-Gigawords x 2^32 + Acct-*-Octets (RFC 2869
§5.1-5.2). The event time is Event-Timestamp when present (RFC 2869 §5.3), else the arrival
time minus Acct-Delay-Time (RFC 2866 §5.2).

Any other Acct-Status-Type (Failed, RFC 2867's tunnel types, vendor values) is not a session
change: :class:`OtherStatusType` is raised, and :func:`other_event` makes the record of it
stored in ``radius_accounting_events`` (one row per request, retransmissions included).
Nothing here does I/O or reads a clock: the arrival time comes with the request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import socket

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
from radiusd.codec.dictionary import Dictionary
from radiusd.codec.masking import describe_packet
from radiusd.codec.packet import Packet
from radiusd.model.events import AcctEvent, OtherEvent, StatusType, unique_session_id
from radiusd.model.request import Request


class InvalidAccounting(ValueError):
    """The request cannot be recorded (e.g. no Acct-Status-Type); it is dropped, not answered."""


class OtherStatusType(InvalidAccounting):
    """An Acct-Status-Type that is not a session event (Failed, RFC 2867's tunnel types, vendor
    values): not a session change, but still a request to record (:class:`OtherEvent`)."""

    def __init__(self, status: int, event_time: dt.datetime) -> None:
        super().__init__(f"unsupported Acct-Status-Type {status}")
        self.status = status
        self.event_time = event_time


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
#: the Acct-Status-Types that speak for a whole NAS (RFC 2866 §5.1), not one session
NAS_RESET = (StatusType.ACCOUNTING_ON, StatusType.ACCOUNTING_OFF)


def sent_at(req: Request) -> dt.datetime:
    """When the NAS sent ``req`` by this server's clock: its arrival less Acct-Delay-Time
    (RFC 2866 §5.2), whatever its Event-Timestamp says (a NAS without a battery-backed clock
    may send Accounting-On before its clock is set: an Event-Timestamp of 1970)."""
    _, (delay,) = req.packet.first_fields(b"", bytes((ACCT_DELAY_TIME,)))
    return dt.datetime.fromtimestamp(req.received - (delay or 0), dt.UTC)


#: what parse_event reads, in one Packet.first_fields call: raw values, then 4-octet integers
_RAW = bytes((
    ACCT_SESSION_ID, USER_NAME, CLASS, NAS_PORT_ID, FRAMED_IP_ADDRESS, FRAMED_IPV6_PREFIX,
    DELEGATED_IPV6_PREFIX, CALLING_STATION_ID, CALLED_STATION_ID,
))  # fmt: skip
_U32 = bytes((
    ACCT_STATUS_TYPE, EVENT_TIMESTAMP, ACCT_DELAY_TIME, NAS_PORT, NAS_PORT_TYPE, ACCT_SESSION_TIME,
    ACCT_INPUT_OCTETS, ACCT_OUTPUT_OCTETS, ACCT_INPUT_GIGAWORDS, ACCT_OUTPUT_GIGAWORDS,
    ACCT_INPUT_PACKETS, ACCT_OUTPUT_PACKETS, ACCT_TERMINATE_CAUSE, ACCT_INTERIM_INTERVAL,
))  # fmt: skip


def parse_event(req: Request, dictionary: Dictionary | None = None) -> AcctEvent:
    """Type an Accounting-Request; :class:`InvalidAccounting` when it cannot be recorded.

    One call reads every attribute used (``Packet.first_fields``, in C when built: the first
    occurrence of each type wins, as with ``Packet.raw``; an integer that is not 4 octets is
    absent), then plain assignments.
    """
    pkt: Packet = req.packet
    raws, ints = pkt.first_fields(_RAW, _U32)
    (
        status_raw, stamp, delay, port, port_type, session_time, in_octets, out_octets, in_giga,
        out_giga, in_packets, out_packets, cause, interim,
    ) = ints  # fmt: skip
    if status_raw is None:
        raise InvalidAccounting("no Acct-Status-Type")
    when = float(stamp) if stamp is not None else req.received - (delay or 0)
    event_time = dt.datetime.fromtimestamp(when, dt.UTC)
    status = _STATUS_OF.get(status_raw)
    if status is None:
        raise OtherStatusType(status_raw, event_time)
    nas = req.nas
    if status in NAS_RESET:
        return AcctEvent(status, nas.address, nas.id, event_time)
    sid, user, first_class, port_id, framed_ip, framed_v6, delegated_v6, calling, called = raws
    if sid is None:
        raise InvalidAccounting("no Acct-Session-Id")  # RFC 2866 §5.5: MUST be present
    user = user or b""
    classes = pkt.raw_all((CLASS,)) if first_class is not None else []
    return AcctEvent(
        status,
        nas.address,
        nas.id,
        event_time,
        unique_session_id(nas.address, sid, user, port, classes),
        sid.decode("utf-8", "replace"),
        user.decode("utf-8", "replace"),
        port,
        _text(port_id),
        _value_name(dictionary, "NAS-Port-Type", port_type),
        _ipv4(framed_ip),
        _ipv6_prefix(framed_v6),
        _ipv6_prefix(delegated_v6),
        _text(calling),
        _text(called),
        b"".join(classes).hex() if classes else None,
        session_time or 0,
        ((in_giga or 0) << 32) + (in_octets or 0),
        ((out_giga or 0) << 32) + (out_octets or 0),
        in_packets or 0,
        out_packets or 0,
        _value_name(dictionary, "Acct-Terminate-Cause", cause),
        interim,
    )


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
