"""Hypothesis properties of radiusd.codec, and a cross-check against pyrad.

pyrad is an independent codec (written apart from ours, so it shares none of our mistakes):
packets it builds must decode to the same values here, and packets we build must decode and verify there.
"""

from __future__ import annotations

import io
from typing import Any

import pyrad.dictionary
import pyrad.packet
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from radiusd.codec import MalformedPacket, Packet, decode, encode_reply, encode_request
from radiusd.codec.crypto import ZERO16, verify_hashed_request, verify_response
from radiusd.codec.dictionary import default_dictionary
from radiusd.codec.scanning import verify_message_authenticator

D = default_dictionary()
SECRET = b"testing123"
REQUEST_CODES = [1, 4, 12, 40, 43]
REPLY_CODES = [2, 3, 5, 11, 41, 42, 44, 45]
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- generated wire packets -----------------------------------------------------------------

plain_attr = st.tuples(st.integers(1, 255).filter(lambda t: t not in (26, 80)), st.binary(max_size=60))
# vendor ids absent from our dictionaries use the RFC 2865 §5.26 format (type 1, length 1)
# as do every vendor we define (none declares another format=)
vendor_id = st.sampled_from([9, 311, 14988, 41112, 14122, 99999])
sub_attr = st.tuples(st.integers(0, 255), st.binary(max_size=30))


@st.composite
def vsa_attr(draw: st.DrawFn) -> tuple[int, bytes]:
    vid = draw(vendor_id)
    subs = draw(st.lists(sub_attr, min_size=1, max_size=5))
    value = vid.to_bytes(4, "big") + b"".join(bytes((t, len(v) + 2)) + v for t, v in subs)
    return 26, value


attrs = st.lists(st.one_of(plain_attr, vsa_attr()), max_size=25)


@st.composite
def wire_packet(draw: st.DrawFn) -> tuple[bytes, list[tuple[int, bytes]], bool]:
    code = draw(st.integers(0, 255))
    ident = draw(st.integers(0, 255))
    auth = draw(st.binary(min_size=16, max_size=16))
    attributes = draw(attrs)
    with_ma = draw(st.booleans())
    if with_ma:
        attributes.insert(
            draw(st.integers(0, len(attributes))), (80, draw(st.binary(min_size=16, max_size=16)))
        )
    body = b"".join(bytes((t, len(v) + 2)) + v for t, v in attributes)
    assume(20 + len(body) <= 4096)
    data = bytes((code, ident)) + (20 + len(body)).to_bytes(2, "big") + auth + body
    return data, attributes, with_ma


@FAST
@given(wire_packet())
def test_decode_to_bytes_roundtrip(sample: tuple[bytes, list[tuple[int, bytes]], bool]) -> None:
    """RFC 2865 §3/§5: for a valid packet, decode then to_bytes gives the same octets;
    attribute order and repeats are kept (§5: "order of attributes of the same type")."""
    data, attributes, with_ma = sample
    p = decode(data, D)
    assert p.to_bytes() == data
    assert p.attributes == attributes
    assert (p.ma_offset > 0) == with_ma
    assert p.invalid == {}
    expected_vsas = []
    for i, (t, v) in enumerate(attributes):
        if t == 26:
            j = 4
            while j < len(v):
                expected_vsas.append((int.from_bytes(v[:4], "big"), v[j], v[j + 2 : j + v[j + 1]], i))
                j += v[j + 1]
    assert decode(data, D).vendor_attributes() == expected_vsas
    # padding after Length is ignored (RFC 2865 §3)
    assert decode(data + b"\x00\x01\x02", D).to_bytes() == data


@FAST
@given(wire_packet(), st.sampled_from(REPLY_CODES), st.booleans())
def test_reencoded_reply_verifies(
    sample: tuple[bytes, list[tuple[int, bytes]], bool], code: int, with_ma: bool
) -> None:
    """RFC 2865 §3 / RFC 2866 §4 / RFC 5176 §2.3 Response Authenticator and RFC 3579 §3.2
    Message-Authenticator of any reply, computed with the request's authenticator."""
    data, attributes, _ = sample
    request = decode(data, D)
    reply = Packet(code, request.identifier, request.authenticator, [a for a in attributes if a[0] != 80])
    try:
        out = encode_reply(reply, SECRET, message_auth=with_ma)
    except ValueError:  # the Message-Authenticator pushed it past 4096
        assume(False)
    assert verify_response(out, request.authenticator, SECRET)
    assert verify_message_authenticator(out, SECRET, request.authenticator) is (True if with_ma else None)
    back = decode(out, D)
    assert [a for a in back.attributes if a[0] != 80] == reply.attributes


@FAST
@given(wire_packet(), st.sampled_from(REQUEST_CODES), st.booleans())
def test_reencoded_request_verifies(
    sample: tuple[bytes, list[tuple[int, bytes]], bool], code: int, with_ma: bool
) -> None:
    """RFC 2866 §3 / RFC 5176 §2.3 hashed authenticators, RFC 5176 §3.4 Message-Authenticator
    with a zero authenticator; RFC 2865 §3 / RFC 5997 §3 random ones with their own."""
    data, _, _ = sample
    p = decode(data, D)
    p.code = code
    try:
        out = encode_request(p, SECRET, message_auth=with_ma)
    except ValueError:
        assume(False)
    hashed = code in (4, 40, 43)
    has_ma = with_ma or code == 12
    if hashed:
        assert verify_hashed_request(out, SECRET)
    else:
        assert out[4:20] == data[4:20] or data[4:20] == ZERO16
    ma_auth = ZERO16 if hashed else None
    assert verify_message_authenticator(out, SECRET, ma_auth) is (True if has_ma else None)


@settings(max_examples=2500, deadline=None)
@given(st.binary(max_size=300))
def test_decode_arbitrary_bytes_only_malformed(data: bytes) -> None:
    """Issue 2 strictness: decode raises nothing but MalformedPacket on arbitrary bytes,
    and whatever it accepts can be read and re-encoded without another exception."""
    try:
        p = decode(data, D)
    except MalformedPacket:
        return
    _exercise(p)


@st.composite
def near_valid(draw: st.DrawFn) -> bytes:
    """Structured garbage: a plausible header, attributes whose length is sometimes wrong."""
    parts = []
    for t, v, bad_len in draw(st.lists(st.tuples(attr_type, st.binary(max_size=40), maybe_len), max_size=10)):
        parts.append(bytes((t, len(v) + 2 if bad_len is None else bad_len)) + v)
    body = b"".join(parts)
    n = draw(maybe_len.map(lambda x: 20 + len(body) if x is None else x * 17))
    return bytes((draw(st.integers(0, 255)), 1)) + n.to_bytes(2, "big") + bytes(16) + body


attr_type = st.sampled_from([1, 2, 4, 8, 26, 55, 64, 69, 80, 97, 241, 245, 246, 0, 255])
# the right length nine times out of ten, otherwise any octet
maybe_len = st.integers(0, 2549).map(lambda x: None if x < 2295 else x - 2295)


@settings(max_examples=1200, deadline=None)
@given(near_valid())
def test_decode_near_valid_only_malformed(data: bytes) -> None:
    """As above, on inputs that get past the header checks much more often."""
    try:
        p = decode(data, D)
    except MalformedPacket:
        return
    _exercise(p)


_DEFS_BY_TYPE: dict[int, list[Any]] = {}
for _d in D.by_key.values():
    _DEFS_BY_TYPE.setdefault(_d.key[0], []).append(_d)


def _exercise(p: Packet) -> None:
    """Read every dictionary attribute that could be present, the way the daemon would."""
    for d in (d for t in {t for t, _ in p.attributes} for d in _DEFS_BY_TYPE.get(t, [])):
        p.get(d)
        p.get_all(d)
        p.get_tagged(d)
    list(p.items())
    try:
        p.user_password(SECRET)
    except MalformedPacket as e:
        assert e.reason == "bad-user-password"
    data = p.to_bytes()
    assert decode(data, D).to_bytes() == data
    verify_message_authenticator(data, SECRET)
    try:
        encode_reply(p.reply(2), SECRET)
    except ValueError:
        pass


# -- pyrad cross-check ----------------------------------------------------------------------

PYRAD_DICT = """
ATTRIBUTE User-Name 1 string
ATTRIBUTE User-Password 2 string encrypt=1
ATTRIBUTE NAS-IP-Address 4 ipaddr
ATTRIBUTE NAS-Port 5 integer
ATTRIBUTE Service-Type 6 integer
ATTRIBUTE Framed-IP-Address 8 ipaddr
ATTRIBUTE Reply-Message 18 string
ATTRIBUTE Class 25 octets
ATTRIBUTE Session-Timeout 27 integer
ATTRIBUTE Called-Station-Id 30 string
ATTRIBUTE Calling-Station-Id 31 string
ATTRIBUTE Proxy-State 33 octets
ATTRIBUTE Acct-Status-Type 40 integer
ATTRIBUTE Acct-Input-Octets 42 integer
ATTRIBUTE Acct-Session-Id 44 string
ATTRIBUTE Event-Timestamp 55 date
ATTRIBUTE Message-Authenticator 80 octets
ATTRIBUTE Acct-Interim-Interval 85 integer
ATTRIBUTE NAS-IPv6-Address 95 ipv6addr
ATTRIBUTE Framed-IPv6-Prefix 97 ipv6prefix
VENDOR Cisco 9
BEGIN-VENDOR Cisco
ATTRIBUTE Cisco-AVPair 1 string
END-VENDOR Cisco
VENDOR Mikrotik 14988
BEGIN-VENDOR Mikrotik
ATTRIBUTE Mikrotik-Rate-Limit 8 string
ATTRIBUTE Mikrotik-Address-List 19 string
END-VENDOR Mikrotik
"""
PD = pyrad.dictionary.Dictionary(io.StringIO(PYRAD_DICT))

text = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40)
ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
u32 = st.integers(0, 2**32 - 1)
ipv6 = st.binary(min_size=16, max_size=16).map(lambda b: str(__import__("ipaddress").IPv6Address(b)))
ipv6prefix = st.tuples(st.binary(min_size=16, max_size=16), st.integers(0, 128)).map(
    lambda t: str(__import__("ipaddress").IPv6Network((t[0], t[1]), strict=False))
)

VALUES: dict[str, st.SearchStrategy[Any]] = {
    "User-Name": text,
    "NAS-IP-Address": ipv4,
    "NAS-Port": u32,
    "Service-Type": u32,
    "Framed-IP-Address": ipv4,
    "Reply-Message": text,
    "Class": st.binary(min_size=1, max_size=40),
    "Session-Timeout": u32,
    "Called-Station-Id": text,
    "Calling-Station-Id": text,
    "Acct-Status-Type": u32,
    "Acct-Input-Octets": u32,
    "Acct-Session-Id": text,
    "Event-Timestamp": u32,
    "Acct-Interim-Interval": u32,
    "NAS-IPv6-Address": ipv6,
    "Framed-IPv6-Prefix": ipv6prefix,
    "Cisco-AVPair": text,
    "Mikrotik-Rate-Limit": text,
    "Mikrotik-Address-List": text,
}
avps = st.lists(
    st.sampled_from(sorted(VALUES)).flatmap(lambda n: st.tuples(st.just(n), VALUES[n])), max_size=12
)


def _grouped(pairs: list[tuple[str, Any]]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for name, value in pairs:
        out.setdefault(name, []).append(value)
    return out


def _pyrad_value(name: str, value: Any) -> Any:
    if isinstance(value, bytes) and PD[name].type == "string":
        return value.decode()
    return value


@FAST
@given(avps, st.binary(min_size=1, max_size=64).filter(lambda b: b"\x00" not in b))
def test_pyrad_access_request_decodes_here(pairs: list[tuple[str, Any]], password: bytes) -> None:
    """RFC 2865 §4.1 / §5.2 / RFC 3579 §3.2: an Access-Request built by pyrad (with
    User-Password and Message-Authenticator) decodes here to the same values."""
    req = pyrad.packet.AuthPacket(code=1, id=17, secret=SECRET, dict=PD)
    for name, values in _grouped(pairs).items():
        req[name] = values
    req["User-Password"] = req.PwCrypt(password)
    req.add_message_authenticator()
    data = req.RequestPacket()
    p = decode(data, D)
    assert p.user_password(SECRET) == password
    assert verify_message_authenticator(data, SECRET, offset=p.ma_offset) is True
    for name, values in _grouped(pairs).items():
        assert p.get_all(name) == values, name


@FAST
@given(avps, st.sampled_from([2, 3, 11]), st.booleans())
def test_our_access_reply_verifies_in_pyrad(pairs: list[tuple[str, Any]], code: int, with_ma: bool) -> None:
    """RFC 2865 §3 Response Authenticator and RFC 3579 §3.2 Message-Authenticator of our
    replies, checked by pyrad's VerifyReply; values decoded by pyrad match."""
    req = pyrad.packet.AuthPacket(code=1, id=99, secret=SECRET, dict=PD, User_Name="x")
    req.add_message_authenticator()
    req_data = req.RequestPacket()
    reply = decode(req_data, D).reply(code)
    for name, value in pairs:
        reply.add(name, value)
    out = encode_reply(reply, SECRET, message_auth=with_ma)
    theirs = pyrad.packet.Packet(packet=out, dict=PD, secret=SECRET)
    assert req.VerifyReply(theirs, out, enforce_ma=with_ma)
    for name, values in _grouped(pairs).items():
        assert [_pyrad_value(name, v) for v in theirs[name]] == values, name


@FAST
@given(avps, st.sampled_from([4, 40, 43]), st.booleans())
def test_our_hashed_requests_verify_in_pyrad(pairs: list[tuple[str, Any]], code: int, with_ma: bool) -> None:
    """RFC 2866 §3 / RFC 5176 §2.3: pyrad's VerifyAcctRequest / VerifyCoARequest accept our
    authenticators; RFC 5176 §3.4: pyrad verifies our Message-Authenticator too."""
    p = Packet(code, 5, dictionary=D)
    for name, value in pairs:
        p.add(name, value)
    out = encode_request(p, SECRET, message_auth=with_ma)
    cls = pyrad.packet.AcctPacket if code == 4 else pyrad.packet.CoAPacket
    theirs = cls(packet=out, dict=PD, secret=SECRET)
    assert theirs.VerifyAcctRequest() if code == 4 else theirs.VerifyCoARequest()
    if with_ma:
        assert theirs.verify_message_authenticator()
    for name, values in _grouped(pairs).items():
        assert [_pyrad_value(name, v) for v in theirs[name]] == values, name


@FAST
@given(avps, st.sampled_from([4, 40, 43]))
def test_pyrad_hashed_requests_verify_here(pairs: list[tuple[str, Any]], code: int) -> None:
    """RFC 2866 §3 / RFC 5176 §2.3: authenticators pyrad computes verify here."""
    cls = pyrad.packet.AcctPacket if code == 4 else pyrad.packet.CoAPacket
    theirs = cls(code=code, id=3, secret=SECRET, dict=PD)
    for name, values in _grouped(pairs).items():
        theirs[name] = values
    data = theirs.RequestPacket()
    assert verify_hashed_request(data, SECRET)
    p = decode(data, D)
    for name, values in _grouped(pairs).items():
        assert p.get_all(name) == values, name
