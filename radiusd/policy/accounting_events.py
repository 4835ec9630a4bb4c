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
#: the Acct-Status-Types that speak for a whole NAS (RFC 2866 §5.1), not one session
NAS_RESET = (StatusType.ACCOUNTING_ON, StatusType.ACCOUNTING_OFF)


def parse_event(req: Request, dictionary: Dictionary | None = None) -> AcctEvent:
    """Type an Accounting-Request; :class:`InvalidAccounting` when it cannot be recorded.

    One pass over the packet's attributes into a dict by type code (``Packet.first_values``:
    the first valid occurrence of each wins, as with ``Packet.raw``), then lookups.
    """
    pkt: Packet = req.packet
    get = pkt.first_values().get
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
    if status in NAS_RESET:
        return AcctEvent(status, nas.address, nas.id, event_time)
    sid = get(ACCT_SESSION_ID)
    if sid is None:
        raise InvalidAccounting("no Acct-Session-Id")  # RFC 2866 §5.5: MUST be present
    user = get(USER_NAME) or b""
    port = _u32(get(NAS_PORT))
    classes = pkt.raw_all((CLASS,)) if get(CLASS) is not None else []
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
