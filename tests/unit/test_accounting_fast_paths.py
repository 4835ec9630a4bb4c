"""The accounting hot path's shortcuts give what the plain code they replaced gave.

Each shortcut (reading a decoded packet's attributes without its ``attributes`` list, the
PostgreSQL row tuples built from two attribute slices, the state machine's missing-attribute
check, a plain future from a handler) is compared with a reference written the old way, on
the same inputs, value for value.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import itertools
from typing import Any

import pytest

from radiusd.codec.codes import Code
from radiusd.codec.dictionary import default_dictionary
from radiusd.codec.packet import Packet, decode, encode_request
from radiusd.model.events import AcctEvent, StatusType
from radiusd.model.request import NasClient, Request
from radiusd.model.sessions import InterimPoint, LiveSession
from radiusd.policy.accounting_events import parse_event
from radiusd.policy.accounting_state import _ATTRS, _missing
from radiusd.server.dedupe import DedupeCache
from radiusd.server.dispatcher import Dispatcher
from radiusd.server.nas import NasRegistry
from radiusd.store.accounting_pg import _PG_POINT_COLS, _PG_SESSION_COLS, _point_wire, _session_wire

D = default_dictionary()
SECRET = b"fast-path-Secr3t"
NAS = NasClient(3, "bras", "192.0.2.9", SECRET)
T0 = 1_700_000_000.0
CLASS, VSA = 25, 26


BAD_VSA = b"\x00\x00\x00\x09\x01\x09abc"  # a sub-attribute longer than its VSA (RFC 6929 §2.8)


def accounting_request(attrs: list[tuple[Any, Any]], identifier: int = 1) -> bytes:
    p = Packet(Code.ACCOUNTING_REQUEST, identifier, dictionary=D)
    for name, value in attrs:
        if isinstance(name, int):  # raw: what a NAS may send but our encoder refuses
            p.attributes.append((name, value))
        else:
            p.add(name, value)
    return encode_request(p, SECRET)


FULL = [
    ("Acct-Status-Type", "Interim-Update"),
    ("Acct-Session-Id", "81000A2F"),
    ("User-Name", "alice"),
    ("NAS-Port", 4711),
    ("NAS-Port-Id", "ge-0/0/1.100"),
    ("NAS-Port-Type", "Ethernet"),
    ("Framed-IP-Address", "10.1.2.3"),
    ("Framed-IPv6-Prefix", "2001:db8:1::/64"),
    ("Delegated-IPv6-Prefix", "2001:db8:ff00::/56"),
    ("Calling-Station-Id", "02:00:00:00:0A:2F"),
    ("Called-Station-Id", "bras-1"),
    ("Class", b"plan-a"),
    ("Class", b"node-2"),
    ("Acct-Delay-Time", 3),
    ("Acct-Session-Time", 600),
    ("Acct-Input-Octets", 123),
    ("Acct-Output-Octets", 456),
    ("Acct-Input-Gigawords", 1),
    ("Acct-Output-Gigawords", 2),
    ("Acct-Input-Packets", 7),
    ("Acct-Output-Packets", 8),
    ("Acct-Terminate-Cause", "User-Request"),
    ("Acct-Interim-Interval", 300),
    ("Vendor-Specific", b"\x00\x00\x00\x09\x01\x05abc"),  # Cisco-AVPair "abc"
]


def reference_first_values(p: Packet) -> dict[int, bytes]:
    """The old way: the attributes list, invalid ones left out, the first of each type."""
    attrs = [a for i, a in enumerate(p.attributes) if i not in p.invalid]
    return dict(reversed(attrs))


@pytest.mark.parametrize(
    "attrs",
    [
        FULL,
        [("Acct-Status-Type", "Start"), ("Acct-Session-Id", "a"), ("Acct-Session-Id", "b")],
        # a malformed VSA: invalid, left out (RFC 6929 §2.8)
        [("Acct-Status-Type", "Stop"), (VSA, BAD_VSA), ("User-Name", "bob")],
        [("Acct-Status-Type", "Stop")],
    ],
)
def test_first_values_equals_the_attribute_list(attrs: list[tuple[Any, Any]]) -> None:
    data = accounting_request(attrs)
    decoded = decode(data, D)
    found = decoded.first_values()
    listed = decode(data, D)
    types = {t for t, _ in listed.attributes}
    assert found == {t: v for t in types if (v := decoded.raw((t,))) is not None}
    assert listed.attributes  # now list-backed: the other branch
    assert listed.first_values() == reference_first_values(listed) == found


def test_first_values_skips_an_invalid_first_occurrence() -> None:
    data = accounting_request(
        [("Acct-Status-Type", "Start"), (VSA, BAD_VSA), ("Vendor-Specific", b"\x00\x00\x00\x09\x01\x05abc")]
    )
    p = decode(data, D)
    assert p.invalid  # the first VSA
    assert p.first_values()[VSA] == b"\x00\x00\x00\x09\x01\x05abc" == p.raw((VSA,))


@pytest.mark.parametrize("status", ["Start", "Interim-Update", "Stop"])
def test_parse_event_of_a_decoded_packet_equals_the_list_backed_one(status: str) -> None:
    attrs = [("Acct-Status-Type", status), *FULL[1:]]
    data = accounting_request(attrs)
    fast = parse_event(Request(decode(data, D), data, NAS, ("192.0.2.9", 1813), T0), D)
    slow_packet = decode(data, D)
    assert slow_packet.attributes
    slow = parse_event(Request(slow_packet, data, NAS, ("192.0.2.9", 1813), T0), D)
    assert fast == slow
    assert fast.class_ == (b"plan-a" + b"node-2").hex()  # both Class values, in order
    assert fast.input_octets == (1 << 32) + 123 and fast.output_octets == (2 << 32) + 456


# -- the PostgreSQL row tuples ----------------------------------------------------------------


def reference_session_wire(s: LiveSession, rev_before: int) -> tuple[Any, ...]:
    """The old way: every column's attribute, timestamps as epoch seconds, then rev_before."""
    row = []
    for _, typ, attr in _PG_SESSION_COLS:
        v = getattr(s, attr)
        row.append(v.timestamp() if typ == "FLOAT8" and v is not None else v)
    return (*row, rev_before)


def reference_point_wire(p: InterimPoint) -> tuple[Any, ...]:
    return tuple(
        getattr(p, a).timestamp() if typ == "FLOAT8" else getattr(p, a) for _, typ, a in _PG_POINT_COLS
    )


START = dt.datetime(2026, 12, 7, 10, 0, 0, 123456, tzinfo=dt.UTC)


@pytest.mark.parametrize("stopped", [None, START + dt.timedelta(seconds=600, microseconds=1)])
def test_session_wire_equals_the_column_list(stopped: dt.datetime | None) -> None:
    s = LiveSession(
        "u" * 32, "81000A2F", "alice", "192.0.2.9", START, START + dt.timedelta(seconds=300),
        router_id=3, subscriber_id=None, nas_port=4711, nas_port_id="ge-0/0/1", nas_port_type="Ethernet",
        framed_ip="10.1.2.3", class_="00ff", stopped_at=stopped, session_time=600,
        input_octets=(1 << 40) + 5, output_octets=6, input_packets=7, output_packets=8, input_base=9,
        output_base=10, terminate_cause="User-Request" if stopped else None,
        status="closed" if stopped else "open", interim_interval=300, rev=4,
    )  # fmt: skip
    wire = _session_wire(s, 3)
    assert type(wire) is tuple  # asyncpg: a tuple is a composite, a list a sub-array
    assert wire == reference_session_wire(s, 3)
    assert len(wire) == len(_PG_SESSION_COLS) + 1


def test_point_wire_equals_the_column_list() -> None:
    p = InterimPoint("u" * 32, START, "Interim-Update", 300, 1 << 33, 5, 6, 7)
    wire = _point_wire(p)
    assert type(wire) is tuple and wire == reference_point_wire(p)


# -- the state machine's missing attributes ---------------------------------------------------


def test_missing_equals_the_attribute_by_attribute_check() -> None:
    base = LiveSession("u", "s", "alice", "192.0.2.9", START, START)
    event = AcctEvent(StatusType.INTERIM_UPDATE, "192.0.2.9", 3, START)
    values: dict[str, Any] = {a: f"v-{a}" if a != "interim_interval" else 300 for a in _ATTRS}
    # every combination of (session has it, event has it) over the first four attributes, the
    # rest all present in the session (the common case: nothing missing) or all absent
    for have in itertools.product([False, True], repeat=4):
        for carry in itertools.product([False, True], repeat=4):
            for rest in (True, False):
                on_cur: dict[str, Any] = {
                    a: values[a] if (have[i] if i < 4 else rest) else None for i, a in enumerate(_ATTRS)
                }
                on_ev: dict[str, Any] = {
                    a: "new" if (carry[i] if i < 4 else True) else None for i, a in enumerate(_ATTRS)
                }
                cur = dataclasses.replace(base, **on_cur)
                ev = dataclasses.replace(event, **on_ev)
                expected = {
                    a: getattr(ev, a)
                    for a in _ATTRS
                    if getattr(cur, a) is None and getattr(ev, a) is not None
                }
                assert _missing(cur, ev) == expected


# -- a handler's plain future -----------------------------------------------------------------


async def test_a_handler_returning_a_plain_future_is_answered_when_it_resolves() -> None:
    loop = asyncio.get_running_loop()
    pending: list[tuple[Request, asyncio.Future[Packet | None]]] = []

    class Handler:
        def handle(self, req: Request) -> asyncio.Future[Packet | None]:
            fut: asyncio.Future[Packet | None] = loop.create_future()
            pending.append((req, fut))
            return fut

    d = Dispatcher(
        registry=NasRegistry([NAS]), handlers={Code.ACCOUNTING_REQUEST: Handler()}, dictionary=D,
        dedupe=DedupeCache(30.0, 100),
    )  # fmt: skip
    sent: list[bytes] = []
    data = accounting_request(FULL)
    d.datagram_received(data, ("192.0.2.9", 1813), lambda b, _a: sent.append(b))
    assert not sent and d.in_flight == 1 and len(d._tasks) == 1
    req, fut = pending[0]
    fut.set_result(req.packet.reply(Code.ACCOUNTING_RESPONSE))
    await asyncio.sleep(0)
    assert len(sent) == 1 and sent[0][0] == Code.ACCOUNTING_RESPONSE and d.in_flight == 0
    assert not d._tasks
