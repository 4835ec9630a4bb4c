"""RFC 6929 §2.3 TLVs: where a dictionary key's container ends and its TLV path begins,
and packing / finding nested TLV values.

A TLV is Type (1 octet), Length (1 octet, 3..255, header included) and a value of at least
one octet; a ``tlv`` value holds only TLVs and must be filled by them exactly (§2.3.1).
Children of the same TLV may sit in one container or in several; a reader gathers all.
"""

from __future__ import annotations

from .attributes_gen import VENDOR_SPECIFIC
from .dictionary import AttrKey

_EXTENDED = range(241, 247)


def container_length(key: AttrKey) -> int:
    """How many leading numbers of ``key`` name the attribute that goes on the wire:
    1 standard, 3 ``26.vendor.type``, 2 ``241.type``, 4 ``241.26.vendor.type``; the rest
    of the key is a TLV path."""
    first = key[0]
    if first == VENDOR_SPECIFIC:
        return 3 if len(key) >= 3 else 1
    if first in _EXTENDED and len(key) >= 2:
        return 4 if key[1] == VENDOR_SPECIFIC and len(key) >= 4 else 2
    return 1


def pack(path: AttrKey, raw: bytes) -> bytes:
    """``raw`` nested inside the TLVs of ``path`` (outermost first); ValueError past 253."""
    for number in reversed(path):
        if len(raw) > 253:
            raise ValueError(f"TLV {number}: value of {len(raw)} octets exceeds 253 (RFC 6929 §2.3)")
        raw = bytes((number, len(raw) + 2)) + raw
    return raw


def split(raw: bytes) -> list[tuple[int, bytes]]:
    """The ``(type, value)`` TLVs filling ``raw``; ValueError when they do not fill it exactly
    or one has a length below 3 (§2.3: the container is then an invalid attribute)."""
    out: list[tuple[int, bytes]] = []
    i, n = 0, len(raw)
    while i < n:
        if i + 2 > n:
            raise ValueError("TLV header overruns its container")
        length = raw[i + 1]
        if length < 3:
            raise ValueError(f"TLV {raw[i]} with length {length} (RFC 6929 §2.3: at least 3)")
        if i + length > n:
            raise ValueError(f"TLV {raw[i]} overruns its container")
        out.append((raw[i], raw[i + 2 : i + length]))
        i += length
    return out


def find(raw: bytes, path: AttrKey) -> list[bytes]:
    """Every value at ``path`` inside the container value ``raw``, in order; ValueError when
    a TLV on the way is malformed."""
    values = [raw]
    for number in path:
        values = [v for container in values for t, v in split(container) if t == number]
    return values
