"""Attribute values at their keys: decoding raw values, encoding values into attributes.

The dictionary says what an attribute is (type, tag, encryption, key); this module turns
a value into the top-level ``(type, raw)`` attributes that carry it (plain, inside a
Vendor-Specific through the one encoder in :mod:`.vsa`, through TLVs, or in an RFC 6929
extended attribute) and a raw value back into ``(tag, value)``. It knows nothing of
packets: :mod:`.packet` holds attributes, the importer and the store validate values here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import tlv, vsa
from .attributes_gen import NAS_FILTER_RULE, VENDOR_SPECIFIC
from .dictionary import AttributeDef, AttrKey, Dictionary
from .values import INTEGER_TYPES, codec_for

EXTENDED_TYPES = frozenset({241, 242, 243, 244})  # RFC 6929 §2.1
LONG_EXTENDED_TYPES = frozenset({245, 246})  # RFC 6929 §2.2
FILTER_RULE_KEY = (NAS_FILTER_RULE,)
#: keys whose encoding needs more than the fast closures of :func:`attribute_encoder`
_SPECIAL_KEYS = frozenset({(VENDOR_SPECIFIC,), FILTER_RULE_KEY})

#: Encodes one value of a given attribute into top-level ``(type, raw)`` attributes.
AttributeEncoder = Callable[[Any], list[tuple[int, bytes]]]


def describe(ad: AttributeDef | None, fallback: str, raw: bytes) -> tuple[str, Any, AttributeDef | None]:
    if ad is None:
        return fallback, raw, None
    try:
        tag, value = decode_value(ad, raw)
    except ValueError:
        return ad.name, raw, ad
    if ad.type in INTEGER_TYPES and isinstance(value, int) and value in ad.value_names:
        value = ad.value_names[value]
    if tag:
        return f"{ad.name}:{tag}", value, ad
    return ad.name, value, ad


def decode_value(d: AttributeDef, raw: bytes) -> tuple[int, Any]:
    """``(tag, value)`` of a raw attribute value; ValueError when it has the wrong shape.

    Encrypted attributes are returned as raw octets: recovering them needs the secret.
    """
    tag = 0
    if d.has_tag:
        if d.type in INTEGER_TYPES:  # RFC 2868 §3.1: the tag replaces the first octet
            if len(raw) != 4:
                raise ValueError("tagged integer must be 4 octets")
            return raw[0], int.from_bytes(raw[1:], "big")
        if raw and raw[0] <= 0x1F:
            tag, raw = raw[0], raw[1:]
    if d.encrypt:
        return tag, raw
    return tag, codec_for(d.type)[0](raw)


def integer_value(d: AttributeDef, value: str) -> int:
    """A VALUE name or a number in text, for an integer-typed attribute."""
    number = d.values.get(value)
    if number is not None:
        return number
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{d.name}: {value!r} is neither a number nor a VALUE name") from None


def attribute_encoder(d: AttributeDef, dictionary: Dictionary | None = None) -> AttributeEncoder:
    """``value -> [(type, raw)]`` for untagged values of ``d``: the same bytes and errors as
    :func:`encode_value`, with the type dispatch and the VSA header worked out once.

    Plain standard attributes and VSAs (through :func:`.vsa.encoder`) get a specialised
    closure; tagged, concatenated, RFC 6929, TLV, Vendor-Specific and NAS-Filter-Rule use
    :func:`encode_value` itself.
    """
    k = d.key
    special = (
        d.has_tag
        or d.concat
        or not (len(k) == 1 or (k[0] == VENDOR_SPECIFIC and len(k) == 3))
        or k in _SPECIAL_KEYS
    )
    if special:
        return lambda value: encode_value(d, value, 0, dictionary)
    to_raw = codec_for(d.type)[1]
    integer = d.type in INTEGER_TYPES
    if len(k) == 1:
        code = k[0]

        def encode_standard(value: Any) -> list[tuple[int, bytes]]:
            if integer and isinstance(value, str):
                value = integer_value(d, value)
            raw = to_raw(value)
            if not raw:  # RFC 2865 §5: an attribute of Length 2 MUST NOT be sent
                return []
            if len(raw) > 253:
                raise ValueError(f"{d.name}: value of {len(raw)} octets exceeds 253")
            return [(code, raw)]

        return encode_standard
    to_vsa = vsa.encoder(d.name, k[1], k[2], dictionary)

    def encode_vsa(value: Any) -> list[tuple[int, bytes]]:
        if integer and isinstance(value, str):
            value = integer_value(d, value)
        return to_vsa(to_raw(value))

    return encode_vsa


def encode_value(
    d: AttributeDef, value: Any, tag: int = 0, dictionary: Dictionary | None = None
) -> list[tuple[int, bytes]]:
    """Encode ``value`` for ``d`` into one or more top-level ``(type, raw)`` attributes."""
    if isinstance(value, str) and d.type in INTEGER_TYPES:
        value = integer_value(d, value)
    raw = codec_for(d.type)[1](value)
    if d.has_tag:
        if d.type in INTEGER_TYPES:
            raw = bytes((tag,)) + raw[1:]
        elif tag or d.encrypt:
            raw = bytes((tag,)) + raw
    return wrap(d, raw, dictionary)


def wrap(d: AttributeDef, raw: bytes, dictionary: Dictionary | None = None) -> list[tuple[int, bytes]]:
    """Place an encoded value at its key: top level, inside a VSA, or an RFC 6929 container,
    through the TLVs of its path (RFC 6929 §2.3). An empty value gives no attribute: RFC 2865
    §5 forbids Length 2, RFC 2865 §5.26 an empty VSA String, RFC 6929 §2.1 an empty Value."""
    if not raw:
        return []
    k = d.key
    first = k[0]
    if len(k) > 1:
        top = tlv.container_length(k)
        if top < len(k):
            raw = tlv.pack(k[top:], raw)
            k = k[:top]
    if len(k) == 1:
        if first == VENDOR_SPECIFIC:
            vsa.check(raw, dictionary)
        if len(raw) <= 253:
            return [(first, raw)]
        if d.concat or k == FILTER_RULE_KEY:  # RFC 4849 §2: a rule continues in the next
            return [(first, raw[i : i + 253]) for i in range(0, len(raw), 253)]
        raise ValueError(f"{d.name}: value of {len(raw)} octets exceeds 253")
    if first == VENDOR_SPECIFIC:
        return vsa.build(d.name, k[1], k[2], raw, dictionary)
    if first in EXTENDED_TYPES:
        evs = vsa.evs_prefix(k[2], k[3]) if len(k) == 4 else b""  # RFC 6929 §2.4
        value = bytes((k[1],)) + evs + raw
        if len(value) > 253:
            raise ValueError(f"{d.name}: value too long for an extended attribute")
        return [(first, value)]
    if first in LONG_EXTENDED_TYPES:
        payload = (vsa.evs_prefix(k[2], k[3]) if len(k) == 4 else b"") + raw
        chunks = [payload[i : i + 251] for i in range(0, len(payload), 251)] or [b""]
        out = []
        for n, chunk in enumerate(chunks):
            more = 0x80 if n < len(chunks) - 1 else 0
            out.append((first, bytes((k[1], more)) + chunk))
        return out
    raise ValueError(f"{d.name}: cannot place key {k}")


def extended_values(
    attributes: list[tuple[int, bytes]], k: AttrKey, invalid: dict[int, str], long: bool
) -> list[bytes]:
    first, ext = k[0], k[1]
    evs = len(k) == 4
    out: list[bytes] = []
    pending: bytearray | None = None
    for i, (t, v) in enumerate(attributes):
        if t != first or i in invalid or not v or v[0] != ext:
            continue
        if len(v) < (3 if long else 2):  # RFC 6929 §2.1/§2.2: Length 2..3 (4 long) is invalid
            invalid[i] = f"extended attribute {t} of {len(v) + 2} octets"
            continue
        data = v[2:] if long else v[1:]
        if long and pending is not None:
            pending += data
        elif long:
            pending = bytearray(data)
        if long:
            assert pending is not None
            if v[1] & 0x80:  # More flag: the value continues in the next attribute
                continue
            data, pending = bytes(pending), None
        if evs:  # RFC 6929 §2.4: Vendor-Id, EVS-Type, then at least one octet of EVS-Value
            if len(data) < 6 or int.from_bytes(data[:4], "big") != k[2] or data[4] != k[3]:
                continue
            data = data[5:]
        out.append(data)
    return out
