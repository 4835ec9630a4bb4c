"""Vendor-Specific attributes (RFC 2865 §5.26): splitting and building their values.

A vendor's ``format=T,L[,c]`` sets the octets of its type and length fields; ``c`` (the
WiMAX format) adds a continuation octet after the length whose top bit says the value
goes on in the next Vendor-Specific of the packet (WiMAX Forum NWG Stage 3, §5.3.1). A
reader joins those fragments; a writer cuts a long value into them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .attributes_gen import VENDOR_SPECIFIC
from .dictionary import Dictionary

#: One vendor sub-attribute: (vendor id, vendor type, value, index of its type-26 attribute).
VendorAttr = tuple[int, int, bytes, int]

MORE = 0x80  # the continuation octet's More bit
#: Octets of one Vendor-Specific value: 253 minus Vendor-Id (4), type, length, continuation.
CONTINUED_CHUNK = 253 - 4 - 3


def _format(vid: int, dictionary: Dictionary | None) -> tuple[int, int, bool]:
    vd = dictionary.vendors_by_id.get(vid) if dictionary is not None else None
    if vd is None:
        return 1, 1, False
    return vd.type_len, vd.len_len, vd.continuation


def split_one(
    value: bytes,
    index: int,
    out: list[VendorAttr],
    dictionary: Dictionary | None,
    pending: dict[tuple[int, int], tuple[bytearray, int]] | None = None,
) -> str | None:
    """Split one Vendor-Specific value into sub-attributes; return a reason when malformed.

    Nothing is appended for a malformed VSA (RFC 6929 §2.8): it stays a raw attribute.
    For a continuation vendor, ``pending`` carries a fragmented value to the next VSA.
    """
    n = len(value)
    if n < 6:
        return f"Vendor-Specific of {n} octets (at least 6 needed)"
    vid = int.from_bytes(value[:4], "big")
    tl, ll, cont = _format(vid, dictionary)
    found: list[VendorAttr] = []
    fragments: list[tuple[int, bytes, bool]] = []  # (type, data, More) of a continuation vendor
    i = 4
    hl = tl + ll + cont
    while i < n:
        if i + hl > n:
            return "vendor sub-attribute header overruns the Vendor-Specific"
        vt = int.from_bytes(value[i : i + tl], "big")
        if ll == 0:  # no length field: one sub-attribute fills the rest
            found.append((vid, vt, value[i + tl :], index))
            break
        sl = int.from_bytes(value[i + tl : i + tl + ll], "big")
        if sl < hl:
            return f"vendor sub-attribute {vt} with length {sl}"
        if i + sl > n:
            return f"vendor sub-attribute {vt} overruns the Vendor-Specific"
        if cont:
            fragments.append((vt, value[i + hl : i + sl], bool(value[i + hl - 1] & MORE)))
        else:
            found.append((vid, vt, value[i + hl : i + sl], index))
        i += sl
    if cont:
        _join_fragments(vid, fragments, index, out, {} if pending is None else pending)
    out.extend(found)
    return None


def _join_fragments(
    vid: int,
    fragments: list[tuple[int, bytes, bool]],
    index: int,
    out: list[VendorAttr],
    pending: dict[tuple[int, int], tuple[bytearray, int]],
) -> None:
    """Reassemble continued values: a fragment with More set waits for the next one."""
    for vt, data, more in fragments:
        held = pending.pop((vid, vt), None)
        if held is not None:
            buf, first = held
            buf += data
        else:
            buf, first = bytearray(data), index
        if more:
            pending[(vid, vt)] = (buf, first)
        else:
            out.append((vid, vt, bytes(buf), first))


def split_all(
    values: Iterable[tuple[int, bytes]], dictionary: Dictionary | None
) -> tuple[list[VendorAttr], dict[int, str]]:
    """Sub-attributes of every ``(index, value)`` Vendor-Specific, and the malformed ones."""
    vsas: list[VendorAttr] = []
    invalid: dict[int, str] = {}
    pending: dict[tuple[int, int], tuple[bytearray, int]] = {}
    for index, value in values:
        reason = split_one(value, index, vsas, dictionary, pending)
        if reason is not None:
            invalid[index] = reason
    for _, first in pending.values():  # More set on the last fragment: the value is cut
        invalid.setdefault(first, "continued vendor attribute without its last fragment")
    return vsas, invalid


#: ``raw value -> [(26, Vendor-Specific value), ...]`` for one vendor attribute.
VsaEncoder = Callable[[bytes], list[tuple[int, bytes]]]


def encoder(name: str, vid: int, vt: int, dictionary: Dictionary | None) -> VsaEncoder:
    """The one Vendor-Specific encoder: ``raw`` as attributes of vendor ``vid``, type ``vt``.

    The header (Vendor-Id, then the vendor's type and length fields, RFC 2865 §5.26) is
    worked out once per attribute; the returned function adds the length and the value.
    A continuation vendor's value is cut into as many VSAs as it needs; any other gives
    one, or ValueError (naming ``name``) when it cannot fit. Empty ``raw`` gives no VSA
    (RFC 2865 §5.26: the String field is one or more octets).
    """
    tl, ll, cont = _format(vid, dictionary)
    head = vid.to_bytes(4, "big") + vt.to_bytes(tl, "big")
    extra = tl + ll

    if cont:

        def encode_continued(raw: bytes) -> list[tuple[int, bytes]]:
            pieces = [raw[i : i + CONTINUED_CHUNK] for i in range(0, len(raw), CONTINUED_CHUNK)]
            last = len(pieces) - 1
            return [
                (VENDOR_SPECIFIC, head + bytes((len(p) + 3, MORE if k < last else 0)) + p)
                for k, p in enumerate(pieces)
            ]

        return encode_continued

    def encode(raw: bytes) -> list[tuple[int, bytes]]:
        n = len(raw)
        if not n:
            return []
        if n + 4 + extra > 253:  # before packing a length that may not fit its field
            raise ValueError(f"{name}: value of {n} octets does not fit a Vendor-Specific")
        if ll == 1:  # the common format (1,1): no to_bytes call
            return [(VENDOR_SPECIFIC, head + bytes((n + extra,)) + raw)]
        return [(VENDOR_SPECIFIC, head + ((n + extra).to_bytes(ll, "big") if ll else b"") + raw)]

    return encode


def build(name: str, vid: int, vt: int, raw: bytes, dictionary: Dictionary | None) -> list[tuple[int, bytes]]:
    """``raw`` through :func:`encoder` once (for callers that encode one value)."""
    return encoder(name, vid, vt, dictionary)(raw)


def evs_prefix(vid: int, evs_type: int) -> bytes:
    """Vendor-Id and EVS-Type of an Extended-Vendor-Specific value (RFC 6929 §2.4)."""
    return vid.to_bytes(4, "big") + bytes((evs_type,))


def check(raw: bytes, dictionary: Dictionary | None) -> None:
    """ValueError unless ``raw`` is a well-formed Vendor-Specific value (RFC 2865 §5.26:
    Length >= 7, so a Vendor-Id and at least one octet; sub-attributes fill it exactly)."""
    if len(raw) < 5:
        raise ValueError(f"Vendor-Specific of {len(raw)} octets (RFC 2865 §5.26: at least 5)")
    reason = split_one(raw, 0, [], dictionary)
    if reason is not None:
        raise ValueError(f"malformed Vendor-Specific: {reason}")
