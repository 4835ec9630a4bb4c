"""RADIUS/1.1 negotiation on a RadSec listener (RFC 9765 §3, ALPN of RFC 7301).

``radsec_alpn`` is the RFC's "Version" flag (draft-ietf-radext-radiusv11-09 §3.3):

- ``both`` ("1.0, 1.1", the RFC's required default): the server accepts ``radius/1.1`` or
  ``radius/1.0``, preferring 1.1 when a client offers both; a client that sends no ALPN gets
  classic RadSec, exactly as before this setting existed.
- ``1.1`` (require): a client must offer ``radius/1.1``; one that offers no ALPN, or only
  other names, gets the TLS alert no_application_protocol (120) and the connection closes.
- ``1.0`` (forbid): ``radius/1.0`` is answered; a client offering ALPN names without it gets
  the alert; no ALPN: classic RadSec.
- ``off``: no ALPN is announced or checked (RFC 6614 only).

Why the ClientHello is read here: OpenSSL, as Python drives it, answers a client whose ALPN
names match none of ours by leaving ALPN out (no alert), and never calls the selection at all
for a client that sends none. §3.3 wants the alert in both cases and allows it "during the
ClientHello"; so the first flight is parsed before OpenSSL sees it, and when it fails the
setting the alert record is written in the clear (no keys exist yet) and the connection
closed. The parse only reads; the bytes go to OpenSSL unchanged.

Session resumption: §3.5 makes a session resumed from a RADIUS/1.1 one keep RADIUS/1.1. The
contexts that allow 1.1 issue no TLS 1.3 session tickets (``num_tickets = 0``), so no session
is ever resumed and each connection negotiates afresh; RadSec connections are long-lived, so
the cost is one full handshake per connection, as radsecproxy already does.
"""

from __future__ import annotations

import ssl
from typing import Final

from radiusd.codec.radius11 import ALPN_10, ALPN_11

#: what each ``radsec_alpn`` value announces, most preferred first (OpenSSL picks the first of
#: ours that the client offered)
PROTOCOLS: Final[dict[str, tuple[str, ...]]] = {
    "both": (ALPN_11, ALPN_10),
    "1.1": (ALPN_11,),
    "1.0": (ALPN_10,),
    "off": (),
}
#: a TLS alert record, fatal (2), no_application_protocol (120), sent before any key exists
ALERT_NO_APPLICATION_PROTOCOL: Final = bytes((21, 3, 3, 0, 2, 2, 120))
#: more than this without a complete ClientHello: stop reading it and let OpenSSL judge
MAX_HELLO = 64 * 1024


class NeedMore(Exception):
    """The ClientHello has not fully arrived yet."""


def configure(ctx: ssl.SSLContext, mode: str) -> None:
    """Announce ``mode``'s names on ``ctx``; a context that may speak RADIUS/1.1 issues no
    session tickets (see the module docstring)."""
    names = PROTOCOLS[mode]
    if names:
        ctx.set_alpn_protocols(list(names))
    if ALPN_11 in names:
        ctx.num_tickets = 0


def offered(data: bytes) -> list[str] | None:
    """The ALPN names a TLS ClientHello at the start of ``data`` offers; None when it offers
    none (or ``data`` is no ClientHello: OpenSSL will refuse it). :class:`NeedMore` when the
    message is incomplete. Record layer of RFC 8446 §5.1, ClientHello of §4.1.2, the ALPN
    extension (16) of RFC 7301 §3.1."""
    hello = bytearray()
    i = 0
    while True:  # the handshake message may span records
        if len(data) - i < 5:
            raise NeedMore
        if data[i] != 22:  # not a handshake record
            return None
        size = (data[i + 3] << 8) | data[i + 4]
        if len(data) - i - 5 < size:
            raise NeedMore
        hello += data[i + 5 : i + 5 + size]
        i += 5 + size
        if len(hello) >= 4:
            if hello[0] != 1:  # not a ClientHello
                return None
            if len(hello) >= 4 + int.from_bytes(hello[1:4], "big"):
                break
    body = bytes(hello[4 : 4 + int.from_bytes(hello[1:4], "big")])
    try:
        return _alpn_of(body)
    except IndexError:
        return None


def _alpn_of(body: bytes) -> list[str] | None:
    p = 2 + 32  # legacy_version, random
    p += 1 + body[p]  # legacy_session_id
    p += 2 + int.from_bytes(body[p : p + 2], "big")  # cipher_suites
    p += 1 + body[p]  # legacy_compression_methods
    if p + 2 > len(body):
        return None  # no extensions
    end = p + 2 + int.from_bytes(body[p : p + 2], "big")
    p += 2
    while p + 4 <= end:
        kind = int.from_bytes(body[p : p + 2], "big")
        size = int.from_bytes(body[p + 2 : p + 4], "big")
        if kind == 16:
            ext = body[p + 4 : p + 4 + size]
            names, q = [], 2
            while q < len(ext):
                n = ext[q]
                names.append(ext[q + 1 : q + 1 + n].decode("ascii", "replace"))
                q += 1 + n
            return names
        p += 4 + size
    return None


def acceptable(mode: str, names: list[str] | None) -> bool:
    """Whether a client offering ``names`` (None: no ALPN) may go on under ``mode`` (§3.3)."""
    if mode == "off":
        return True
    if names is None:
        return mode != "1.1"
    return any(name in PROTOCOLS[mode] for name in names)
