"""RADIUS packets: strict decoding, lazy attribute values, encoding with authenticators.

Hand-written rather than pyrad's because the daemon's hot path is here: decoding an
Access-Request, recovering its password and encoding the Access-Accept must cost a few
microseconds, and malformed input must give :class:`MalformedPacket`, never a hang.

A :class:`Packet` keeps its top-level attributes as ``(type, raw value)`` pairs in wire
order (repeats kept); values are decoded only when read, through the dictionary.
Vendor-Specific attributes (RFC 2865 §5.26) are split into sub-attributes once, at decode
time, because that is where a malformed one must be noticed.

The strict walk over a datagram is :mod:`.scanning` (the PAP fast path uses it alone);
turning values into attributes and back is :mod:`.attr_encoding`, with the one
Vendor-Specific encoder in :mod:`.vsa`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

from . import rulesets, tlv, vsa
from .attr_encoding import (
    EXTENDED_TYPES,
    FILTER_RULE_KEY,
    LONG_EXTENDED_TYPES,
    attribute_encoder,
    decode_value,
    describe,
    encode_value,
    extended_values,
)
from .attributes_gen import MESSAGE_AUTHENTICATOR, PROXY_STATE, USER_PASSWORD, VENDOR_SPECIFIC
from .codes import HASHED_AUTHENTICATOR_REQUESTS, RANDOM_AUTHENTICATOR_REQUESTS, code_name
from .crypto import ZERO16, hide_user_password, hmac_md5, md5, random_authenticator, recover_user_password
from .dictionary import AttributeDef, AttrKey, Dictionary
from .scanning import MAX_PACKET_LENGTH, Scanned, fields_of, first_fields, scan
from .vsa import VendorAttr

_HEADER = struct.Struct("!BBH")
_MA_ZERO = b"\x50\x12" + ZERO16  # a Message-Authenticator attribute, value zeroed


class Packet:
    """One RADIUS packet. Build replies with :meth:`reply`; read values with :meth:`get`.

    A decoded packet keeps the datagram and the offset of each attribute, plus one octet
    per attribute with its type, so that finding an attribute is a ``bytes.find`` in C
    rather than a loop in Python. The ``attributes`` list of ``(type, raw)`` pairs is built
    on first use; from then on that list is the packet's content.
    """

    __slots__ = (
        "_attrs",
        "_data",
        "_offs",
        "_types",
        "_vsas",
        "authenticator",
        "code",
        "dictionary",
        "has_proxy_state",
        "identifier",
        "invalid",
        "ma_offset",
    )

    def __init__(
        self,
        code: int,
        identifier: int = 0,
        authenticator: bytes = ZERO16,
        attributes: list[tuple[int, bytes]] | None = None,
        dictionary: Dictionary | None = None,
    ) -> None:
        self.code = code
        self.identifier = identifier
        self.authenticator = authenticator
        self._attrs: list[tuple[int, bytes]] | None = attributes if attributes is not None else []
        self._data: bytes | None = None
        self._offs: list[int] = []
        self._types = b""
        self.dictionary = dictionary
        #: attributes found invalid (RFC 6929 §2.8): index into ``attributes`` -> reason
        self.invalid: dict[int, str] = {}
        self._vsas: list[VendorAttr] | None = None
        #: offset of the Message-Authenticator value in the decoded datagram, 0 when absent
        self.ma_offset = 0
        #: whether the packet carries Proxy-State (set by decode; saves a scan in reply())
        self.has_proxy_state = True

    @classmethod
    def from_encoded(
        cls,
        code: int,
        identifier: int,
        authenticator: bytes,
        encoded: EncodedAttributes,
        dictionary: Dictionary | None = None,
    ) -> Packet:
        """A packet whose attributes are already on the wire (see :func:`encode_attributes`).

        It is in the decoded form: reading is as for a received packet, :func:`encode_reply`
        slices the body instead of re-encoding it, and touching ``attributes`` turns it into
        an ordinary list-backed packet. The hot path uses it for a plan's Access-Accept.
        """
        p = cls.__new__(cls)
        p.code = code
        p.identifier = identifier
        p.authenticator = authenticator
        p._attrs = None
        p._data = encoded.wire
        p._offs = encoded.offsets
        p._types = encoded.types
        p.dictionary = dictionary
        p.invalid = {}
        p._vsas = None
        p.ma_offset = 0
        p.has_proxy_state = PROXY_STATE in encoded.types
        return p

    def __repr__(self) -> str:
        return f"<Packet {code_name(self.code)} id={self.identifier} attrs={len(self)}>"

    def __len__(self) -> int:
        """Number of top-level attributes."""
        return len(self._types) if self._data is not None else len(self.attributes)

    @property
    def attributes(self) -> list[tuple[int, bytes]]:
        """Top-level ``(type, raw value)`` pairs in wire order; mutable."""
        a = self._attrs
        if a is None:
            d = self._data
            assert d is not None
            a = self._attrs = [(d[o], d[o + 2 : o + d[o + 1]]) for o in self._offs]
            self._data = None
        return a

    @attributes.setter
    def attributes(self, value: list[tuple[int, bytes]]) -> None:
        self._attrs = value
        self._data = None
        self._vsas = None

    def _values_of(self, code: int) -> Iterator[tuple[int, bytes]]:
        """``(index, raw)`` of each top-level attribute of type ``code``, skipping invalid ones."""
        inv = self.invalid
        d = self._data
        if d is not None:
            types, offs = self._types, self._offs
            k = types.find(code)
            while k >= 0:
                if not inv or k not in inv:
                    o = offs[k]
                    yield k, d[o + 2 : o + d[o + 1]]
                k = types.find(code, k + 1)
            return
        for i, (t, v) in enumerate(self.attributes):
            if t == code and (not inv or i not in inv):
                yield i, v

    def _def(self, name: str | AttributeDef) -> AttributeDef:
        if isinstance(name, AttributeDef):
            return name
        if self.dictionary is None:
            raise LookupError("packet has no dictionary: use raw codes")
        try:
            return self.dictionary.by_name[name.lower()]
        except KeyError:
            raise KeyError(f"unknown attribute {name!r}") from None

    def vendor_attributes(self) -> list[VendorAttr]:
        """All well-formed vendor sub-attributes, in wire order."""
        if self._vsas is None:
            self._vsas = vsa.split_all(self._values_of(VENDOR_SPECIFIC), self.dictionary)[0]
        return self._vsas

    def raw_all(self, key: str | AttrKey | AttributeDef) -> list[bytes]:
        """Every raw value of an attribute (by name, key or definition), in wire order."""
        k = key if isinstance(key, tuple) else self._def(key).key
        first = k[0]
        if len(k) == 1:
            return [v for _, v in self._values_of(first)]
        top = tlv.container_length(k)
        if top < len(k):  # a TLV child (RFC 6929 §2.3): look inside each container
            out: list[bytes] = []
            for container in self.raw_all(k[:top]):
                try:
                    out += tlv.find(container, k[top:])
                except ValueError:
                    continue  # a malformed container is an invalid attribute (§2.8)
            return out
        if first == VENDOR_SPECIFIC:
            vid, vt = k[1], k[2]
            return [v for (a, b, v, _) in self.vendor_attributes() if a == vid and b == vt]
        if first in EXTENDED_TYPES:
            return extended_values(self.attributes, k, self.invalid, long=False)
        if first in LONG_EXTENDED_TYPES:
            return extended_values(self.attributes, k, self.invalid, long=True)
        return []

    def first_values(self) -> dict[int, bytes]:
        """Top-level type -> raw value of its first valid occurrence (what ``raw((type,))``
        gives for each type present). One dict per packet for a reader of many attributes
        (an Accounting-Request's twenty): on a decoded packet it is built from the datagram
        without the ``attributes`` list, whose tuple per attribute cost more than the reads."""
        d = self._data
        if d is not None and not self.invalid:
            # reversed: the first occurrence of a type is written last, so it wins
            return {d[o]: d[o + 2 : o + d[o + 1]] for o in reversed(self._offs)}
        inv = self.invalid
        attrs = self.attributes
        if inv:
            attrs = [a for i, a in enumerate(attrs) if i not in inv]
        return dict(reversed(attrs))

    def first_fields(self, raw: bytes, u32: bytes) -> tuple[tuple[bytes | None, ...], tuple[int | None, ...]]:
        """The first value of each type in ``raw``, and as an integer (None unless 4 octets)
        of each type in ``u32``: :func:`~radiusd.codec.scanning.first_fields`, the one call an
        Accounting-Request's parser makes (in C when built), over :meth:`first_values` for a
        packet that was not decoded or has invalid attributes."""
        d = self._data
        if d is not None and not self.invalid:
            return first_fields(d, self._offs, raw, u32)
        return fields_of(self.first_values(), raw, u32)

    def raw(self, key: str | AttrKey | AttributeDef) -> bytes | None:
        """The first raw value of an attribute, or None."""
        if isinstance(key, tuple) and len(key) == 1:
            d = self._data
            if d is not None and not self.invalid:  # the hot path: one find in C
                k = self._types.find(key[0])
                if k < 0:
                    return None
                o = self._offs[k]
                return d[o + 2 : o + d[o + 1]]
            for _, v in self._values_of(key[0]):
                return v
            return None
        values = self.raw_all(key)
        return values[0] if values else None

    def __contains__(self, name: str | AttrKey | AttributeDef) -> bool:
        return self.raw(name) is not None

    def get(self, name: str | AttributeDef, default: Any = None) -> Any:
        """The decoded value of the first occurrence, or ``default``.

        An attribute whose value has the wrong shape for its type counts as absent (RFC
        6929 §2.8 "invalid attribute"); :meth:`get_all` skips it too. Concatenated
        attributes (e.g. EAP-Message) return the joined octets.
        """
        d = self._def(name)
        if d.concat:
            parts = self.raw_all(d)
            return b"".join(parts) if parts else default
        if d.key == FILTER_RULE_KEY:
            rules = rulesets.split(self.raw_all(d))
            return rules[0] if rules else default
        raw = self.raw(d.key)
        if raw is None:
            return default
        try:
            return decode_value(d, raw)[1]
        except ValueError:
            return default

    def get_all(self, name: str | AttributeDef) -> list[Any]:
        """Every decoded value, in wire order; NAS-Filter-Rule gives its rules (RFC 4849 §2)."""
        d = self._def(name)
        if d.key == FILTER_RULE_KEY:
            return list(rulesets.split(self.raw_all(d)))
        out = []
        for raw in self.raw_all(d):
            try:
                out.append(decode_value(d, raw)[1])
            except ValueError:
                continue
        return out

    def get_tagged(self, name: str | AttributeDef) -> list[tuple[int, Any]]:
        """``(tag, value)`` of each occurrence of a tagged attribute (RFC 2868 §3)."""
        d = self._def(name)
        out = []
        for raw in self.raw_all(d):
            try:
                out.append(decode_value(d, raw))
            except ValueError:
                continue
        return out

    def user_password(self, secret: bytes) -> bytes | None:
        """Recover User-Password (RFC 2865 §5.2); MalformedPacket for a bad length."""
        raw = self.raw((USER_PASSWORD,))
        if raw is None:
            return None
        return recover_user_password(raw, secret, self.authenticator)

    # -- building --------------------------------------------------------------------------

    def add(self, name: str | AttributeDef, value: Any, tag: int = 0) -> Packet:
        """Append an attribute, encoding ``value`` for its type (VALUE names accepted).

        By name (and untagged), the definition and its encoder are looked up once per
        dictionary and cached there: replies are built by name on the hot path.
        """
        d = self.dictionary
        if tag or d is None or type(name) is not str:
            definition = self._def(name)
            encoded = encode_value(definition, value, tag, d)
            if definition.key == FILTER_RULE_KEY:
                return self._add_rules(encoded)
        else:
            encode = d.encoders.get(name)
            if encode is None:
                definition = self._def(name)
                if definition.key == FILTER_RULE_KEY:  # never cached: needs the packet's rules
                    return self._add_rules(encode_value(definition, value, 0, d))
                encode = d.encoders[name] = attribute_encoder(definition, d)
            encoded = encode(value)
        a = self._attrs
        if a is None:
            a = self.attributes
        a += encoded
        self._vsas = None
        return self

    def _add_rules(self, encoded: list[tuple[int, bytes]]) -> Packet:
        """Add NAS-Filter-Rule octets to the packet's one rule set (RFC 4849 §2)."""
        self.attributes = rulesets.combine(self.attributes, encoded)
        return self

    def add_raw(self, type_code: int, value: bytes) -> Packet:
        if len(value) > 253:
            raise ValueError(f"attribute {type_code} value of {len(value)} octets exceeds 253")
        self.attributes.append((type_code, value))
        self._vsas = None
        return self

    def set_user_password(self, password: bytes, secret: bytes) -> Packet:
        """Hide ``password`` under this packet's authenticator (set one first)."""
        if self.authenticator == ZERO16:
            self.authenticator = random_authenticator()
        self.attributes = [(t, v) for t, v in self.attributes if t != USER_PASSWORD]
        self.attributes.append((USER_PASSWORD, hide_user_password(password, secret, self.authenticator)))
        return self

    def reply(self, code: int) -> Packet:
        """An empty reply: same identifier, the request's authenticator kept for encoding,
        and Proxy-State attributes copied in order (RFC 2865 §5.33)."""
        r = Packet(code, self.identifier, self.authenticator, None, self.dictionary)
        if self.has_proxy_state:
            r.attributes = [a for a in self.attributes if a[0] == PROXY_STATE]
        return r

    def items(self) -> Iterator[tuple[str, Any, AttributeDef | None]]:
        """``(name, value, definition)`` of every attribute, vendor ones expanded; for logs."""
        d = self.dictionary
        vsas_by_index: dict[int, list[VendorAttr]] = {}
        for sub in self.vendor_attributes():
            vsas_by_index.setdefault(sub[3], []).append(sub)
        for i, (t, v) in enumerate(self.attributes):
            if i in self.invalid:
                yield f"Invalid-Attribute-{t}", v, None
                continue
            if t == VENDOR_SPECIFIC:
                for vid, vt, vv, _ in vsas_by_index.get(i, []):
                    ad = d.lookup((VENDOR_SPECIFIC, vid, vt)) if d else None
                    yield describe(ad, f"Vendor-{vid}-Attr-{vt}", vv)
                continue
            key: AttrKey = (t,)
            if t in EXTENDED_TYPES or t in LONG_EXTENDED_TYPES:
                if len(v) < (2 if t in EXTENDED_TYPES else 3):  # RFC 6929 §2.1, §2.2
                    yield f"Invalid-Attribute-{t}", v, None
                    continue
                key = (t, v[0])
                v = v[1:] if t in EXTENDED_TYPES else v[2:]
            ad = d.lookup(key) if d else None
            yield describe(ad, f"Attr-{'.'.join(map(str, key))}", v)

    def to_bytes(self) -> bytes:
        """The packet as it stands, authenticator and all attributes unchanged (no crypto)."""
        if self._data is not None:
            body = self._data[20:]
        else:
            body = b"".join([bytes((t, len(v) + 2)) + v for t, v in self.attributes])
        return _HEADER.pack(self.code, self.identifier, 20 + len(body)) + self.authenticator + body


class EncodedAttributes:
    """Attributes encoded once and shared by many packets (:meth:`Packet.from_encoded`).

    ``wire`` is 20 placeholder header octets then the attributes, ``offsets`` and ``types``
    index them as :func:`decode` would; ``body`` is the attributes alone, as
    :func:`encode_reply_body` takes them. None of them is ever mutated.
    """

    __slots__ = ("body", "offsets", "types", "wire")

    def __init__(self, attributes: list[tuple[int, bytes]] | tuple[tuple[int, bytes], ...]) -> None:
        body = attribute_body(list(attributes))
        offsets: list[int] = []
        i = 20
        for t, v in attributes:
            if t != MESSAGE_AUTHENTICATOR:
                offsets.append(i)
                i += len(v) + 2
        self.body = body
        self.wire = bytes(20) + body
        self.offsets = offsets
        self.types = bytes(t for t, _ in attributes if t != MESSAGE_AUTHENTICATOR)


def decode(data: bytes, dictionary: Dictionary | None = None) -> Packet:
    """Parse one datagram. Raises :class:`MalformedPacket` for anything that must be dropped.

    The checks are :func:`scan`'s. Malformed Vendor-Specific attributes are kept raw and
    listed in ``packet.invalid``.
    """
    return from_scan(scan(data), dictionary)


def from_scan(scanned: Scanned, dictionary: Dictionary | None = None) -> Packet:
    """The :class:`Packet` of a datagram :func:`scan` accepted (the second half of :func:`decode`)."""
    data, offs, types, ma_offset = scanned
    p = Packet.__new__(Packet)
    p.code = data[0]
    p.identifier = data[1]
    p.authenticator = data[4:20]
    p._attrs = None
    p._data = data
    p._offs = offs
    p._types = types
    p.dictionary = dictionary
    p.invalid = {}
    p._vsas = None
    p.ma_offset = ma_offset
    p.has_proxy_state = PROXY_STATE in types
    if VENDOR_SPECIFIC in types:
        p._vsas, invalid = vsa.split_all(p._values_of(VENDOR_SPECIFIC), dictionary)
        if invalid:
            p.invalid.update(invalid)
    return p


def attribute_body(attributes: list[tuple[int, bytes]]) -> bytes:
    """The wire form of ``(type, raw)`` pairs, any Message-Authenticator left out (it is
    always recomputed, and placed first, by the encoders)."""
    out = bytearray()  # append/+= on one buffer: ~40% less than joining per-attribute bytes
    put = out.append
    for t, v in attributes:
        if t != MESSAGE_AUTHENTICATOR:
            put(t)
            put(len(v) + 2)
            out += v
    return bytes(out)


def _assemble(
    code: int, identifier: int, auth: bytes, attributes: list[tuple[int, bytes]], with_ma: bool
) -> tuple[bytes, bytes]:
    """Header (without authenticator) and attribute body; Message-Authenticator first, zeroed."""
    body = attribute_body(attributes)
    if with_ma:
        body = _MA_ZERO + body
    length = 20 + len(body)
    if length > MAX_PACKET_LENGTH:
        raise ValueError(f"packet of {length} octets exceeds {MAX_PACKET_LENGTH}")
    return _HEADER.pack(code, identifier, length), body


def reply_body(reply: Packet) -> bytes:
    """The reply's attributes on the wire, without a Message-Authenticator.

    A packet still in its encoded form (decoded, or built by :meth:`Packet.from_encoded`
    from cached plan attributes) is sliced, not re-encoded.
    """
    d = reply._data
    if d is not None and MESSAGE_AUTHENTICATOR not in reply._types:
        return d[20:]
    return attribute_body(reply.attributes)


def encode_reply(
    reply: Packet, secret: bytes, request_authenticator: bytes | None = None, message_auth: bool = True
) -> bytes:
    """Encode a reply with its Response Authenticator (RFC 2865 §3, RFC 2866 §4, RFC 5176 §2.3).

    ``request_authenticator`` defaults to ``reply.authenticator`` (set by
    :meth:`Packet.reply`). With ``message_auth`` a Message-Authenticator is the first
    attribute, as the BlastRADIUS guidance asks of every Access-Accept/Reject/Challenge.
    """
    req_auth = reply.authenticator if request_authenticator is None else request_authenticator
    return encode_reply_body(reply.code, reply.identifier, req_auth, reply_body(reply), secret, message_auth)


def encode_reply_body(
    code: int,
    identifier: int,
    request_authenticator: bytes,
    body: bytes,
    secret: bytes,
    message_auth: bool = True,
) -> bytes:
    """Encode a reply from its attributes already on the wire (``body``: no Message-Authenticator).

    The one implementation behind :func:`encode_reply`; callers holding pre-encoded
    attributes (a plan's, cached per NAS vendor) skip building a :class:`Packet`. With
    ``message_auth`` the Message-Authenticator (RFC 3579 §3.2, over the request's
    authenticator) is inserted as the first attribute; then the Response Authenticator
    (RFC 2865 §3) is computed over the final bytes. ValueError beyond 4096 octets.
    """
    length = (38 if message_auth else 20) + len(body)
    if length > MAX_PACKET_LENGTH:
        raise ValueError(f"packet of {length} octets exceeds {MAX_PACKET_LENGTH}")
    header = _HEADER.pack(code, identifier, length)
    if message_auth:
        mac = hmac_md5(secret, b"".join((header, request_authenticator, _MA_ZERO, body)))
        body = b"\x50\x12" + mac + body
    resp = md5(b"".join((header, request_authenticator, body, secret))).digest()
    return b"".join((header, resp, body))


def encode_request(packet: Packet, secret: bytes, message_auth: bool = False) -> bytes:
    """Encode a request. Access-Request/Status-Server keep (or get) a random authenticator;
    Accounting/CoA/Disconnect-Request get the hashed one (RFC 2866 §3, RFC 5176 §2.3), with
    any Message-Authenticator computed over a zero authenticator first (RFC 5176 §3.4).
    Status-Server always carries Message-Authenticator (RFC 5997 §2)."""
    code = packet.code
    if code == 12:
        message_auth = True
    if code in HASHED_AUTHENTICATOR_REQUESTS:
        header, body = _assemble(code, packet.identifier, ZERO16, packet.attributes, message_auth)
        if message_auth:
            mac = hmac_md5(secret, header + ZERO16 + body)
            body = b"\x50\x12" + mac + body[18:]
        auth = md5(header + ZERO16 + body + secret).digest()
        packet.authenticator = auth
        return header + auth + body
    if code not in RANDOM_AUTHENTICATOR_REQUESTS:
        raise ValueError(f"{code_name(code)} is not a request code")
    if packet.authenticator == ZERO16:
        packet.authenticator = random_authenticator()
    auth = packet.authenticator
    header, body = _assemble(code, packet.identifier, auth, packet.attributes, message_auth)
    if message_auth:
        mac = hmac_md5(secret, header + auth + body)
        body = b"\x50\x12" + mac + body[18:]
    return header + auth + body
