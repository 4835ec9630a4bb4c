"""The attributes RADIUS/1.0 hides with the shared secret and MD5, read and written as the
NAS's connection needs: hidden over UDP and classic RadSec, plain over RADIUS/1.1 (RFC 9765
§5.1 of draft-ietf-radext-radiusv11-09: the TLS tunnel protects them, no MD5 is applied).

One place for the choice, so the access and EAP policies answer a RADIUS/1.1 request exactly
as a RADIUS/1.0 one, with only the encoding of these values differing."""

from __future__ import annotations

from radiusd.codec.crypto import hide_user_password, recover_user_password, salt_encrypt
from radiusd.codec.radius11 import clear_password
from radiusd.model.request import NasClient


def user_password(value: bytes, nas: NasClient, authenticator: bytes) -> bytes:
    """The password a User-Password carries (RFC 2865 §5.2; RFC 9765 §5.1.1: plain, 1 to 128
    octets); MalformedPacket when it cannot be one."""
    if nas.radius11:
        return clear_password(value)
    return recover_user_password(value, nas.secret, authenticator)


def mppe_key(key: bytes, nas: NasClient, authenticator: bytes) -> bytes:
    """An MS-MPPE-Send-Key / -Recv-Key value (RFC 2548 §2.4.2-3 salt encryption; RFC 9765
    §5.1.4: the key itself)."""
    return key if nas.radius11 else salt_encrypt(key, nas.secret, authenticator)


def mschap_mppe_keys(keys: bytes, nas: NasClient, authenticator: bytes) -> bytes:
    """An MS-CHAP-MPPE-Keys value (RFC 2548 §2.4.1, hidden as User-Password; RFC 9765 §5.1.4:
    the keys themselves)."""
    return keys if nas.radius11 else hide_user_password(keys, nas.secret, authenticator)
