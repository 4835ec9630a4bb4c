"""Wire scanning: the strict walk over a received datagram, and its Message-Authenticator.

Separate from :mod:`.packet` because the dispatcher's PAP fast path uses the walk alone,
without building a :class:`~radiusd.codec.packet.Packet`: it must stay a tight loop over
octets with no object per attribute. Every check that makes a datagram droppable (RFC 2865
§3, §5; RFC 3579 §3.2) lives here, once, for both paths. :func:`first_fields` reads the values
the accounting parser needs off a scanned datagram in one call.

:func:`scan` and :func:`first_fields` run once or more per request, so they also exist in C
(``_speedups.c``, built by ``setup.py`` when a compiler is at hand). The C ones are used when
they were built and ``RADIUSD_PURE_PYTHON`` is unset (or ``0``); :data:`IMPLEMENTATION` says
which. The Python ones below are the reference: the C ones must give the same results and raise
the same :class:`MalformedPacket` (tests/unit/test_codec_speedups.py compares them).
"""

from __future__ import annotations

import hmac
import os

from .attributes_gen import MESSAGE_AUTHENTICATOR  # RFC 3579 §3.2
from .crypto import ZERO16, hmac_md5, message_authenticator
from .errors import MalformedPacket

MAX_PACKET_LENGTH = 4096  # RFC 2865 §3
MIN_PACKET_LENGTH = 20


#: what :func:`scan` returns: (datagram cut to Length, offsets, types, M-A value offset or 0)
Scanned = tuple[bytes, list[int], bytes, int]


def scan(data: bytes) -> Scanned:
    """The strict walk over a datagram, without building a :class:`Packet`.

    Returns the datagram cut to its Length, the offset of each attribute, one octet per
    attribute with its type, and the offset of the Message-Authenticator value (0 when
    absent). Raises :class:`MalformedPacket` for anything that must be dropped (RFC 2865 §3,
    §5; RFC 3579 §3.2): Length within 20..4096 and not beyond the datagram (octets after
    Length are padding and ignored); every attribute at least 2 octets and inside Length;
    at most one Message-Authenticator, of exactly 18 octets. :func:`decode` is this plus
    the packet object; the dispatcher's PAP fast path uses it alone. The walk is bounded
    by Length: every step advances at least 2 octets.
    """
    n = len(data)
    if n < MIN_PACKET_LENGTH:
        raise MalformedPacket("too-short", f"datagram of {n} octets")
    length = (data[2] << 8) | data[3]
    if length < MIN_PACKET_LENGTH or length > MAX_PACKET_LENGTH:
        raise MalformedPacket("bad-length", f"Length field {length}")
    if length > n:
        raise MalformedPacket("truncated", f"Length field {length} but datagram of {n} octets")
    if length < n:
        data = data[:length]
    offs: list[int] = []
    add_off = offs.append
    tbuf = bytearray()
    add_type = tbuf.append
    i = 20
    try:
        while i < length:
            al = data[i + 1]
            if al < 2:
                raise MalformedPacket("bad-attribute-length", f"attribute {data[i]} with length {al}")
            add_off(i)
            add_type(data[i])
            i += al
    except IndexError:
        raise MalformedPacket("attribute-overrun", f"attribute header at offset {i} past Length") from None
    if i != length:
        raise MalformedPacket("attribute-overrun", f"attribute {data[offs[-1]]} overruns the packet")
    types = bytes(tbuf)
    ma_offset = 0
    k = types.find(MESSAGE_AUTHENTICATOR)
    if k >= 0:
        o = offs[k]
        if data[o + 1] != 18:
            raise MalformedPacket(
                "bad-message-authenticator", f"Message-Authenticator of {data[o + 1]} octets"
            )
        if types.find(MESSAGE_AUTHENTICATOR, k + 1) >= 0:
            raise MalformedPacket("bad-message-authenticator", "Message-Authenticator present twice")
        ma_offset = o + 2
    return data, offs, types, ma_offset


def first_fields(
    data: bytes, offs: list[int], raw: bytes, u32: bytes
) -> tuple[tuple[bytes | None, ...], tuple[int | None, ...]]:
    """The first value of each type in ``raw`` and, as an integer, of each type in ``u32``, from
    a datagram and its attribute offsets as :func:`scan` returns them.

    The first occurrence of a type wins (as with ``Packet.raw``); None when the type is absent,
    and for ``u32`` also when that first value is not 4 octets long (RFC 2865 §5: an integer
    is 4 octets). One call instead of a lookup per attribute: an Accounting-Request's parser
    reads twenty-odd of them.
    """
    return fields_of({data[o]: data[o + 2 : o + data[o + 1]] for o in reversed(offs)}, raw, u32)


def fields_of(
    values: dict[int, bytes], raw: bytes, u32: bytes
) -> tuple[tuple[bytes | None, ...], tuple[int | None, ...]]:
    """:func:`first_fields` from a dict of first values (``Packet.first_values``)."""
    get = values.get
    return tuple(map(get, raw)), tuple(
        [int.from_bytes(v) if v is not None and len(v) == 4 else None for v in map(get, u32)]
    )


def message_authenticator_offset(data: bytes) -> int | None:
    """Offset of the Message-Authenticator value, or None.

    Meant for packets :func:`decode` accepted, but bounded on any input: the walk stops at
    an attribute of length < 2 or one that overruns the packet (it used to loop forever on
    a zero length, and ``verify_message_authenticator`` is public).
    """
    length = min((data[2] << 8) | data[3], len(data))
    i = 20
    while i + 1 < length:
        al = data[i + 1]
        if al < 2 or i + al > length:
            return None
        if data[i] == MESSAGE_AUTHENTICATOR:
            return i + 2
        i += al
    return None


def verify_message_authenticator(
    data: bytes, secret: bytes, authenticator: bytes | None = None, offset: int | None = None
) -> bool | None:
    """Check a received packet's Message-Authenticator; None when it carries none.

    ``authenticator`` is the one the HMAC is computed with (see
    :func:`radiusd.codec.crypto.message_authenticator`): None means "this packet's own",
    right for Access-Request and Status-Server; pass ZERO16 for Accounting/CoA/Disconnect
    requests and the request's authenticator for replies.
    """
    off = message_authenticator_offset(data) if offset is None else offset
    if not off:
        return None
    length = (data[2] << 8) | data[3]
    if len(data) != length:
        data = data[:length]
    if authenticator is None:  # the packet's own authenticator is already in place
        expected = hmac_md5(secret, b"".join((data[:off], ZERO16, data[off + 16 :])))
    else:
        expected = message_authenticator(data, off, authenticator, secret)
    return hmac.compare_digest(expected, data[off : off + 16])


#: the pure-Python functions, whatever :data:`IMPLEMENTATION` is: the reference for the C ones
PURE_SCAN, PURE_FIRST_FIELDS = scan, first_fields
#: set (to anything but ``0``) to run the pure-Python functions even when the C ones are built
PURE_PYTHON_ENV = "RADIUSD_PURE_PYTHON"
#: which :func:`scan` and :func:`first_fields` run: "c" or "python" (shown by ``radiusd serve``)
IMPLEMENTATION = "python"
if os.environ.get(PURE_PYTHON_ENV, "") in ("", "0"):
    try:
        from ._speedups import first_fields, scan
    except ImportError:  # not built (no compiler at install time): the Python ones stay
        pass
    else:
        IMPLEMENTATION = "c"
