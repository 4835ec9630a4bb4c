"""RADIUS/1.1 (RFC 9765): the packet form used on a RadSec connection that negotiated the
ALPN name ``radius/1.1``. No shared secret and no MD5 anywhere.

RFC 9765 (from draft-ietf-radext-radiusv11; the section numbers below are the draft's, -09):

- §4.1: the header keeps Code and Length; the Identifier octet becomes Reserved-1 (zero when
  sent, ignored when received) and the 16-octet Authenticator becomes a 4-octet Token and 12
  reserved octets (zero when sent, ignored when received).
- §4.2: a reply carries the Token of its request; the sender changes the Token for every new
  packet on a connection, and duplicates are found by Token alone.
- §5.1: User-Password, Tunnel-Password, MS-MPPE-Send/Recv-Key (and every other attribute
  hidden with MD5 in RADIUS/1.0) travel as their plain value; User-Password is 1 to 128
  octets (§5.1.1).
- §5.1.2: CHAP needs a CHAP-Challenge attribute (there is no Request Authenticator to use).
- §5.2: Message-Authenticator is never sent and is ignored when received.

Kept apart from radiusd.codec.packet so RADIUS/1.0 (UDP and classic RadSec) runs exactly the
code it ran before; only a connection that negotiated RADIUS/1.1 calls these.
"""

from __future__ import annotations

import struct

from .errors import MalformedPacket
from .packet import Packet, attribute_body, reply_body
from .scanning import MAX_PACKET_LENGTH

#: ALPN protocol names (RFC 9765 §3.1 of the published RFC: both are registered with IANA)
ALPN_10 = "radius/1.0"
ALPN_11 = "radius/1.1"
#: Reserved-2: the 12 octets after the Token, always zero when sent
RESERVED_2 = bytes(12)
_HEADER = struct.Struct("!BBH")


def encode_reply11(reply: Packet, token: bytes) -> bytes:
    """A reply in RADIUS/1.1: Reserved-1 zero, the request's ``token``, Reserved-2 zero, the
    attributes as they are (no Response Authenticator, no Message-Authenticator: §4.1, §5.2).
    ValueError beyond 4096 octets, as :func:`radiusd.codec.packet.encode_reply`."""
    return _encode(reply.code, token, reply_body(reply))


def encode_reply11_body(code: int, token: bytes, body: bytes) -> bytes:
    """:func:`encode_reply11` from attributes already on the wire (the PAP fast path's cached
    plan attributes; ``body`` holds no Message-Authenticator)."""
    return _encode(code, token, body)


def encode_request11(packet: Packet, token: bytes) -> bytes:
    """A request in RADIUS/1.1 with ``token`` (4 octets); ``packet.authenticator`` becomes
    Token + Reserved-2 and ``packet.identifier`` 0, so a reply can be matched against it."""
    packet.identifier = 0
    packet.authenticator = token + RESERVED_2
    return _encode(packet.code, token, attribute_body(packet.attributes))


def _encode(code: int, token: bytes, body: bytes) -> bytes:
    if len(token) != 4:
        raise ValueError(f"a RADIUS/1.1 Token has 4 octets, not {len(token)}")
    length = 20 + len(body)
    if length > MAX_PACKET_LENGTH:
        raise ValueError(f"packet of {length} octets exceeds {MAX_PACKET_LENGTH}")
    return b"".join((_HEADER.pack(code, 0, length), token, RESERVED_2, body))


def clear_password(value: bytes) -> bytes:
    """A RADIUS/1.1 User-Password: the password itself, 1 to 128 octets (§5.1.1); no padding
    to strip, as nothing was padded. :class:`MalformedPacket` outside that length."""
    if not 1 <= len(value) <= 128:
        raise MalformedPacket("bad-user-password", f"{len(value)} octets (RADIUS/1.1: 1 to 128)")
    return value
