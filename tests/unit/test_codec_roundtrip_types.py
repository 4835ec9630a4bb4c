"""Hypothesis: every attribute a dictionary can define round-trips encode -> wire -> decode.

A dictionary is generated per example: a value type (RFC 8044 names as FreeRADIUS spells
them), placed in the standard space, a Vendor-Specific of any ``format=T,L[,c]`` (RFC 2865
§5.26, WiMAX continuation), an extended or long extended attribute (RFC 6929 §2.1, §2.2) or
an Extended-Vendor-Specific one (§2.4), optionally nested in TLVs (§2.3), tagged where RFC
2868 §3 allows it. The value read back from the encoded datagram must be the value added.
"""

from __future__ import annotations

import ipaddress
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from radiusd.codec import Packet, decode, encode_reply
from radiusd.codec.dictionary import Dictionary

SECRET = b"roundtrip"
AUTH = bytes(range(16))

u32 = st.integers(0, 2**32 - 1)


def _ifid(raw: bytes) -> str:
    h = raw.hex()
    return ":".join(h[i : i + 4] for i in range(0, 16, 4))


def _canonical(value: Any) -> Any:
    """Addresses compared as addresses: ``::0.1.0.0`` and ``::1:0`` are the same one."""
    if isinstance(value, str) and (":" in value or value.count(".") == 3):
        try:
            return ipaddress.ip_network(value, strict=False) if "/" in value else ipaddress.ip_address(value)
        except ValueError:
            return value
    return value


#: type -> (strategy of (value to add, value expected back), fixed size or None)
def values(type_: str, max_len: int) -> st.SearchStrategy[tuple[Any, Any]]:
    if type_ == "string":
        text = st.text(st.characters(min_codepoint=32, max_codepoint=0x7E), min_size=1, max_size=max_len)
        return text.map(lambda s: (s, s))
    if type_ in ("octets", "abinary"):  # abinary (Ascend filters) is carried as octets
        return st.binary(min_size=1, max_size=max_len).map(lambda b: (b, b))
    if type_ == "ipaddr":
        return u32.map(lambda n: (str(ipaddress.IPv4Address(n)),) * 2)
    if type_ == "ipv6addr":
        return st.integers(0, 2**128 - 1).map(lambda n: (str(ipaddress.IPv6Address(n)),) * 2)
    if type_ == "combo-ip":
        v4 = u32.map(lambda n: str(ipaddress.IPv4Address(n)))
        v6 = st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n)))
        return st.one_of(v4, v6).map(lambda s: (s, s))
    if type_ == "ipv4prefix":
        return st.tuples(u32, st.integers(0, 32)).map(
            lambda t: (str(ipaddress.IPv4Network((t[0], t[1]), strict=False)),) * 2
        )
    if type_ == "ipv6prefix":
        return st.tuples(st.integers(0, 2**128 - 1), st.integers(0, 128)).map(
            lambda t: (str(ipaddress.IPv6Network((t[0], t[1]), strict=False)),) * 2
        )
    if type_ == "ifid":
        return st.binary(min_size=8, max_size=8).map(lambda b: (_ifid(b), _ifid(b)))
    if type_ == "ether":
        return st.binary(min_size=6, max_size=6).map(lambda b: (b.hex(":"), b.hex(":")))
    ranges = {
        "integer": (0, 2**32 - 1),
        "date": (0, 2**32 - 1),
        "byte": (0, 255),
        "short": (0, 2**16 - 1),
        "integer64": (0, 2**64 - 1),
        "signed": (-(2**31), 2**31 - 1),
    }
    low, high = ranges[type_]
    return st.integers(low, high).map(lambda n: (n, n))


TYPES = [
    "string", "octets", "abinary", "ipaddr", "ipv6addr", "combo-ip", "ipv4prefix", "ipv6prefix", "ifid",
    "ether", "integer", "date", "byte", "short", "integer64", "signed",
]  # fmt: skip
#: where the attribute lives: standard, vsa with (T, L, continuation), extended, long, evs
PLACES = ["standard", "vsa", "extended", "long-extended", "evs", "long-evs"]
FORMATS = [(1, 1, False), (2, 1, False), (2, 2, False), (4, 0, False), (1, 0, False), (1, 1, True)]


@st.composite
def attribute_case(draw: st.DrawFn) -> tuple[str, str, Any, Any, int]:
    """(dictionary text, leaf name, value added, value expected, tag)."""
    type_ = draw(st.sampled_from(TYPES))
    place = draw(st.sampled_from(PLACES))
    depth = draw(st.integers(0, 3))
    fmt = draw(st.sampled_from(FORMATS))
    roomy = place in ("long-extended", "long-evs") or (place == "vsa" and fmt[2])
    max_len = 600 if roomy and depth == 0 else 40
    lines: list[str] = []
    vendor_block = place in ("vsa", "evs", "long-evs")
    if place == "vsa":
        tl, ll, cont = fmt
        option = f" format={tl},{ll}" + (",c" if cont else "")
        lines += [f"VENDOR Gen 32473{option}", "BEGIN-VENDOR Gen"]
        top = str(draw(st.integers(1, {1: 255, 2: 65535, 4: 2**32 - 1}[tl])))
    elif place in ("evs", "long-evs"):
        n = 1 if place == "evs" else 5
        lines += ["VENDOR Gen 32473", f"BEGIN-VENDOR Gen format=Extended-Vendor-Specific-{n}"]
        top = str(draw(st.integers(1, 255)))
    elif place == "standard":
        top = str(draw(st.integers(192, 240).filter(lambda c: c != 26)))
    else:
        code = 241 if place == "extended" else 245
        top = f"{code}.{draw(st.integers(1, 255).filter(lambda c: c != 26))}"
    number = top
    for level in range(depth):
        lines.append(f"ATTRIBUTE Gen-Tlv-{level} {number} tlv")
        number = f"{number}.{draw(st.integers(1, 255))}"
    tag = 0
    flags = ""
    if place == "standard" and depth == 0 and type_ in ("string", "integer") and draw(st.booleans()):
        tag = draw(st.integers(1, 0x1F))
        flags = " has_tag"
        if type_ == "integer":  # RFC 2868 §3.1: the tag takes the first octet
            max_len = 0
    lines.append(f"ATTRIBUTE Gen-Leaf {number} {type_}{flags}")
    if vendor_block:
        lines.append("END-VENDOR Gen")
    added, expected = draw(values(type_, max_len))
    if flags and type_ == "integer":
        added = expected = added & 0xFFFFFF
    return "\n".join(lines) + "\n", "Gen-Leaf", added, expected, tag


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(attribute_case())
def test_every_type_and_place_round_trips(case: tuple[str, str, Any, Any, int]) -> None:
    text, name, added, expected, tag = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dictionary"
        path.write_text(text)
        d = Dictionary.load(path)
    p = Packet(2, 1, dictionary=d).add(name, added, tag).add("Gen-Leaf", added, tag)
    back = decode(encode_reply(p, SECRET, AUTH), d)
    if tag:
        assert back.get_tagged(name) == [(tag, expected)] * 2, text
    else:
        assert [_canonical(v) for v in back.get_all(name)] == [_canonical(expected)] * 2, text
    assert back.invalid == {}, text
