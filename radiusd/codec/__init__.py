"""The RADIUS codec: bytes <-> Packet, authenticators and attribute hiding. No I/O here."""

from .codes import Code, code_name
from .errors import DictionaryError, MalformedPacket
from .packet import (
    Packet,
    decode,
    encode_reply,
    encode_reply_body,
    encode_request,
)
from .scanning import verify_message_authenticator

__all__ = [
    "Code",
    "DictionaryError",
    "MalformedPacket",
    "Packet",
    "code_name",
    "decode",
    "encode_reply",
    "encode_reply_body",
    "encode_request",
    "verify_message_authenticator",
]
