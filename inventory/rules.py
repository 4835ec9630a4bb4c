"""Inventory rules: what a site, router, sector, device or link may hold, checked before a write.

One set of checks for every writer (``radiusd site/router/sector/device/link add|set``, the admin
API's ``/network`` routes, the importer): the store calls them for each ``add_*`` and ``update_*``
and writes only what they return. Each raises :class:`~radiusd.store.errors.InvalidInput` with a
one-line message; nothing here reads the database (existence and uniqueness are the store's).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from radiusd.store import validate
from radiusd.store.errors import InvalidInput
from radiusd.store.models import (
    DEVICE_KINDS,
    SITE_KINDS,
    SNMP_AUTH_PROTOCOLS,
    SNMP_PRIV_PROTOCOLS,
    SNMP_VERSIONS,
)
from radiusd.store.validate import UNSET, Unset

from .records import LinkEnd, RouterRecord, parse_link_end

SHOWN = 5  # names quoted in a refusal before "and N more"

_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$)({_LABEL}\.)*{_LABEL}$")


def host(value: str | None, what: str) -> str | None:
    """An IP address (canonical text) or a DNS host name; None/blank is None."""
    text = validate.blank_to_none(value)
    if text is None:
        return None
    try:
        return validate.nas_address(text)
    except InvalidInput:
        pass
    if _HOSTNAME.match(text) and not text.replace(".", "").isdigit():
        return text.lower()
    raise InvalidInput(f"{what} {text!r} is neither an IP address nor a host name")


def coordinate(value: float | None, what: str, limit: int) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not -limit <= value <= limit:
        raise InvalidInput(f"{what} must be a number from {-limit} to {limit}, not {value!r}")
    return float(value)


def int_range(value: int | None, what: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{what} must be a whole number from {low} to {high}, not {value!r}")
    return value


def text(value: str | None, what: str, max_length: int) -> str | None:
    text = validate.blank_to_none(value)
    if text is not None and len(text) > max_length:
        raise InvalidInput(f"{what} is longer than {max_length} characters")
    return text


def names(values: Iterable[str]) -> str:
    names = sorted(values)
    shown = ", ".join(names[:SHOWN])
    return shown + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def router_api(
    name: str,
    management_address: str | None,
    api_username: str | None,
    api_password: str | None,
    api_port: int | None,
    api_tls: bool,
    api_ca_file: str | None = None,
    api_fingerprint: str | None = None,
    api_insecure_plain: bool = False,
) -> dict[str, Any]:
    """The non-RADIUS router columns, validated. The router API is API-SSL unless
    ``api_insecure_plain`` (``api_tls`` is then False; asking for both is an error)."""
    user = validate.blank_to_none(api_username)
    password = api_password or None
    ca_path = validate.blank_to_none(api_ca_file)
    fingerprint = validate.blank_to_none(api_fingerprint)
    if (user is None) != (password is None):
        raise InvalidInput(f"router {name!r}: give both the API user and the API password, or neither")
    if user is None and (api_port is not None or api_tls or ca_path or fingerprint or api_insecure_plain):
        raise InvalidInput(f"router {name!r}: an API port or TLS needs an API user and password")
    if api_insecure_plain and (api_tls or ca_path or fingerprint):
        raise InvalidInput(
            f"router {name!r}: the plain API takes no TLS, CA file or fingerprint (it has no TLS)"
        )
    return {
        "management_address": host(management_address, "management address"),
        "api_username": user,
        "api_password": password,
        "api_port": None if api_port is None else validate.port(api_port, "API port"),
        "api_tls": user is not None and not api_insecure_plain,
        "api_ca_file": None if ca_path is None else ca_file(ca_path),
        "api_fingerprint": None if fingerprint is None else sha256_fingerprint(fingerprint),
        "api_insecure_plain": bool(api_insecure_plain),
    }


def sha256_fingerprint(text: str) -> str:
    """A certificate's SHA-256 fingerprint as 64 lower-case hex digits (colons, spaces and a
    ``sha256:`` prefix accepted, as ``openssl x509 -fingerprint -sha256`` and RouterOS print it)."""
    digits = text.strip().lower().removeprefix("sha256:").removeprefix("sha256 fingerprint=")
    digits = digits.replace(":", "").replace(" ", "")
    if len(digits) != 64 or any(c not in "0123456789abcdef" for c in digits):
        raise InvalidInput("API fingerprint: expected a SHA-256 (64 hex digits, colons allowed)")
    return digits


def ca_file(path: str) -> str:
    """An absolute path to a readable file (the daemon reads it at each API connection)."""
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise InvalidInput(f"API CA file {path!r} does not exist or is not a file")
    return str(file)


def snmp(
    name: str,
    version: str,
    community: str | None,
    user: str | None,
    auth_protocol: str | None,
    auth_key: str | None,
    priv_protocol: str | None,
    priv_key: str | None,
) -> dict[str, Any]:
    """SNMP settings, checked for consistency: a community for v1/v2c, a user (USM) for v3."""
    version = validate.choice(version, SNMP_VERSIONS, "SNMP version")
    community = community or None
    user = validate.blank_to_none(user)
    auth_protocol = (
        None
        if auth_protocol is None
        else validate.choice(auth_protocol.lower(), SNMP_AUTH_PROTOCOLS, "SNMPv3 auth protocol")
    )
    priv_protocol = (
        None
        if priv_protocol is None
        else validate.choice(priv_protocol.lower(), SNMP_PRIV_PROTOCOLS, "SNMPv3 privacy protocol")
    )
    auth_key, priv_key = auth_key or None, priv_key or None
    v3_given = any(v is not None for v in (user, auth_protocol, auth_key, priv_protocol, priv_key))
    if version != "v3":
        if v3_given:
            raise InvalidInput(f"device {name!r}: SNMPv3 credentials given for SNMP {version}")
    else:
        if community is not None:
            raise InvalidInput(f"device {name!r}: SNMPv3 uses a user, not a community")
        if user is None:
            raise InvalidInput(f"device {name!r}: SNMPv3 needs a user")
        if (auth_protocol is None) != (auth_key is None):
            raise InvalidInput(f"device {name!r}: give both the SNMPv3 auth protocol and key, or neither")
        if (priv_protocol is None) != (priv_key is None):
            raise InvalidInput(f"device {name!r}: give both the SNMPv3 privacy protocol and key, or neither")
        if priv_key is not None and auth_key is None:
            raise InvalidInput(f"device {name!r}: SNMPv3 privacy needs authentication too")
        for what, key in (("auth", auth_key), ("privacy", priv_key)):
            if key is not None and len(key) < 8:
                raise InvalidInput(f"device {name!r}: the SNMPv3 {what} key must be at least 8 characters")
    return {
        "snmp_version": version,
        "snmp_community": community,
        "snmp_user": user,
        "snmp_auth_protocol": auth_protocol,
        "snmp_auth_key": auth_key,
        "snmp_priv_protocol": priv_protocol,
        "snmp_priv_key": priv_key,
    }


def link_end(value: LinkEnd | str) -> LinkEnd:
    end = parse_link_end(value) if isinstance(value, str) else value
    if not isinstance(end, LinkEnd):
        raise InvalidInput(f"a link end must be NAME[:PORT], not {value!r}")
    if end.kind not in (None, "router", "device"):
        raise InvalidInput(f"a link end is a router or a device, not {end.kind!r}")
    port = None if end.port is None else validate.name(end.port, "port name", 64)
    return LinkEnd(name=validate.name(end.name, "link end name"), port=port, kind=end.kind)


def site_fields(
    name: str,
    kind: str,
    address: str | None,
    latitude: float | None,
    longitude: float | None,
    description: str | None,
) -> dict[str, Any]:
    """A site's columns, checked: a known kind, coordinates on the globe, both or neither."""
    values = {
        "kind": validate.choice(kind, SITE_KINDS, "site kind"),
        "address": validate.blank_to_none(address),
        "latitude": coordinate(latitude, "latitude", 90),
        "longitude": coordinate(longitude, "longitude", 180),
        "description": validate.blank_to_none(description),
    }
    if (values["latitude"] is None) != (values["longitude"] is None):
        raise InvalidInput(f"site {name!r}: give both latitude and longitude, or neither")
    return values


def sector_fields(
    frequency_mhz: int | None,
    azimuth_deg: int | None,
    beamwidth_deg: int | None,
    ssid: str | None,
    description: str | None,
) -> dict[str, Any]:
    """A sector's columns, checked: radio figures in range, an SSID of at most 32 bytes."""
    values = {
        "frequency_mhz": int_range(frequency_mhz, "frequency (MHz)", 1, 1_000_000),
        "azimuth_deg": int_range(azimuth_deg, "azimuth (degrees)", 0, 359),
        "beamwidth_deg": int_range(beamwidth_deg, "beamwidth (degrees)", 1, 360),
        "ssid": validate.blank_to_none(ssid),
        "description": validate.blank_to_none(description),
    }
    if values["ssid"] is not None and len(str(values["ssid"]).encode()) > 32:
        raise InvalidInput(f"SSID {values['ssid']!r} is longer than 32 bytes")
    return values


def device_kind(kind: str) -> str:
    return validate.choice(kind, DEVICE_KINDS, "device kind")


def router_api_update(
    current: RouterRecord,
    *,
    management_address: str | Unset | None = UNSET,
    api_username: str | Unset | None = UNSET,
    api_password: str | Unset | None = UNSET,
    api_port: int | Unset | None = UNSET,
    api_tls: bool | Unset = UNSET,
    api_ca_file: str | Unset | None = UNSET,
    api_fingerprint: str | Unset | None = UNSET,
    api_insecure_plain: bool | Unset = UNSET,
) -> dict[str, Any]:
    """The router-API columns of ``current`` after a change (UNSET: kept, None: cleared),
    checked by :func:`router_api`. ``api_tls`` True or a CA file or fingerprint turns the plain
    API off; ``api_insecure_plain`` True turns TLS and its checks off; clearing the credentials
    clears the rest of the API access."""
    user = current.api_username if isinstance(api_username, Unset) else api_username
    password = current.api_password if isinstance(api_password, Unset) else api_password
    port = current.api_port if isinstance(api_port, Unset) else api_port
    ca = current.api_ca_file if isinstance(api_ca_file, Unset) else api_ca_file
    pin = current.api_fingerprint if isinstance(api_fingerprint, Unset) else api_fingerprint
    tls_asked = api_tls is True or bool(
        (not isinstance(api_ca_file, Unset) and api_ca_file)
        or (not isinstance(api_fingerprint, Unset) and api_fingerprint)
    )
    plain = current.api_insecure_plain and not tls_asked
    if api_insecure_plain is True:
        plain = True
        ca = None if isinstance(api_ca_file, Unset) else ca  # its TLS settings go with TLS
        pin = None if isinstance(api_fingerprint, Unset) else pin
    elif api_insecure_plain is False:
        plain = False
    if not user and not password:  # credentials cleared: so is the rest of the API access
        port, tls_asked, ca, pin, plain = None, False, None, None, False
    management = current.management_address if isinstance(management_address, Unset) else management_address
    return router_api(current.name, management, user, password, port, tls_asked and plain, ca, pin, plain)
