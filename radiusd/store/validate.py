"""Input checks shared by the CRUD functions: each returns the normalised value or raises InvalidInput."""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final, TypeVar

from radiusd.codec.attr_encoding import encode_value
from radiusd.codec.dictionary import default_dictionary

from .errors import InvalidInput
from .models import SUBSCRIBER_STATUSES, VENDORS

if TYPE_CHECKING:
    from typing_extensions import TypeIs  # a dependency of pydantic and SQLAlchemy; typing has it from 3.13

T = TypeVar("T")


class Unset(enum.Enum):
    UNSET = "UNSET"


UNSET: Final = Unset.UNSET
"""Default of the ``update_*`` arguments: leave the field as it is (None clears it)."""


def given(value: T | Unset) -> TypeIs[T]:
    """True when an ``update_*`` argument was passed (is not :data:`UNSET`)."""
    return not isinstance(value, Unset)


def blank_to_none(value: str | None) -> str | None:
    """Stripped text, or None for None/blank (an empty CSV cell or flag means "not set")."""
    if value is None:
        return None
    return value.strip() or None


def name(value: str, what: str, max_length: int = 128) -> str:
    """A non-empty name without surrounding blanks or control characters."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidInput(f"{what} must not be empty")
    if len(text) > max_length:
        raise InvalidInput(f"{what} {text[:40]!r}... is longer than {max_length} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidInput(f"{what} {text!r} contains control characters")
    return text


def nas_address(value: str) -> str:
    """Canonical text of an IPv4/IPv6 address; IPv4-mapped IPv6 becomes IPv4.

    The daemon looks NAS up by the packet's source address, so both sides must use this form
    (a dual-stack socket reports an IPv4 NAS as ``::ffff:a.b.c.d``).
    """
    try:
        addr = ipaddress.ip_address(value.strip())
    except (ValueError, AttributeError):
        raise InvalidInput(f"malformed IP address {value!r}") from None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return str(addr)


def nas_client_address(value: str) -> str:
    """A NAS's source: one address (as :func:`nas_address`) or a subnet in CIDR notation
    (``10.0.0.0/24``, as clients.conf allows for a cluster of BNGs); a /32 or /128 is the
    address itself. Host bits set (``10.0.0.1/24``) are refused."""
    text = value.strip() if isinstance(value, str) else value
    if not isinstance(text, str) or "/" not in text:
        return nas_address(value)
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise InvalidInput(f"malformed NAS subnet {value!r}: {exc}") from None
    if net.num_addresses == 1:
        return nas_address(str(net.network_address))
    return str(net)


def ipv4_address(value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value.strip()))
    except (ValueError, AttributeError):
        raise InvalidInput(f"malformed IPv4 address {value!r}") from None


def choice(value: str, allowed: Iterable[str], what: str) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise InvalidInput(f"{what} {value!r} is not one of {', '.join(allowed)}")
    return value


def vendor(value: str) -> str:
    return choice(value, VENDORS, "vendor")


def status(value: str) -> str:
    return choice(value, SUBSCRIBER_STATUSES, "status")


def positive_int(value: int | None, what: str, maximum: int = 2**31 - 1) -> int | None:
    """None stays None; otherwise an int in 1..maximum (bool is refused: True is not a count)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InvalidInput(f"{what} must be a whole number from 1 to {maximum}, not {value!r}")
    return value


def port(value: int, what: str) -> int:
    checked = positive_int(value, what, 65535)
    assert checked is not None
    return checked


def reply_attributes(pairs: Iterable[object]) -> list[list[str]]:
    """``[(name, value), ...]`` as JSON-ready ``[[name, value], ...]`` of non-empty strings."""
    out: list[list[str]] = []
    for pair in pairs:
        if isinstance(pair, str) or not isinstance(pair, tuple | list) or len(pair) != 2:
            raise InvalidInput(f"reply attribute {pair!r} is not an (attribute, value) pair")
        attr, val = pair
        if not isinstance(attr, str) or not attr.strip() or not isinstance(val, str | int):
            raise InvalidInput(f"reply attribute {pair!r} is not an (attribute, value) pair")
        out.append([attr.strip(), str(val)])
    return out


def known_reply_attributes(pairs: Iterable[object]) -> list[list[str]]:
    """:func:`reply_attributes`, each also checked against the shipped RADIUS dictionary: the
    attribute must exist and its value must encode for the attribute's type (a number or VALUE
    name for integers, an address for ipaddr, ...). The name is stored as the dictionary spells it.
    """
    dictionary = default_dictionary()
    out: list[list[str]] = []
    for attr, val in reply_attributes(pairs):
        try:
            definition = dictionary.attribute(attr)
        except KeyError:
            raise InvalidInput(f"reply attribute {attr!r} is not in the RADIUS dictionary") from None
        try:
            encode_value(definition, val, 0, dictionary)
        except (ValueError, TypeError, OverflowError) as exc:
            detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
            if definition.type == "octets":
                detail = "octets are written in hex, e.g. 0x676f6c64"
            raise InvalidInput(
                f"reply attribute {definition.name}: {val!r} is not a valid "
                f"{definition.type} value ({detail})"
            ) from None
        out.append([definition.name, val])
    return out


def certificate_fingerprint(value: str, what: str = "RadSec fingerprint") -> str:
    """A certificate's SHA-256 fingerprint as 64 lower-case hex digits (colons, spaces and a
    ``sha256:`` prefix accepted, as ``openssl x509 -fingerprint -sha256`` and RouterOS print it)."""
    digits = value.strip().lower().removeprefix("sha256:").removeprefix("sha256 fingerprint=")
    digits = digits.replace(":", "").replace(" ", "")
    if len(digits) != 64 or any(c not in "0123456789abcdef" for c in digits):
        raise InvalidInput(f"{what}: expected a SHA-256 (64 hex digits, colons allowed)")
    return digits


def certificate_subject(value: str, what: str = "RadSec subject") -> str:
    """A certificate subject to match: ``CN=pop1.example.net,O=ISP`` (RFC 4514; the order of
    the parts does not matter, nor does ``/CN=.../O=...`` as OpenSSL prints it), or a bare name
    that matches the certificate's CN or a DNS subjectAltName."""
    text = value.strip()
    if not text or len(text) > 512 or any(ord(c) < 32 for c in text):
        raise InvalidInput(f"{what}: expected a subject such as CN=pop1.example.net,O=ISP, or a name")
    if "=" in text:
        for part in text.strip("/").replace("/", ",").split(","):
            key, sep, val = part.partition("=")
            if not sep or not key.strip() or not val.strip():
                raise InvalidInput(f"{what}: {part.strip()!r} is not TYPE=value (e.g. CN=pop1)")
    return text
