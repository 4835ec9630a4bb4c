"""Vendor-Specific attributes (RFC 2865 §5.26): splitting and building their values.

A vendor's ``format=T,L[,c]`` sets the octets of its type and length fields; ``c`` (the
WiMAX format) adds a continuation octet after the length whose top bit says the value
goes on in the next Vendor-Specific of the packet (WiMAX Forum NWG Stage 3, §5.3.1). A
reader joins those fragments; a writer cuts a long value into them.
"""

from __future__ import annotations

from collections.abc import Iterable

from .dictionary import Dictionary

#: One vendor sub-attribute: (vendor id, vendor type, value, index of its type-26 attribute).
VendorAttr = tuple[int, int, bytes, int]

VENDOR_SPECIFIC = 26
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


def build(name: str, vid: int, vt: int, raw: bytes, dictionary: Dictionary | None) -> list[tuple[int, bytes]]:
    """``raw`` as Vendor-Specific attributes of vendor ``vid``, type ``vt``: one, or for a
    continuation vendor as many as the value needs. ValueError when it cannot fit."""
    tl, ll, cont = _format(vid, dictionary)
    head = vid.to_bytes(4, "big") + vt.to_bytes(tl, "big")
    if cont:
        pieces = [raw[i : i + CONTINUED_CHUNK] for i in range(0, len(raw), CONTINUED_CHUNK)]
        last = len(pieces) - 1
        return [
            (VENDOR_SPECIFIC, head + bytes((len(p) + 3, MORE if k < last else 0)) + p)
            for k, p in enumerate(pieces)
        ]
    if len(raw) + 4 + tl + ll > 253:  # before packing a length that may not fit its field
        raise ValueError(f"{name}: value of {len(raw)} octets does not fit a Vendor-Specific")
    if ll:
        head += (len(raw) + tl + ll).to_bytes(ll, "big")
    return [(VENDOR_SPECIFIC, head + raw)]


def check(raw: bytes, dictionary: Dictionary | None) -> None:
    """ValueError unless ``raw`` is a well-formed Vendor-Specific value (RFC 2865 §5.26:
    Length >= 7, so a Vendor-Id and at least one octet; sub-attributes fill it exactly)."""
    if len(raw) < 5:
        raise ValueError(f"Vendor-Specific of {len(raw)} octets (RFC 2865 §5.26: at least 5)")
    reason = split_one(raw, 0, [], dictionary)
    if reason is not None:
        raise ValueError(f"malformed Vendor-Specific: {reason}")
