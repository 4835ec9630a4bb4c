"""Network inventory: sites, routers (= the NAS list), sectors, managed devices and links.

Routers are the daemon's NAS clients: one row in ``routers``, written through
:mod:`radiusd.store.nas` for the RADIUS fields, with the site, management address and router-API
credentials added here. ``nas list`` and ``router list`` show the same rows.

Every function takes an ``AsyncEngine`` first; names identify records (links by id). Errors are
:class:`~radiusd.store.errors.NotFound`, :class:`~radiusd.store.errors.Conflict` (duplicates,
references left behind) and :class:`~radiusd.store.errors.InvalidInput`, each with a one-line
message; nothing is written when one is raised. Records are frozen dataclasses; ``to_json()``
never contains a secret (RADIUS secret, router-API password, SNMP community, SNMPv3 keys), only
``*_set`` booleans saying whether one is stored.

Sites::

    add_site(engine, name, *, kind="pop", address=None, latitude=None, longitude=None,
             description=None) -> SiteRecord
    list_sites(engine) -> list[SiteRecord]
    get_site(engine, name) -> SiteRecord
    remove_site(engine, name) -> None          # Conflict while routers, devices or pools are there

Routers::

    add_router(engine, name, address, secret, *, site=None, vendor="generic",
               require_message_authenticator=True, coa_port=3799, description=None,
               management_address=None, api_username=None, api_password=None, api_port=None,
               api_tls=False, api_ca_file=None, api_fingerprint=None,
               api_insecure_plain=False) -> RouterRecord   # API-SSL unless api_insecure_plain
    list_routers(engine, *, site=None) -> list[RouterRecord]
    get_router(engine, name) -> RouterRecord
    update_router(engine, name, *, site=UNSET, management_address=UNSET, api_username=UNSET,
                  api_password=UNSET, api_port=UNSET, api_tls=UNSET, api_ca_file=UNSET,
                  api_fingerprint=UNSET, api_insecure_plain=UNSET) -> RouterRecord
                                               # None clears a field, UNSET leaves it
    remove_router(engine, name) -> None        # Conflict while pools, open sessions or links
                                               # refer to it; its sectors go with it

Sectors (a router's wireless sectors, named per router)::

    add_sector(engine, router, name, *, frequency_mhz=None, azimuth_deg=None,
               beamwidth_deg=None, ssid=None, description=None) -> SectorRecord
    list_sectors(engine, *, router=None) -> list[SectorRecord]
    get_sector(engine, router, name) -> SectorRecord
    remove_sector(engine, router, name) -> None

Managed devices (SNMP)::

    add_device(engine, name, *, kind="other", site=None, address=None, snmp_version="v2c",
               snmp_port=161, snmp_community=None, snmp_user=None, snmp_auth_protocol=None,
               snmp_auth_key=None, snmp_priv_protocol=None, snmp_priv_key=None,
               description=None) -> DeviceRecord
    list_devices(engine, *, site=None) -> list[DeviceRecord]
    get_device(engine, name) -> DeviceRecord
    remove_device(engine, name) -> None        # Conflict while links refer to it

Links (cable, fibre, radio) between two routers/devices::

    add_link(engine, from_end, to_end, *, medium, capacity_mbps=None,
             description=None) -> LinkRecord  # ends: LinkEnd or "[router:|device:]NAME[:PORT]"
    list_links(engine, *, node=None) -> list[LinkRecord]   # node: links touching that name
    get_link(engine, link_id) -> LinkRecord
    remove_link(engine, link_id) -> None
    parse_link_end(text) -> LinkEnd

A link end name is looked up among routers and devices; a name that is both is refused as
ambiguous unless prefixed ``router:`` or ``device:``. A named port carries at most one link.
Writes to routers append topic ``nas`` to the change feed (the daemon reloads its NAS list);
the other writes append topic ``inventory``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final, Literal

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import aliased

from . import validate
from .changes import TOPIC_NAS, record_change
from .engine import begin_write
from .errors import Conflict, InvalidInput, NotFound
from .models import (
    DEVICE_KINDS,
    LINK_MEDIA,
    SITE_KINDS,
    SNMP_AUTH_PROTOCOLS,
    SNMP_PRIV_PROTOCOLS,
    SNMP_VERSIONS,
    DeviceConnection,
    IPPool,
    ManagedDevice,
    NetworkSite,
    RadiusSession,
    Router,
    RouterSector,
    utcnow,
)
from .nas import add_nas
from .prefixes import release_holdings  # what the object held in the prefix tree
from .records import _SECRET, NasRecord, _Record
from .snapshot import NAS_SELECT

__all__ = [
    "UNSET",
    "DeviceRecord",
    "LinkEnd",
    "LinkRecord",
    "RouterRecord",
    "SectorRecord",
    "SiteRecord",
    "add_device",
    "add_link",
    "add_router",
    "add_sector",
    "add_site",
    "get_device",
    "get_link",
    "get_router",
    "get_sector",
    "get_site",
    "list_devices",
    "list_links",
    "list_routers",
    "list_sectors",
    "list_sites",
    "parse_link_end",
    "remove_device",
    "remove_link",
    "remove_nas",
    "remove_router",
    "remove_sector",
    "remove_site",
    "update_router",
]

TOPIC_INVENTORY = "inventory"
NodeKind = Literal["router", "device"]
_SHOWN = 5  # names quoted in a refusal before "and N more"


_Unset = validate.Unset
UNSET: Final = validate.UNSET
"""Default of the ``update_*`` arguments: leave the field as it is."""


# -- records ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SiteRecord(_Record):
    """A POP, tower, data centre or customer site."""

    id: int
    name: str
    kind: str
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    description: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @classmethod
    def from_row(cls, row: RowMapping) -> SiteRecord:
        return cls(**{f: row[f] for f in _SITE_FIELDS})


_SITE_FIELDS = (
    "id", "name", "kind", "address", "latitude", "longitude", "description", "created_at", "updated_at",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class RouterRecord(NasRecord):
    """A router: a NAS (every field of :class:`NasRecord`) plus its site's name."""

    site: str | None = None

    @classmethod
    def from_nas(cls, nas: NasRecord, site: str | None) -> RouterRecord:
        """``nas`` (every one of its fields is a field here) placed at ``site``."""
        return cls(site=site, **{f.name: getattr(nas, f.name) for f in fields(NasRecord)})

    def to_json(self) -> dict[str, Any]:
        data = _Record.to_json(self)
        data["api_password_set"] = bool(self.api_password)
        return data


@dataclass(frozen=True, slots=True)
class SectorRecord(_Record):
    """A wireless sector of a router."""

    id: int
    router: str
    router_id: int
    name: str
    frequency_mhz: int | None = None
    azimuth_deg: int | None = None
    beamwidth_deg: int | None = None
    ssid: str | None = None
    description: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @classmethod
    def from_row(cls, row: RowMapping) -> SectorRecord:
        return cls(router=row["router_name"], **{f: row[f] for f in _SECTOR_FIELDS})


_SECTOR_FIELDS = (
    "id", "router_id", "name", "frequency_mhz", "azimuth_deg", "beamwidth_deg", "ssid", "description",
    "created_at", "updated_at",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DeviceRecord(_Record):
    """An SNMP-managed device; community and v3 keys are secret."""

    id: int
    name: str
    kind: str
    site: str | None = None
    site_id: int | None = None
    address: str | None = None
    snmp_version: str = "v2c"
    snmp_port: int = 161
    snmp_community: str | None = field(default=None, repr=False, metadata=_SECRET)
    snmp_user: str | None = None
    snmp_auth_protocol: str | None = None
    snmp_auth_key: str | None = field(default=None, repr=False, metadata=_SECRET)
    snmp_priv_protocol: str | None = None
    snmp_priv_key: str | None = field(default=None, repr=False, metadata=_SECRET)
    description: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @classmethod
    def from_row(cls, row: RowMapping) -> DeviceRecord:
        return cls(site=row["site_name"], **{f: row[f] for f in _DEVICE_FIELDS})

    def to_json(self) -> dict[str, Any]:
        data = _Record.to_json(self)
        data["snmp_community_set"] = bool(self.snmp_community)
        data["snmp_auth_key_set"] = bool(self.snmp_auth_key)
        data["snmp_priv_key_set"] = bool(self.snmp_priv_key)
        return data


_DEVICE_FIELDS = (
    "id", "name", "kind", "site_id", "address", "snmp_version", "snmp_port", "snmp_community",
    "snmp_user", "snmp_auth_protocol", "snmp_auth_key", "snmp_priv_protocol", "snmp_priv_key",
    "description", "created_at", "updated_at",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class LinkRecord(_Record):
    """A link; each end is a router or a device (``*_kind``), by name, with an optional port."""

    id: int
    from_kind: str
    from_name: str
    from_port: str | None
    to_kind: str
    to_name: str
    to_port: str | None
    medium: str
    capacity_mbps: int | None = None
    description: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class LinkEnd:
    """One end of a link as given by a caller: a name, optionally its kind, optionally a port."""

    name: str
    port: str | None = None
    kind: NodeKind | None = None

    def __str__(self) -> str:
        text = f"{self.kind}:{self.name}" if self.kind else self.name
        return f"{text}:{self.port}" if self.port else text


def parse_link_end(text: str) -> LinkEnd:
    """``[router:|device:]NAME[:PORT]`` as a :class:`LinkEnd` (the port may itself contain ':')."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("a link end must be NAME or NAME:PORT, not empty")
    kind: NodeKind | None = None
    rest = text.strip()
    for prefix in ("router", "device"):
        if rest.startswith(prefix + ":"):
            kind = "router" if prefix == "router" else "device"
            rest = rest[len(prefix) + 1 :]
            break
    name, sep, port = rest.partition(":")
    if not name:
        raise InvalidInput(f"link end {text!r} has no name")
    if sep and not port:
        raise InvalidInput(f"link end {text!r} has an empty port")
    return LinkEnd(name=name, port=port or None, kind=kind)


# -- validation -------------------------------------------------------------------------------

_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$)({_LABEL}\.)*{_LABEL}$")


def _host(value: str | None, what: str) -> str | None:
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


def _coordinate(value: float | None, what: str, limit: int) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not -limit <= value <= limit:
        raise InvalidInput(f"{what} must be a number from {-limit} to {limit}, not {value!r}")
    return float(value)


def _int_range(value: int | None, what: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{what} must be a whole number from {low} to {high}, not {value!r}")
    return value


def _text(value: str | None, what: str, max_length: int) -> str | None:
    text = validate.blank_to_none(value)
    if text is not None and len(text) > max_length:
        raise InvalidInput(f"{what} is longer than {max_length} characters")
    return text


def _names(values: Iterable[str]) -> str:
    names = sorted(values)
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


# -- sites ------------------------------------------------------------------------------------

_SITE_SELECT = sa.select(NetworkSite.__table__).order_by(NetworkSite.name)


async def _site(conn: AsyncConnection, name: str) -> SiteRecord:
    row = (await conn.execute(_SITE_SELECT.where(NetworkSite.name == name))).mappings().first()
    if row is None:
        raise NotFound(f"site {name!r} does not exist")
    return SiteRecord.from_row(row)


async def add_site(
    engine: AsyncEngine,
    name: str,
    *,
    kind: str = "pop",
    address: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    description: str | None = None,
) -> SiteRecord:
    """Create a site; Conflict when the name is taken."""
    name = validate.name(name, "site name")
    kind = validate.choice(kind, SITE_KINDS, "site kind")
    latitude = _coordinate(latitude, "latitude", 90)
    longitude = _coordinate(longitude, "longitude", 180)
    if (latitude is None) != (longitude is None):
        raise InvalidInput(f"site {name!r}: give both latitude and longitude, or neither")
    now = utcnow()
    try:
        async with begin_write(engine) as conn:
            if await conn.scalar(sa.select(NetworkSite.id).where(NetworkSite.name == name)) is not None:
                raise Conflict(f"site {name!r} already exists")
            await conn.execute(
                sa.insert(NetworkSite).values(
                    name=name,
                    kind=kind,
                    address=validate.blank_to_none(address),
                    latitude=latitude,
                    longitude=longitude,
                    description=validate.blank_to_none(description),
                    created_at=now,
                    updated_at=now,
                )
            )
            await record_change(conn, TOPIC_INVENTORY, f"site:{name}")
            return await _site(conn, name)
    except IntegrityError:
        raise Conflict(f"site {name!r} already exists") from None


async def list_sites(engine: AsyncEngine) -> list[SiteRecord]:
    """Every site, by name."""
    async with engine.connect() as conn:
        return [SiteRecord.from_row(r) for r in (await conn.execute(_SITE_SELECT)).mappings()]


async def get_site(engine: AsyncEngine, name: str) -> SiteRecord:
    async with engine.connect() as conn:
        return await _site(conn, name)


async def remove_site(engine: AsyncEngine, name: str) -> None:
    """Remove a site; Conflict naming the routers, devices and pools still placed there."""
    try:
        async with begin_write(engine) as conn:
            site = await _site(conn, name)
            left = []
            for what, column, where in (
                ("router(s)", Router.name, Router.site_id),
                ("device(s)", ManagedDevice.name, ManagedDevice.site_id),
                ("pool(s)", IPPool.name, IPPool.site_id),
            ):
                names = list((await conn.execute(sa.select(column).where(where == site.id))).scalars())
                if what == "pool(s)":  # the operator's pools, not their IPv6 rows (NAME:wan, NAME:pd)
                    names = list(dict.fromkeys(n.split(":", 1)[0] for n in names))
                if names:
                    left.append(f"{what} {_names(names)}")
            if left:
                raise Conflict(f"site {name!r} still has {'; '.join(left)}")
            await release_holdings(conn, "site", site.id)
            await conn.execute(sa.delete(NetworkSite).where(NetworkSite.id == site.id))
            await record_change(conn, TOPIC_INVENTORY, f"site:{name}")
    except IntegrityError:
        raise Conflict(f"site {name!r} is still referenced") from None


async def _site_id(conn: AsyncConnection, name: str | None) -> int | None:
    if name is None:
        return None
    site_id = await conn.scalar(sa.select(NetworkSite.id).where(NetworkSite.name == name))
    if site_id is None:
        raise NotFound(f"site {name!r} does not exist")
    return int(site_id)


# -- routers ----------------------------------------------------------------------------------

_ROUTER_SELECT = NAS_SELECT.add_columns(NetworkSite.name.label("site_name")).join_from(
    Router, NetworkSite, Router.site_id == NetworkSite.id, isouter=True
)


def _router_from_row(row: RowMapping) -> RouterRecord:
    return RouterRecord.from_nas(NasRecord.from_row(row), row["site_name"])


async def _router(conn: AsyncConnection, name: str) -> RouterRecord:
    row = (await conn.execute(_ROUTER_SELECT.where(Router.name == name))).mappings().first()
    if row is None:
        raise NotFound(f"router {name!r} does not exist")
    return _router_from_row(row)


def _router_extras(
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
    ca_file = validate.blank_to_none(api_ca_file)
    fingerprint = validate.blank_to_none(api_fingerprint)
    if (user is None) != (password is None):
        raise InvalidInput(f"router {name!r}: give both the API user and the API password, or neither")
    if user is None and (api_port is not None or api_tls or ca_file or fingerprint or api_insecure_plain):
        raise InvalidInput(f"router {name!r}: an API port or TLS needs an API user and password")
    if api_insecure_plain and (api_tls or ca_file or fingerprint):
        raise InvalidInput(
            f"router {name!r}: the plain API takes no TLS, CA file or fingerprint (it has no TLS)"
        )
    return {
        "management_address": _host(management_address, "management address"),
        "api_username": user,
        "api_password": password,
        "api_port": None if api_port is None else validate.port(api_port, "API port"),
        "api_tls": user is not None and not api_insecure_plain,
        "api_ca_file": None if ca_file is None else _ca_file(ca_file),
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


def _ca_file(path: str) -> str:
    """An absolute path to a readable file (the daemon reads it at each API connection)."""
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise InvalidInput(f"API CA file {path!r} does not exist or is not a file")
    return str(file)


async def add_router(
    engine: AsyncEngine,
    name: str,
    address: str,
    secret: str,
    *,
    site: str | None = None,
    vendor: str = "generic",
    require_message_authenticator: bool = True,
    coa_port: int = 3799,
    description: str | None = None,
    management_address: str | None = None,
    api_username: str | None = None,
    api_password: str | None = None,
    api_port: int | None = None,
    api_tls: bool = False,
    api_ca_file: str | None = None,
    api_fingerprint: str | None = None,
    api_insecure_plain: bool = False,
) -> RouterRecord:
    """Create a router: the NAS row of :func:`radiusd.store.nas.add_nas` plus site and API fields.

    Everything is checked before the NAS row is written; should the site vanish between that
    check and the second statement, the new row is removed again and NotFound raised.
    """
    site = validate.blank_to_none(site)
    extras = _router_extras(
        name, management_address, api_username, api_password, api_port, api_tls,
        api_ca_file, api_fingerprint, api_insecure_plain,
    )  # fmt: skip
    async with engine.connect() as conn:
        await _site_id(conn, site)
    nas = await add_nas(
        engine,
        name,
        address,
        secret,
        vendor=vendor,
        require_message_authenticator=require_message_authenticator,
        coa_port=coa_port,
        description=validate.blank_to_none(description),
    )
    if site is None and not any(extras.values()):
        return RouterRecord.from_nas(nas, None)
    try:
        async with begin_write(engine) as conn:
            site_id = await _site_id(conn, site)
            await conn.execute(
                sa.update(Router)
                .where(Router.id == nas.id)
                .values(site_id=site_id, updated_at=utcnow(), **extras)
            )
            await record_change(conn, TOPIC_NAS, nas.name)
            return await _router(conn, nas.name)
    except Exception:  # undo the NAS row, then report why
        async with begin_write(engine) as conn:
            await conn.execute(sa.delete(Router).where(Router.id == nas.id))
            await record_change(conn, TOPIC_NAS, nas.name)
        raise


async def list_routers(engine: AsyncEngine, *, site: str | None = None) -> list[RouterRecord]:
    """Every router (= every NAS), by name; only those at ``site`` when given."""
    async with engine.connect() as conn:
        query = _ROUTER_SELECT
        if site is not None:
            query = query.where(Router.site_id == await _site_id(conn, site))
        return [_router_from_row(r) for r in (await conn.execute(query)).mappings()]


async def get_router(engine: AsyncEngine, name: str) -> RouterRecord:
    async with engine.connect() as conn:
        return await _router(conn, name)


async def update_router(
    engine: AsyncEngine,
    name: str,
    *,
    site: str | _Unset | None = UNSET,
    management_address: str | _Unset | None = UNSET,
    api_username: str | _Unset | None = UNSET,
    api_password: str | _Unset | None = UNSET,
    api_port: int | _Unset | None = UNSET,
    api_tls: bool | _Unset = UNSET,
    api_ca_file: str | _Unset | None = UNSET,
    api_fingerprint: str | _Unset | None = UNSET,
    api_insecure_plain: bool | _Unset = UNSET,
) -> RouterRecord:
    """Change a router's site, management address or API credentials (None clears a field).
    ``api_tls`` True or a CA file or fingerprint turns the plain API off; ``api_insecure_plain``
    True turns TLS and its checks off."""
    async with begin_write(engine) as conn:
        current = await _router(conn, name)
        values: dict[str, Any] = {}
        if not isinstance(site, _Unset):
            values["site_id"] = await _site_id(conn, validate.blank_to_none(site))
        user = current.api_username if isinstance(api_username, _Unset) else api_username
        password = current.api_password if isinstance(api_password, _Unset) else api_password
        port = current.api_port if isinstance(api_port, _Unset) else api_port
        ca = current.api_ca_file if isinstance(api_ca_file, _Unset) else api_ca_file
        pin = current.api_fingerprint if isinstance(api_fingerprint, _Unset) else api_fingerprint
        tls_asked = api_tls is True or bool(
            (not isinstance(api_ca_file, _Unset) and api_ca_file)
            or (not isinstance(api_fingerprint, _Unset) and api_fingerprint)
        )
        plain = current.api_insecure_plain and not tls_asked
        if api_insecure_plain is True:
            plain = True
            ca = None if isinstance(api_ca_file, _Unset) else ca  # its TLS settings go with TLS
            pin = None if isinstance(api_fingerprint, _Unset) else pin
        elif api_insecure_plain is False:
            plain = False
        if not user and not password:  # credentials cleared: so is the rest of the API access
            port, tls_asked, ca, pin, plain = None, False, None, None, False
        management = (
            current.management_address if isinstance(management_address, _Unset) else management_address
        )
        values.update(
            _router_extras(name, management, user, password, port, tls_asked and plain, ca, pin, plain)
        )
        await conn.execute(
            sa.update(Router).where(Router.id == current.id).values(updated_at=utcnow(), **values)
        )
        await record_change(conn, TOPIC_NAS, name)
        return await _router(conn, name)


def _link_end_sql(kind: str) -> tuple[Any, Any]:
    return (
        (DeviceConnection.from_router_id, DeviceConnection.to_router_id)
        if kind == "router"
        else (DeviceConnection.from_device_id, DeviceConnection.to_device_id)
    )


async def _links_of(conn: AsyncConnection, kind: NodeKind, node_id: int) -> list[LinkRecord]:
    from_col, to_col = _link_end_sql(kind)
    query = _LINK_SELECT.where(sa.or_(from_col == node_id, to_col == node_id))
    return [_link_from_row(r) for r in (await conn.execute(query)).mappings()]


def _describe_links(links: Sequence[LinkRecord]) -> str:
    return _names(f"#{link.id} ({_end_text(link, 'from')} - {_end_text(link, 'to')})" for link in links)


async def remove_router(engine: AsyncEngine, name: str) -> None:
    """Remove a router (and its sectors); Conflict naming the pools, open sessions and links left."""
    try:
        async with begin_write(engine) as conn:
            router = await _router(conn, name)
            left = []
            pools = list(
                (await conn.execute(sa.select(IPPool.name).where(IPPool.router_id == router.id))).scalars()
            )
            if pools:  # the operator's pools, not their IPv6 rows (NAME:wan, NAME:pd)
                left.append(f"pool(s) {_names({p.split(':', 1)[0] for p in pools})}")
            sessions = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(RadiusSession)
                .where(RadiusSession.router_id == router.id, RadiusSession.status == "open")
            )
            if sessions:
                left.append(f"{sessions} open session(s)")
            links = await _links_of(conn, "router", router.id)
            if links:
                left.append(f"link(s) {_describe_links(links)}")
            if left:
                raise Conflict(f"router {name!r} still has {'; '.join(left)}")
            await conn.execute(sa.delete(RouterSector).where(RouterSector.router_id == router.id))
            await release_holdings(conn, "router", router.id)
            await conn.execute(sa.delete(Router).where(Router.id == router.id))
            await record_change(conn, TOPIC_NAS, name)
    except IntegrityError:
        raise Conflict(f"router {name!r} is still referenced") from None


async def _router_id(conn: AsyncConnection, name: str) -> int:
    router_id = await conn.scalar(sa.select(Router.id).where(Router.name == name))
    if router_id is None:
        raise NotFound(f"router {name!r} does not exist")
    return int(router_id)


# -- sectors ----------------------------------------------------------------------------------

_SECTOR_SELECT = (
    sa.select(RouterSector.__table__, Router.name.label("router_name"))
    .join_from(RouterSector, Router, RouterSector.router_id == Router.id)
    .order_by(Router.name, RouterSector.name)
)


async def _sector(conn: AsyncConnection, router: str, name: str) -> SectorRecord:
    router_id = await _router_id(conn, router)
    query = _SECTOR_SELECT.where(RouterSector.router_id == router_id, RouterSector.name == name)
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise NotFound(f"router {router!r} has no sector {name!r}")
    return SectorRecord.from_row(row)


async def add_sector(
    engine: AsyncEngine,
    router: str,
    name: str,
    *,
    frequency_mhz: int | None = None,
    azimuth_deg: int | None = None,
    beamwidth_deg: int | None = None,
    ssid: str | None = None,
    description: str | None = None,
) -> SectorRecord:
    """Add a sector to ``router``; Conflict when the router already has one of that name."""
    name = validate.name(name, "sector name")
    values = {
        "frequency_mhz": _int_range(frequency_mhz, "frequency (MHz)", 1, 1_000_000),
        "azimuth_deg": _int_range(azimuth_deg, "azimuth (degrees)", 0, 359),
        "beamwidth_deg": _int_range(beamwidth_deg, "beamwidth (degrees)", 1, 360),
        "ssid": validate.blank_to_none(ssid),
        "description": validate.blank_to_none(description),
    }
    if values["ssid"] is not None and len(str(values["ssid"]).encode()) > 32:
        raise InvalidInput(f"SSID {values['ssid']!r} is longer than 32 bytes")
    now = utcnow()
    try:
        async with begin_write(engine) as conn:
            router_id = await _router_id(conn, router)
            taken = await conn.scalar(
                sa.select(RouterSector.id).where(
                    RouterSector.router_id == router_id, RouterSector.name == name
                )
            )
            if taken is not None:
                raise Conflict(f"router {router!r} already has a sector {name!r}")
            await conn.execute(
                sa.insert(RouterSector).values(
                    router_id=router_id, name=name, created_at=now, updated_at=now, **values
                )
            )
            await record_change(conn, TOPIC_INVENTORY, f"sector:{router}/{name}")
            return await _sector(conn, router, name)
    except IntegrityError:
        raise Conflict(f"router {router!r} already has a sector {name!r}") from None


async def list_sectors(engine: AsyncEngine, *, router: str | None = None) -> list[SectorRecord]:
    """Every sector by router and name; only ``router``'s when given."""
    async with engine.connect() as conn:
        query = _SECTOR_SELECT
        if router is not None:
            query = query.where(RouterSector.router_id == await _router_id(conn, router))
        return [SectorRecord.from_row(r) for r in (await conn.execute(query)).mappings()]


async def get_sector(engine: AsyncEngine, router: str, name: str) -> SectorRecord:
    async with engine.connect() as conn:
        return await _sector(conn, router, name)


async def remove_sector(engine: AsyncEngine, router: str, name: str) -> None:
    async with begin_write(engine) as conn:
        sector = await _sector(conn, router, name)
        await conn.execute(sa.delete(RouterSector).where(RouterSector.id == sector.id))
        await record_change(conn, TOPIC_INVENTORY, f"sector:{router}/{name}")


# -- devices ----------------------------------------------------------------------------------

_DEVICE_SELECT = (
    sa.select(ManagedDevice.__table__, NetworkSite.name.label("site_name"))
    .join_from(ManagedDevice, NetworkSite, ManagedDevice.site_id == NetworkSite.id, isouter=True)
    .order_by(ManagedDevice.name)
)


async def _device(conn: AsyncConnection, name: str) -> DeviceRecord:
    row = (await conn.execute(_DEVICE_SELECT.where(ManagedDevice.name == name))).mappings().first()
    if row is None:
        raise NotFound(f"device {name!r} does not exist")
    return DeviceRecord.from_row(row)


def _snmp(
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


async def add_device(
    engine: AsyncEngine,
    name: str,
    *,
    kind: str = "other",
    site: str | None = None,
    address: str | None = None,
    snmp_version: str = "v2c",
    snmp_port: int = 161,
    snmp_community: str | None = None,
    snmp_user: str | None = None,
    snmp_auth_protocol: str | None = None,
    snmp_auth_key: str | None = None,
    snmp_priv_protocol: str | None = None,
    snmp_priv_key: str | None = None,
    description: str | None = None,
) -> DeviceRecord:
    """Register a managed device; Conflict when the name is taken."""
    name = validate.name(name, "device name")
    values = {
        "kind": validate.choice(kind, DEVICE_KINDS, "device kind"),
        "address": _host(address, "device address"),
        "snmp_port": validate.port(snmp_port, "SNMP port"),
        "description": validate.blank_to_none(description),
        **_snmp(
            name, snmp_version, snmp_community, snmp_user, snmp_auth_protocol, snmp_auth_key,
            snmp_priv_protocol, snmp_priv_key,
        ),
    }  # fmt: skip
    now = utcnow()
    try:
        async with begin_write(engine) as conn:
            site_id = await _site_id(conn, validate.blank_to_none(site))
            if await conn.scalar(sa.select(ManagedDevice.id).where(ManagedDevice.name == name)) is not None:
                raise Conflict(f"device {name!r} already exists")
            await conn.execute(
                sa.insert(ManagedDevice).values(
                    name=name, site_id=site_id, created_at=now, updated_at=now, **values
                )
            )
            await record_change(conn, TOPIC_INVENTORY, f"device:{name}")
            return await _device(conn, name)
    except IntegrityError:
        raise Conflict(f"device {name!r} already exists") from None


async def list_devices(engine: AsyncEngine, *, site: str | None = None) -> list[DeviceRecord]:
    """Every managed device, by name; only those at ``site`` when given."""
    async with engine.connect() as conn:
        query = _DEVICE_SELECT
        if site is not None:
            query = query.where(ManagedDevice.site_id == await _site_id(conn, site))
        return [DeviceRecord.from_row(r) for r in (await conn.execute(query)).mappings()]


async def get_device(engine: AsyncEngine, name: str) -> DeviceRecord:
    async with engine.connect() as conn:
        return await _device(conn, name)


async def remove_device(engine: AsyncEngine, name: str) -> None:
    """Remove a device; Conflict naming the links still attached to it."""
    try:
        async with begin_write(engine) as conn:
            device = await _device(conn, name)
            links = await _links_of(conn, "device", device.id)
            if links:
                raise Conflict(f"device {name!r} still has link(s) {_describe_links(links)}")
            await release_holdings(conn, "device", device.id)
            await conn.execute(sa.delete(ManagedDevice).where(ManagedDevice.id == device.id))
            await record_change(conn, TOPIC_INVENTORY, f"device:{name}")
    except IntegrityError:
        raise Conflict(f"device {name!r} is still referenced") from None


# -- links ------------------------------------------------------------------------------------

_from_router = aliased(Router, name="from_router")
_to_router = aliased(Router, name="to_router")
_from_device = aliased(ManagedDevice, name="from_device")
_to_device = aliased(ManagedDevice, name="to_device")

_LINK_SELECT = (
    sa.select(
        DeviceConnection.__table__,
        _from_router.name.label("from_router_name"),
        _from_device.name.label("from_device_name"),
        _to_router.name.label("to_router_name"),
        _to_device.name.label("to_device_name"),
    )
    .join_from(
        DeviceConnection, _from_router, DeviceConnection.from_router_id == _from_router.id, isouter=True
    )
    .join_from(
        DeviceConnection, _from_device, DeviceConnection.from_device_id == _from_device.id, isouter=True
    )
    .join_from(DeviceConnection, _to_router, DeviceConnection.to_router_id == _to_router.id, isouter=True)
    .join_from(DeviceConnection, _to_device, DeviceConnection.to_device_id == _to_device.id, isouter=True)
    .order_by(DeviceConnection.id)
)


def _link_from_row(row: RowMapping) -> LinkRecord:
    def end(side: str) -> tuple[str, str]:
        if row[f"{side}_router_id"] is not None:
            return "router", row[f"{side}_router_name"]
        return "device", row[f"{side}_device_name"]

    from_kind, from_name = end("from")
    to_kind, to_name = end("to")
    return LinkRecord(
        id=row["id"],
        from_kind=from_kind,
        from_name=from_name,
        from_port=row["from_port"],
        to_kind=to_kind,
        to_name=to_name,
        to_port=row["to_port"],
        medium=row["medium"],
        capacity_mbps=row["capacity_mbps"],
        description=row["description"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _end_text(link: LinkRecord, side: str) -> str:
    name, port = getattr(link, f"{side}_name"), getattr(link, f"{side}_port")
    return f"{name}:{port}" if port else str(name)


async def _resolve(conn: AsyncConnection, end: LinkEnd) -> tuple[NodeKind, int]:
    """The (kind, id) an end names; NotFound when neither, InvalidInput when ambiguous."""
    router_id = None
    device_id = None
    if end.kind in (None, "router"):
        router_id = await conn.scalar(sa.select(Router.id).where(Router.name == end.name))
    if end.kind in (None, "device"):
        device_id = await conn.scalar(sa.select(ManagedDevice.id).where(ManagedDevice.name == end.name))
    if router_id is not None and device_id is not None:
        raise InvalidInput(
            f"{end.name!r} is both a router and a device: write router:{end.name} or device:{end.name}"
        )
    if router_id is not None:
        return "router", int(router_id)
    if device_id is not None:
        return "device", int(device_id)
    what = end.kind or "router or device"
    raise NotFound(f"link end {end.name!r}: no {what} of that name")


def _end(value: LinkEnd | str) -> LinkEnd:
    end = parse_link_end(value) if isinstance(value, str) else value
    if not isinstance(end, LinkEnd):
        raise InvalidInput(f"a link end must be NAME[:PORT], not {value!r}")
    if end.kind not in (None, "router", "device"):
        raise InvalidInput(f"a link end is a router or a device, not {end.kind!r}")
    port = None if end.port is None else validate.name(end.port, "port name", 64)
    return LinkEnd(name=validate.name(end.name, "link end name"), port=port, kind=end.kind)


async def add_link(
    engine: AsyncEngine,
    from_end: LinkEnd | str,
    to_end: LinkEnd | str,
    *,
    medium: str,
    capacity_mbps: int | None = None,
    description: str | None = None,
) -> LinkRecord:
    """Connect two routers/devices; both must exist, differ, and a named port carries one link."""
    a, b = _end(from_end), _end(to_end)
    medium = validate.choice(medium, LINK_MEDIA, "medium")
    capacity = validate.positive_int(capacity_mbps, "capacity (Mbit/s)", 2**53)
    now = utcnow()
    async with begin_write(engine) as conn:
        (a_kind, a_id), (b_kind, b_id) = await _resolve(conn, a), await _resolve(conn, b)
        if (a_kind, a_id) == (b_kind, b_id):
            raise InvalidInput(f"a link joins two different routers or devices, not {a.name!r} to itself")
        for end, kind, node_id in ((a, a_kind, a_id), (b, b_kind, b_id)):
            if end.port is None:
                continue
            from_col, to_col = _link_end_sql(kind)
            taken = await conn.scalar(
                sa.select(DeviceConnection.id).where(
                    sa.or_(
                        sa.and_(from_col == node_id, DeviceConnection.from_port == end.port),
                        sa.and_(to_col == node_id, DeviceConnection.to_port == end.port),
                    )
                )
            )
            if taken is not None:
                raise Conflict(f"port {end.port!r} of {kind} {end.name!r} is already used by link #{taken}")
        values = {
            "from_router_id": a_id if a_kind == "router" else None,
            "from_device_id": a_id if a_kind == "device" else None,
            "from_port": a.port,
            "to_router_id": b_id if b_kind == "router" else None,
            "to_device_id": b_id if b_kind == "device" else None,
            "to_port": b.port,
        }
        result = await conn.execute(
            sa.insert(DeviceConnection)
            .values(
                medium=medium,
                capacity_mbps=capacity,
                description=validate.blank_to_none(description),
                created_at=now,
                updated_at=now,
                **values,
            )
            .returning(DeviceConnection.id)
        )
        link_id = int(result.scalar_one())
        await record_change(conn, TOPIC_INVENTORY, f"link:{link_id}")
        return await _link(conn, link_id)


async def _link(conn: AsyncConnection, link_id: int) -> LinkRecord:
    if isinstance(link_id, bool) or not isinstance(link_id, int):
        raise InvalidInput(f"a link id is a whole number, not {link_id!r}")
    row = (await conn.execute(_LINK_SELECT.where(DeviceConnection.id == link_id))).mappings().first()
    if row is None:
        raise NotFound(f"link #{link_id} does not exist")
    return _link_from_row(row)


async def list_links(engine: AsyncEngine, *, node: str | LinkEnd | None = None) -> list[LinkRecord]:
    """Every link by id; only those touching ``node`` (a router or device name) when given."""
    async with engine.connect() as conn:
        if node is None:
            return [_link_from_row(r) for r in (await conn.execute(_LINK_SELECT)).mappings()]
        kind, node_id = await _resolve(conn, _end(node))
        return await _links_of(conn, kind, node_id)


async def get_link(engine: AsyncEngine, link_id: int) -> LinkRecord:
    async with engine.connect() as conn:
        return await _link(conn, link_id)


async def remove_link(engine: AsyncEngine, link_id: int) -> None:
    async with begin_write(engine) as conn:
        link = await _link(conn, link_id)
        await release_holdings(conn, "link", link.id)
        await conn.execute(sa.delete(DeviceConnection).where(DeviceConnection.id == link.id))
        await record_change(conn, TOPIC_INVENTORY, f"link:{link.id}")


async def remove_nas(engine: AsyncEngine, name: str) -> None:
    """Remove a NAS. A NAS is a router row, so this is :func:`remove_router` (here, not in
    radiusd.store.nas, which this module builds on): Conflict while pools, open sessions or
    links refer to it (history is kept)."""
    try:
        await remove_router(engine, name)
    except NotFound:
        raise NotFound(f"NAS {name!r} does not exist") from None
