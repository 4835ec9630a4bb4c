"""The C scan and first_fields (radiusd/codec/_speedups.c) against the pure-Python reference.

Both run on random, structured and mutated datagrams and must return the same values or raise
the same MalformedPacket (reason and message). The edge cases of RFC 2865 §3 (Length), §5
(attribute lengths) and RFC 3579 §3.2 (one Message-Authenticator of 18 octets) run on both.
With CI=true a missing extension fails the tests (CI builds it); elsewhere they skip.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from radiusd.codec import MalformedPacket, Packet, decode, encode_request, scanning
from radiusd.codec import packet as packet_module
from radiusd.codec.dictionary import default_dictionary
from radiusd.model.request import NasClient, Request
from radiusd.policy.accounting_events import InvalidAccounting, OtherStatusType, parse_event

ROOT = Path(__file__).resolve().parents[2]
D = default_dictionary()
MANY = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

speedups: ModuleType | None
try:
    from radiusd.codec import _speedups as speedups
except ImportError:  # not built
    speedups = None


def c_module() -> ModuleType:
    """The extension, or skip (locally) / fail (CI=true, where it is built) without it."""
    if speedups is None:
        message = "radiusd.codec._speedups is not built (python setup.py build_ext --inplace)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return speedups


def outcome(fn: Callable[..., Any], *args: Any) -> tuple[Any, ...]:
    """What a call gives: its result, or its exception as type, reason, detail and message."""
    try:
        return ("ok", fn(*args))
    except MalformedPacket as exc:
        return ("malformed", exc.reason, exc.detail, str(exc), exc.args)


def same_scan(data: bytes) -> tuple[Any, ...]:
    c = c_module()
    expected = outcome(scanning.PURE_SCAN, data)
    got = outcome(c.scan, data)
    assert got == expected
    if got[0] == "ok":  # the datagram itself when nothing follows Length, as the Python one
        assert (got[1][0] is data) == (expected[1][0] is data)
        assert [type(x) for x in got[1]] == [bytes, list, bytes, int]
    return got


# -- generated datagrams --------------------------------------------------------------------

attr_type = st.sampled_from([1, 2, 4, 5, 8, 25, 26, 40, 44, 46, 55, 80, 85, 97, 0, 255]) | st.integers(0, 255)


@st.composite
def datagram(draw: st.DrawFn) -> bytes:
    """Mostly well-formed: attributes of the right length (sometimes 4 octets, as integers),
    zero to two Message-Authenticators, a right Length; then maybe one mutation."""
    parts = []
    for t in draw(st.lists(attr_type, max_size=30)):
        value = draw(st.binary(min_size=4, max_size=4) | st.binary(max_size=40))
        if t == 80 and draw(st.booleans()):
            value = draw(st.binary(min_size=16, max_size=16))
        parts.append(bytes((t, len(value) + 2)) + value)
    body = b"".join(parts)
    data = bytearray(bytes((4, draw(st.integers(0, 255)))) + (20 + len(body)).to_bytes(2, "big"))
    data += draw(st.binary(min_size=16, max_size=16)) + body
    mutation = draw(st.sampled_from(["none", "none", "octet", "length", "cut", "pad"]))
    if mutation == "octet" and len(data) > 20:
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    elif mutation == "length":
        data[2:4] = draw(st.integers(0, 0xFFFF)).to_bytes(2, "big")
    elif mutation == "cut":
        del data[draw(st.integers(0, len(data))) :]
    elif mutation == "pad":
        data += draw(st.binary(min_size=1, max_size=20))
    return bytes(data)


@MANY
@given(st.binary(max_size=120))
def test_scan_of_arbitrary_octets_is_the_same(data: bytes) -> None:
    same_scan(data)


@MANY
@given(datagram())
def test_scan_of_near_valid_datagrams_is_the_same(data: bytes) -> None:
    same_scan(data)


wanted = st.binary(max_size=24) | st.sampled_from([b"", bytes(range(256))])


@MANY
@given(datagram(), wanted, wanted)
def test_first_fields_of_scanned_datagrams_is_the_same(data: bytes, raw: bytes, u32: bytes) -> None:
    result = same_scan(data)
    if result[0] != "ok":
        return
    cut, offs, _, _ = result[1]
    expected = scanning.PURE_FIRST_FIELDS(cut, offs, raw, u32)
    assert c_module().first_fields(cut, offs, raw, u32) == expected
    assert [len(x) for x in expected] == [len(raw), len(u32)]


# -- RFC 2865 §3 / §5, RFC 3579 §3.2 on both implementations -----------------------------------


def header(length: int, code: int = 4) -> bytes:
    return bytes((code, 7)) + length.to_bytes(2, "big") + bytes(range(16))


def packet(body: bytes, pad: bytes = b"") -> bytes:
    return header(20 + len(body)) + body + pad


MA = bytes((80, 18)) + bytes(16)


@pytest.fixture(params=["python", "c"])
def scan(request: pytest.FixtureRequest) -> Callable[[bytes], scanning.Scanned]:
    return scanning.PURE_SCAN if request.param == "python" else c_module().scan


@pytest.mark.parametrize(
    ("data", "reason", "detail"),
    [
        (b"", "too-short", "datagram of 0 octets"),
        (header(20)[:19], "too-short", "datagram of 19 octets"),
        (header(19), "bad-length", "Length field 19"),
        (header(4097) + bytes(4077), "bad-length", "Length field 4097"),
        (header(0xFFFF), "bad-length", "Length field 65535"),
        (header(26) + b"\x01\x03a", "truncated", "Length field 26 but datagram of 23 octets"),
        (packet(b"\x01\x00"), "bad-attribute-length", "attribute 1 with length 0"),
        (packet(b"\x01\x03a\x05\x01"), "bad-attribute-length", "attribute 5 with length 1"),
        (packet(b"\x01\x03a\x05"), "attribute-overrun", "attribute header at offset 23 past Length"),
        (packet(b"\x01\x03a\x1f\x05ab"), "attribute-overrun", "attribute 31 overruns the packet"),
        # Length cuts the attribute short: what follows Length is padding, not its tail
        (header(23) + b"\x01\x05abc", "attribute-overrun", "attribute 1 overruns the packet"),
        (
            packet(bytes((80, 17)) + bytes(15)),
            "bad-message-authenticator",
            "Message-Authenticator of 17 octets",
        ),
        (packet(MA + b"\x01\x03a" + MA), "bad-message-authenticator", "Message-Authenticator present twice"),
        # the first one's length is checked before a second one is looked for
        (packet(b"\x50\x03a" + MA), "bad-message-authenticator", "Message-Authenticator of 3 octets"),
    ],
)
def test_malformed(scan: Callable[[bytes], scanning.Scanned], data: bytes, reason: str, detail: str) -> None:
    with pytest.raises(MalformedPacket) as info:
        scan(data)
    assert (info.value.reason, info.value.detail, str(info.value)) == (reason, detail, f"{reason}: {detail}")


def test_accepted(scan: Callable[[bytes], scanning.Scanned]) -> None:
    body = b"\x01\x05bob" + MA + b"\x28\x06\x00\x00\x00\x01" + b"\x00\x02"  # type 0, empty value
    data = packet(body)
    assert scan(data) == (data, [20, 25, 43, 49], b"\x01\x50\x28\x00", 27)
    assert scan(data)[0] is data
    # RFC 2865 §3: octets beyond Length are padding, cut off
    assert scan(data + b"\xff\x00junk") == (data, [20, 25, 43, 49], b"\x01\x50\x28\x00", 27)
    assert scan(header(20)) == (header(20), [], b"", 0)
    vsas = b"".join(bytes((26, 255)) + bytes(253) for _ in range(15)) + bytes((26, 249)) + bytes(247)
    largest = packet(vsas + b"\x01\x02")
    assert len(largest) == 4096
    data, offs, types, ma = scan(largest)
    assert (len(offs), offs[-1], types[-1], ma) == (17, 4094, 1, 0)


@pytest.fixture(params=["python", "c"])
def first_fields(request: pytest.FixtureRequest) -> Callable[..., Any]:
    return scanning.PURE_FIRST_FIELDS if request.param == "python" else c_module().first_fields


def test_first_fields_first_occurrence_wins(first_fields: Callable[..., Any]) -> None:
    body = (
        b"\x28\x05abc"  # Acct-Status-Type of 3 octets first: not an integer, and it wins
        + b"\x28\x06\x00\x00\x00\x02"
        + b"\x01\x05bob\x01\x05eve"
        + b"\x2e\x06\xff\xff\xff\xff"
        + b"\x19\x02"  # an empty Class
    )
    data, offs, _, _ = scanning.PURE_SCAN(packet(body))
    raw, ints = first_fields(data, offs, b"\x01\x19\x2c\x28", b"\x28\x2e\x05\x01")
    assert raw == (b"bob", b"", None, b"abc")
    assert ints == (None, 0xFFFFFFFF, None, None)  # User-Name "bob" is 3 octets
    assert first_fields(data, offs, b"", b"") == ((), ())


def test_first_fields_in_c_refuses_offsets_outside_the_datagram() -> None:
    c = c_module()
    data = packet(b"\x01\x05bob")
    for offs in ([19], [21], [22], [-1], [1 << 40]):
        with pytest.raises((ValueError, OverflowError)):
            c.first_fields(data, offs, b"\x01", b"")
    with pytest.raises(TypeError):
        c.first_fields(data, (20,), b"\x01", b"")
    with pytest.raises(TypeError):
        c.scan(bytearray(data))


# -- the accounting parser on both --------------------------------------------------------------

NAS = NasClient(1, "nas", "192.0.2.9", b"secret")
T0 = 1_700_000_000.0
acct_attr = st.sampled_from(
    [
        ("Acct-Status-Type", st.sampled_from(["Start", "Stop", "Interim-Update", "Accounting-On", "Failed"])),
        ("Acct-Session-Id", st.text(max_size=20)),
        ("User-Name", st.text(max_size=20)),
        ("NAS-Port", st.integers(0, 2**32 - 1)),
        ("Acct-Input-Octets", st.integers(0, 2**32 - 1)),
        ("Acct-Input-Gigawords", st.integers(0, 2**32 - 1)),
        ("Event-Timestamp", st.integers(0, 2**31)),
        ("Acct-Delay-Time", st.integers(0, 1000)),
        ("Class", st.binary(min_size=1, max_size=10)),
        ("Framed-IP-Address", st.sampled_from(["10.0.0.1", "192.0.2.200"])),
        ("Calling-Station-Id", st.text(max_size=17)),
    ]
)


def parsed(req: Request) -> tuple[Any, ...]:
    try:
        return ("event", parse_event(req, D))
    except OtherStatusType as exc:
        return ("other", exc.status, exc.event_time)
    except InvalidAccounting as exc:
        return ("invalid", str(exc))


@settings(max_examples=300, deadline=None)
@given(st.lists(acct_attr.flatmap(lambda a: a[1].map(lambda v: (a[0], v))), max_size=14))
def test_parse_event_is_the_same_on_both(attrs: list[tuple[str, Any]]) -> None:
    c = c_module()
    p = Packet(4, 1, dictionary=D)
    for name, value in attrs:
        p.add(name, value)
    data = encode_request(p, b"secret")
    results = []
    for impl in (c.first_fields, scanning.PURE_FIRST_FIELDS):
        with mock.patch.object(packet_module, "first_fields", impl):
            results.append(parsed(Request(decode(data, D), data, NAS, ("192.0.2.9", 1813), T0)))
    assert results[0] == results[1]
    if results[0][0] == "event":
        assert isinstance(results[0][1].event_time, dt.datetime)


# -- which one runs ---------------------------------------------------------------------------


def implementation(env: dict[str, str]) -> str:
    code = (
        "from radiusd.codec import scanning as s, packet as p; "
        "print(s.IMPLEMENTATION, s.scan is s.PURE_SCAN, p.first_fields is s.PURE_FIRST_FIELDS)"
    )
    environ = {k: v for k, v in os.environ.items() if k != "RADIUSD_PURE_PYTHON"}
    environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), environ.get("PYTHONPATH")) if p)
    out = subprocess.run(
        [sys.executable, "-c", code], env={**environ, **env}, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_the_c_functions_run_unless_pure_python_is_asked_for() -> None:
    c_module()
    expected = "c" if os.environ.get("RADIUSD_PURE_PYTHON", "") in ("", "0") else "python"
    assert expected == scanning.IMPLEMENTATION
    assert implementation({}) == "c False False"
    assert implementation({"RADIUSD_PURE_PYTHON": "0"}) == "c False False"
    assert implementation({"RADIUSD_PURE_PYTHON": "1"}) == "python True True"
