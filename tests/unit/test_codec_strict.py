"""Strictness rules of the codec (it reads datagrams from the network): bad input gives a
clear error, never a crash, a hang or a truncated value. One test per rule; each checks the
reason it reports.

Packet-level faults raise MalformedPacket (RFC 2865 §3: "silently discarded"); a
malformed attribute *value* makes only that attribute invalid (RFC 6929 §2.8).
"""

from __future__ import annotations

import time

import pytest

from radiusd.codec import MalformedPacket, Packet, decode, encode_reply
from radiusd.codec.dictionary import default_dictionary
from radiusd.codec.scanning import verify_message_authenticator

D = default_dictionary()
AUTH = bytes(range(16))
SECRET = b"s3cr3t"


def packet(body: bytes, code: int = 1, length: int | None = None) -> bytes:
    n = 20 + len(body) if length is None else length
    return bytes((code, 7)) + n.to_bytes(2, "big") + AUTH + body


def reason(data: bytes) -> str:
    with pytest.raises(MalformedPacket) as e:
        decode(data, D)
    assert str(e.value).startswith(e.value.reason)
    return e.value.reason


def vsa(value: bytes) -> bytes:
    return bytes((26, 2 + len(value))) + value


# -- header ----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 4, 19])
def test_datagram_shorter_than_header(n: int) -> None:
    """RFC 2865 §3: the minimum length is 20."""
    assert reason(packet(b"")[:n]) == "too-short"


@pytest.mark.parametrize("length", [0, 1, 19])
def test_length_field_below_20(length: int) -> None:
    """RFC 2865 §3: "The minimum length is 20"."""
    assert reason(packet(b"\x01\x03a", length=length)) == "bad-length"


@pytest.mark.parametrize("length", [4097, 0xFFFF])
def test_length_field_above_4096(length: int) -> None:
    """RFC 2865 §3: "maximum length is 4096" even if the datagram is larger."""
    data = packet(b"", length=length) + bytes(length)
    assert reason(data) == "bad-length"


def test_length_field_4096_accepted() -> None:
    """RFC 2865 §3: exactly 4096 is allowed."""
    body = b"".join(bytes((18, 254)) + b"x" * 252 for _ in range(16)) + bytes((18, 12)) + b"y" * 10
    data = packet(body)
    assert len(data) == 4096
    assert len(decode(data, D)) == 17


def test_length_field_larger_than_datagram() -> None:
    """RFC 2865 §3: "If the packet is shorter than the Length field indicates, it MUST be
    silently discarded"."""
    data = packet(b"\x01\x03a")
    assert reason(data[:-1]) == "truncated"
    assert reason(packet(b"", length=21)) == "truncated"


def test_bytes_after_length_are_padding() -> None:
    """RFC 2865 §3: "Octets outside the range of the Length field MUST be treated as padding
    and ignored on reception" (even if they look like attributes or garbage)."""
    data = packet(b"\x01\x03a")
    p = decode(data + b"\x01\x00\xff\xff", D)
    assert p.to_bytes() == data
    assert p.get_all("User-Name") == ["a"]
    # a packet whose attributes end before the padding is fine even if the padding is odd
    assert decode(data + b"\x50", D).ma_offset == 0


# -- attributes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("al", [0, 1])
def test_attribute_length_0_or_1(al: int) -> None:
    """RFC 2865 §5: Length >= 2 (a zero length must not loop)."""
    body = b"\x01\x03a" + bytes((4, al)) + b"\x01\x02\x03\x04"
    start = time.perf_counter()
    assert reason(packet(body)) == "bad-attribute-length"
    assert time.perf_counter() - start < 0.05


@pytest.mark.parametrize(
    "body",
    [
        b"\x01\x05ab",  # value runs past Length
        b"\x01\x03a\x01",  # a single octet: the header is cut
        b"\x01\x03a\x05\x06\x00\x00\x00",  # last attribute one octet short
    ],
)
def test_attribute_overrunning_packet(body: bytes) -> None:
    """RFC 2865 §5: an attribute must lie within the packet's Length."""
    assert reason(packet(body)) == "attribute-overrun"


def test_attribute_overrun_not_rescued_by_padding() -> None:
    """RFC 2865 §3: padding is outside Length; an attribute may not extend into it."""
    data = packet(b"\x01\x05ab", length=24) + b"\x00\x00\x00"
    assert reason(data) == "attribute-overrun"


# -- Message-Authenticator --------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 17, 19, 34])
def test_message_authenticator_wrong_length(n: int) -> None:
    """RFC 3579 §3.2: Message-Authenticator has Length 18."""
    assert reason(packet(bytes((80, n)) + bytes(n - 2))) == "bad-message-authenticator"


def test_message_authenticator_twice() -> None:
    """RFC 3579 §3.2: at most one Message-Authenticator (RFC 3579 table: 0-1)."""
    body = b"\x50\x12" + bytes(16) + b"\x01\x03a" + b"\x50\x12" + bytes(16)
    with pytest.raises(MalformedPacket) as e:
        decode(packet(body), D)
    assert e.value.reason == "bad-message-authenticator" and "twice" in str(e.value)


def test_type_80_inside_vsa_is_not_message_authenticator() -> None:
    """RFC 2865 §5.26: vendor types are the vendor's own space; a vendor sub-attribute 80
    of any length is neither a Message-Authenticator nor a second one."""
    inner = b"\x00\x00\x01\x37" + b"\x50\x05abc"  # Microsoft, vendor type 80, length 5
    body = b"\x50\x12" + bytes(16) + vsa(inner) + vsa(b"\x00\x00\x3a\x8c" + b"\x50\x12" + bytes(16))
    p = decode(packet(body), D)
    assert p.ma_offset == 22
    assert not p.invalid
    p2 = decode(packet(vsa(inner)), D)
    assert p2.ma_offset == 0
    assert verify_message_authenticator(packet(vsa(inner)), SECRET) is None


# -- Vendor-Specific --------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 4, 5])
def test_vsa_shorter_than_6(n: int) -> None:
    """RFC 2865 §5.26: Vendor-Id (4) plus at least one sub-attribute: Length >= 7 overall.
    The VSA is an invalid attribute (RFC 6929 §2.8), kept raw; the packet is kept."""
    value = b"\x00\x00\x3a\x8c\x08"[:n]
    p = decode(packet(b"\x01\x03a" + vsa(value)), D)
    assert p.invalid == {1: f"Vendor-Specific of {n} octets (at least 6 needed)"}
    assert p.raw("Vendor-Specific") is None  # invalid: not handed out as a value
    assert p.attributes[1] == (26, value)
    assert p.get("User-Name") == "a"
    assert p.vendor_attributes() == []


@pytest.mark.parametrize("sl", [0, 1])
def test_vsa_sub_attribute_length_0_or_1(sl: int) -> None:
    """RFC 2865 §5.26: vendor length >= 2; a zero length must not loop (pyrad hangs)."""
    value = b"\x00\x00\x3a\x8c" + bytes((8, sl)) + b"abcd"
    start = time.perf_counter()
    p = decode(packet(vsa(value) + b"\x1b\x06\x00\x00\x00\x05"), D)
    assert time.perf_counter() - start < 0.05
    assert p.invalid == {0: f"vendor sub-attribute 8 with length {sl}"}
    assert p.get("Mikrotik-Rate-Limit") is None
    assert p.get("Session-Timeout") == 5


def test_vsa_sub_attribute_overrun() -> None:
    """RFC 2865 §5.26: a sub-attribute must lie within its Vendor-Specific."""
    value = b"\x00\x00\x3a\x8c" + b"\x08\x05ab"
    p = decode(packet(vsa(value)), D)
    assert p.invalid == {0: "vendor sub-attribute 8 overruns the Vendor-Specific"}
    assert p.get("Mikrotik-Rate-Limit") is None


def test_vsa_sub_attribute_header_cut() -> None:
    """RFC 2865 §5.26: a trailing single octet is not a sub-attribute header."""
    value = b"\x00\x00\x3a\x8c" + b"\x08\x04ab" + b"\x08"
    p = decode(packet(vsa(value)), D)
    assert p.invalid == {0: "vendor sub-attribute header overruns the Vendor-Specific"}
    # nothing of a malformed VSA is used, not even its well-formed first sub-attribute
    assert p.get("Mikrotik-Rate-Limit") is None


def test_malformed_vsa_does_not_hide_others() -> None:
    """RFC 6929 §2.8: one invalid VSA does not affect the valid VSAs beside it."""
    good = vsa(b"\x00\x00\x3a\x8c" + b"\x08\x05abc")
    bad = vsa(b"\x00\x00\x3a\x8c" + b"\x08\x00")
    data = packet(bad + good)
    p = decode(data, D)
    assert set(p.invalid) == {0}
    assert p.get("Mikrotik-Rate-Limit") == "abc"
    assert p.to_bytes() == data  # re-encoded unchanged, the invalid VSA included
    assert [n for n, _, _ in p.items()] == ["Invalid-Attribute-26", "Mikrotik-Rate-Limit"]


# -- values of the wrong shape ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "name", "raw"),
    [
        (4, "NAS-IP-Address", b"\x0a\x00\x00"),
        (4, "NAS-IP-Address", b"\x0a\x00\x00\x01\x02"),
        (5, "NAS-Port", b"\x00\x01"),
        (5, "NAS-Port", b""),
        (5, "NAS-Port", b"\x00\x00\x00\x00\x01"),
        (55, "Event-Timestamp", b"\x00\x00\x00"),
        (55, "Event-Timestamp", b"\x00\x00\x00\x00\x00\x00\x00\x01"),
    ],
)
def test_wrong_length_value_is_invalid_not_fatal(code: int, name: str, raw: bytes) -> None:
    """RFC 6929 §2.8: an ipaddr/integer/date of the wrong length is an invalid attribute:
    treated as absent, kept as raw octets, and the packet is not discarded."""
    data = packet(bytes((code, 2 + len(raw))) + raw + b"\x01\x03a")
    p = decode(data, D)
    assert p.get(name) is None
    assert p.raw(name) == raw
    assert p.get("User-Name") == "a"
    assert p.to_bytes() == data


def test_verify_message_authenticator_bounded_on_raw_input() -> None:
    """RFC 2865 §5: verify_message_authenticator() is public and may see bytes decode()
    would reject; an attribute of length 0 must not loop (regression: it did)."""
    for body in (b"\x01\x00" + b"\x50\x12" + bytes(16), b"\x01\x01\x50\x12" + bytes(16), b"\x01\x40ab"):
        start = time.perf_counter()
        assert verify_message_authenticator(packet(body), SECRET) is None
        assert time.perf_counter() - start < 0.05


def test_encode_refuses_oversize() -> None:
    """RFC 2865 §3 / §5: no attribute value over 253 octets, no packet over 4096."""
    with pytest.raises(ValueError):
        Packet(2, dictionary=D).add_raw(18, b"x" * 254)
    with pytest.raises(ValueError):
        Packet(2, dictionary=D).add("Reply-Message", "x" * 254)
    p = Packet(2, dictionary=D)
    for _ in range(17):
        p.add("Reply-Message", "x" * 253)
    with pytest.raises(ValueError):
        encode_reply(p, SECRET, AUTH)
