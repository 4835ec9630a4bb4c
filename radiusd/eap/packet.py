"""EAP packets (RFC 3748 §4) and their carriage in RADIUS (RFC 3579 §3.1).

Pure byte functions: no I/O, no state. A malformed packet raises :class:`EapError`, which
the conversation turns into an Access-Reject carrying an EAP-Failure (never a traceback).
"""

from __future__ import annotations

from dataclasses import dataclass

# re-exported: the EAP modules read them as eap.EAP_MESSAGE (RFC 3579 §3.1), eap.STATE (RFC 2865 §5.24)
from radiusd.codec.attributes_gen import EAP_MESSAGE as EAP_MESSAGE
from radiusd.codec.attributes_gen import STATE as STATE

# RFC 3748 §4: codes
REQUEST = 1
RESPONSE = 2
SUCCESS = 3
FAILURE = 4
# RFC 3748 §5 and the IANA registry: method types
IDENTITY = 1
NOTIFICATION = 2
NAK = 3
MD5_CHALLENGE = 4
TLS = 13
TTLS = 21
PEAP = 25
MSCHAPV2 = 26
EXTENSIONS = 33  # PEAP's Result TLV rides in EAP type 33 (MS-PEAP §2.2.3)

METHOD_NAMES = {
    IDENTITY: "Identity",
    NOTIFICATION: "Notification",
    NAK: "Nak",
    MD5_CHALLENGE: "MD5-Challenge",
    TLS: "TLS",
    TTLS: "TTLS",
    PEAP: "PEAP",
    MSCHAPV2: "MSCHAPv2",
    EXTENSIONS: "Extensions",
}
#: names accepted in the ``[eap] methods`` setting
METHOD_BY_NAME = {"md5": MD5_CHALLENGE, "tls": TLS, "ttls": TTLS, "peap": PEAP}

MAX_ATTR = 253


class EapError(ValueError):
    """A malformed EAP packet or an EAP exchange that cannot go on; the text says why."""


@dataclass(frozen=True, slots=True)
class EapPacket:
    code: int
    identifier: int
    type: int = 0  # Request/Response only
    data: bytes = b""  # Type-Data

    def encode(self) -> bytes:
        if self.code in (SUCCESS, FAILURE):
            return bytes((self.code, self.identifier, 0, 4))
        length = 5 + len(self.data)
        if length > 0xFFFF:
            raise EapError(f"EAP packet of {length} octets")
        return (
            bytes((self.code, self.identifier)) + length.to_bytes(2, "big") + bytes((self.type,)) + self.data
        )

    def describe(self) -> str:
        """Plain words for ``serve -X`` (never the Type-Data: it may hold a password)."""
        kind = {REQUEST: "Request", RESPONSE: "Response", SUCCESS: "Success", FAILURE: "Failure"}
        words = f"EAP-{kind.get(self.code, str(self.code))} id {self.identifier}"
        if self.code in (REQUEST, RESPONSE):
            words += f" {METHOD_NAMES.get(self.type, f'type {self.type}')} ({len(self.data)} octets)"
        return words


def decode(data: bytes) -> EapPacket:
    """An EAP packet from its octets (RFC 3748 §4): the Length field must match exactly
    (RFC 3579 §2.1 gives no padding); Request and Response carry a Type."""
    if len(data) < 4:
        raise EapError(f"EAP packet of {len(data)} octets (at least 4)")
    code, ident = data[0], data[1]
    length = int.from_bytes(data[2:4], "big")
    if length != len(data):
        raise EapError(f"EAP Length {length} but {len(data)} octets received")
    if code in (SUCCESS, FAILURE):
        if length != 4:
            raise EapError("EAP Success/Failure longer than 4 octets")
        return EapPacket(code, ident)
    if code not in (REQUEST, RESPONSE):
        raise EapError(f"EAP code {code} unknown")
    if length < 5:
        raise EapError("EAP Request/Response without a Type")
    return EapPacket(code, ident, data[4], bytes(data[5:]))


def failure(identifier: int) -> bytes:
    return bytes((FAILURE, identifier, 0, 4))


def success(identifier: int) -> bytes:
    return bytes((SUCCESS, identifier, 0, 4))


def join_eap_messages(attributes: list[tuple[int, bytes]]) -> bytes | None:
    """The EAP packet of a RADIUS packet: its EAP-Message attributes concatenated in order
    (RFC 3579 §3.1); None when there is none."""
    parts = [v for t, v in attributes if t == EAP_MESSAGE]
    return b"".join(parts) if parts else None


def split_eap_message(eap: bytes) -> list[tuple[int, bytes]]:
    """EAP-Message attributes of at most 253 octets each (RFC 3579 §3.1)."""
    return [(EAP_MESSAGE, eap[i : i + MAX_ATTR]) for i in range(0, len(eap), MAX_ATTR)] or [
        (EAP_MESSAGE, b"")
    ]


def nak_types(data: bytes) -> list[int]:
    """The methods a Nak (RFC 3748 §5.3.1) proposes; 0 means "none acceptable"."""
    return [t for t in data if t != 0]
