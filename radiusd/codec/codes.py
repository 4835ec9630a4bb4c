"""RADIUS packet codes (RFC 2865 §3, RFC 2866 §3, RFC 5176 §3, RFC 5997 §2)."""

from enum import IntEnum


class Code(IntEnum):
    ACCESS_REQUEST = 1
    ACCESS_ACCEPT = 2
    ACCESS_REJECT = 3
    ACCOUNTING_REQUEST = 4
    ACCOUNTING_RESPONSE = 5
    ACCESS_CHALLENGE = 11
    STATUS_SERVER = 12
    STATUS_CLIENT = 13
    DISCONNECT_REQUEST = 40
    DISCONNECT_ACK = 41
    DISCONNECT_NAK = 42
    COA_REQUEST = 43
    COA_ACK = 44
    COA_NAK = 45


#: Requests whose Request Authenticator is random (RFC 2865 §3): replies use it as input.
RANDOM_AUTHENTICATOR_REQUESTS = frozenset({Code.ACCESS_REQUEST, Code.STATUS_SERVER})

#: Requests whose Request Authenticator is MD5(packet with zero authenticator + secret)
#: (RFC 2866 §3, RFC 5176 §2.3).
HASHED_AUTHENTICATOR_REQUESTS = frozenset(
    {Code.ACCOUNTING_REQUEST, Code.DISCONNECT_REQUEST, Code.COA_REQUEST}
)

#: Reply codes, each with the request code it answers.
REPLY_TO: dict[int, frozenset[int]] = {
    Code.ACCESS_ACCEPT: frozenset({Code.ACCESS_REQUEST, Code.STATUS_SERVER}),
    Code.ACCESS_REJECT: frozenset({Code.ACCESS_REQUEST, Code.STATUS_SERVER}),
    Code.ACCESS_CHALLENGE: frozenset({Code.ACCESS_REQUEST}),
    Code.ACCOUNTING_RESPONSE: frozenset({Code.ACCOUNTING_REQUEST, Code.STATUS_SERVER}),
    Code.DISCONNECT_ACK: frozenset({Code.DISCONNECT_REQUEST}),
    Code.DISCONNECT_NAK: frozenset({Code.DISCONNECT_REQUEST}),
    Code.COA_ACK: frozenset({Code.COA_REQUEST}),
    Code.COA_NAK: frozenset({Code.COA_REQUEST}),
}

_NAMES: dict[int, str] = {
    Code.ACCESS_REQUEST: "Access-Request",
    Code.ACCESS_ACCEPT: "Access-Accept",
    Code.ACCESS_REJECT: "Access-Reject",
    Code.ACCOUNTING_REQUEST: "Accounting-Request",
    Code.ACCOUNTING_RESPONSE: "Accounting-Response",
    Code.ACCESS_CHALLENGE: "Access-Challenge",
    Code.STATUS_SERVER: "Status-Server",
    Code.STATUS_CLIENT: "Status-Client",
    Code.DISCONNECT_REQUEST: "Disconnect-Request",
    Code.DISCONNECT_ACK: "Disconnect-ACK",
    Code.DISCONNECT_NAK: "Disconnect-NAK",
    Code.COA_REQUEST: "CoA-Request",
    Code.COA_ACK: "CoA-ACK",
    Code.COA_NAK: "CoA-NAK",
}


def code_name(code: int) -> str:
    """The RFC spelling of a packet code, e.g. ``CoA-ACK``; ``Code-99`` when unknown."""
    return _NAMES.get(code, f"Code-{code}")
