"""Values of FreeRADIUS rows as our tables hold them (addresses, dates, password hashes), the
items of one owner (reply with its operators, control items) and the row helpers of
:mod:`.translate`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from radiusd.model.credentials import parse_credential
from radiusd.store.errors import InvalidInput
from radiusd.store.validate import nas_client_address

from .fit import shown

Row = Mapping[str, Any]

PASSWORD_ATTRIBUTES = {
    "cleartext-password",
    "user-password",
    "nt-password",
    "crypt-password",
    "sha-password",
    "ssha-password",
    "md5-password",
    "smd5-password",
    "sha1-password",
    "ssha1-password",
    "sha2-password",
    "ssha2-256-password",
    "ssha2-512-password",
    "sha2-256-password",
    "sha2-512-password",
    "password-with-header",
}
#: the credential of a user FreeRADIUS rejects (Auth-Type := Reject) and who has no password: a
#: SHA-1 digest of all zeros, which no password has (a preimage of it is not known); text that
#: every database stores (a NUL byte, which would do as well, PostgreSQL refuses)
NEVER_MATCHES = "{SHA}" + base64.b64encode(bytes(20)).decode()
SET_OPS = (":=", "=", "==")  # "==" on a password/control item is the old rlm_sql habit
REPLY_OPS = ("=", ":=", "+=")
PLAN_COLUMNS = {
    "mikrotik-rate-limit": "rate_limit",
    "session-timeout": "session_timeout",
    "acct-interim-interval": "interim_interval",
}
NAS_TYPES = {"mikrotik": "mikrotik", "cisco": "cisco", "ubiquiti": "ubiquiti", "ubnt": "ubiquiti"}
#: require_message_authenticator / require_ma values; "auto" (require it once a client sent
#: it) has no equivalent here: required, the safe side (BlastRADIUS, CVE-2024-3596)
REQUIRE_MA = {"yes": True, "true": True, "1": True, "auto": True, "no": False, "false": False, "0": False}
_XLAT = re.compile(r"%\{|%[a-zA-Z]")
_HEX = re.compile(r"(0x)?[0-9a-fA-F]+")
EXPIRATION_FORMATS = (
    "%b %d %Y %H:%M:%S",
    "%b %d %Y %H:%M",
    "%b %d %Y",
    "%d %b %Y %H:%M:%S",
    "%d %b %Y",
    "%B %d %Y %H:%M:%S",
    "%B %d %Y",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d",
)

# -- values -------------------------------------------------------------------------------


def _s(value: Any) -> str:
    return "" if value is None else str(value).strip()


def unquote(value: str) -> str:
    """``"text"`` or ``'text'`` -> ``text`` (values typed by hand into SQL sometimes keep them)."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def address_text(value: Any) -> str | None:
    """An address column (text, or an inet value from asyncpg) as plain address text."""
    text = _s(value)
    if not text:
        return None
    if text.endswith("/32") or text.endswith("/128"):
        text = text.rsplit("/", 1)[0]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return str(addr)


def subnet_text(value: Any) -> str | None:
    """A NAS subnet (``10.0.0.0/24``, as clients.conf allows) as canonical text, else None."""
    try:
        return nas_client_address(_s(value)) if "/" in _s(value) else None
    except InvalidInput:
        return None


def prefix_text(value: Any) -> str | None:
    text = _s(value)
    if not text:
        return None
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        return None


def aware(value: Any) -> dt.datetime | None:
    """A source timestamp as aware UTC (naive values are taken as UTC, which is what SQLite's
    ``datetime('now')`` and a PostgreSQL server in UTC store)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    try:
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    except OverflowError:  # year 1 or 9999 moved across midnight by its offset
        return None


def parse_expiration(text: str) -> dt.datetime:
    """FreeRADIUS ``Expiration`` ("Jan 01 2030 12:00:00", "01 Jan 2030", ISO dates) as UTC."""
    cleaned = " ".join(unquote(text).replace(",", " ").split())
    for fmt in EXPIRATION_FORMATS:
        try:
            return dt.datetime.strptime(cleaned, fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    if cleaned.isdigit():
        try:
            return dt.datetime.fromtimestamp(int(cleaned), dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"Expiration {shown(cleaned)} is out of range") from None
    raise ValueError(f"unreadable Expiration {shown(text)!r}")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _digest_text(value: str) -> bytes:
    """A FreeRADIUS hash value: hex (optionally 0x) or base64, as raw bytes."""
    text = value.strip()
    if _HEX.fullmatch(text) and len(text.removeprefix("0x")) % 2 == 0:
        return bytes.fromhex(text.removeprefix("0x"))
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("neither hex nor base64") from None


def credential_of(attribute: str, value: str) -> str:
    """The storage string (radiusd.policy.credentials) of a FreeRADIUS password item;
    ValueError naming the format (never the secret) when we cannot verify it."""
    name = attribute.lower()
    value = unquote(value)
    if "\x00" in value:
        raise ValueError("contains a NUL byte")
    if name in ("cleartext-password", "user-password"):
        if not value:
            raise ValueError("empty password")
        stored = "cleartext:" + value
    elif name == "nt-password":
        stored = "nt:" + value.strip().removeprefix("0x").lower()
    elif name == "crypt-password":
        stored = value.strip()
        if not stored.startswith(("$1$", "$5$", "$6$", "$2a$", "$2b$", "$2y$")):
            raise ValueError("only MD5, SHA-256, SHA-512 crypt and bcrypt ($1$, $5$, $6$, $2b$) are verified")
    elif name == "password-with-header":
        stored = value.strip()
        if stored.lower().startswith("{clear}") or stored.lower().startswith("{cleartext}"):
            stored = "cleartext:" + stored.split("}", 1)[1]
    else:
        raw = _digest_text(value)
        scheme = {
            "sha-password": "SHA",
            "sha1-password": "SHA",
            "ssha-password": "SSHA",
            "ssha1-password": "SSHA",
            "md5-password": "MD5",
            "smd5-password": "SMD5",
            "ssha2-256-password": "SSHA256",
            "ssha2-512-password": "SSHA512",
            "sha2-256-password": "SHA256",
            "sha2-512-password": "SHA512",
        }.get(name)
        if name == "sha2-password":
            scheme = {32: "SHA256", 64: "SHA512"}.get(len(raw))
            if scheme is None:
                raise ValueError(f"SHA2-Password of {len(raw)} octets (SHA-224/384 are not supported)")
        assert scheme is not None
        stored = "{" + scheme + "}" + _b64(raw)
    parse_credential(stored)  # ValueError names the format
    return stored


# -- items of one owner -------------------------------------------------------------------


@dataclass(slots=True)
class _Reply:
    """A reply list with FreeRADIUS operators applied (names kept in the spelling first seen)."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def apply(self, name: str, op: str, value: str) -> None:
        key = name.lower()
        if op == "+=":
            self.items.append((name, value))
        elif op == ":=":
            self.items = [(n, v) for n, v in self.items if n.lower() != key] + [(name, value)]
        elif not any(n.lower() == key for n, _ in self.items):
            self.items.append((name, value))

    def get(self, name: str) -> str | None:
        for n, v in self.items:
            if n.lower() == name.lower():
                return v
        return None

    def without(self, *names: str) -> list[tuple[str, str]]:
        drop = {n.lower() for n in names}
        return [(n, v) for n, v in self.items if n.lower() not in drop]


@dataclass(slots=True)
class _Controls:
    credential: str | None = None
    reject: bool = False
    simultaneous_use: int | None = None
    expires_at: dt.datetime | None = None
    pool: str | None = None


def _number(value: Any, label: str) -> int | None:
    """A counter column (None when empty); ValueError naming it when it is not a number."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{label} {shown(str(value))!r} is not a number") from None


def _rid(row: Row, key: str = "id") -> tuple[int, int, str]:
    """Sort key of a row id: numbers in order, then text ids (``users:12``) by file and line."""
    value = row.get(key)
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return 0, int(value), ""
    text = str(value or "")
    name, _, line = text.rpartition(":")
    return (1, int(line), name) if line.isdigit() else (2, 0, text)


def _class_values(value: Any) -> list[bytes]:
    """The Class column: FreeRADIUS prints octets as 0x<hex>."""
    if value is None:
        return []
    if isinstance(value, bytes | bytearray | memoryview):
        return [bytes(value)] if value else []
    text = str(value)
    if not text:
        return []
    if text.startswith("0x") and _HEX.fullmatch(text) and len(text) % 2 == 0:
        return [bytes.fromhex(text[2:])]
    return [text.encode()]


def _counts(items: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = defaultdict(int)
    for n, v in items:
        out[(n.lower(), v)] += 1
    return dict(out)
