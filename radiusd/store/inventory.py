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

from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inventory import rules
from inventory.records import (
    DeviceRecord,
    LinkEnd,
    LinkRecord,
    NodeKind,
    RouterRecord,
    SectorRecord,
    SiteRecord,
    parse_link_end,
)
from inventory.rules import sha256_fingerprint

from . import validate
from .changes import TOPIC_NAS, record_change
from .engine import begin_write
from .errors import Conflict, NotFound
from .inventory_links import _link, add_link, get_link, list_links, remove_link
from .inventory_nodes import (
    _DEVICE_SELECT,
    _SECTOR_SELECT,
    _device,
    _sector,
    add_device,
    add_sector,
    get_device,
    get_sector,
    list_devices,
    list_sectors,
    remove_device,
    remove_sector,
)
from .inventory_refs import (
    _LINK_SELECT,
    TOPIC_INVENTORY,
    _describe_links,
    _link_end_sql,
    _link_from_row,
    _links_of,
    _resolve,
    _router_id,
    _site_id,
)
from .models import IPPool, ManagedDevice, NetworkSite, RadiusSession, Router, RouterSector, utcnow
from .nas import add_nas
from .prefixes import release_holdings  # what the object held in the prefix tree
from .records import NasRecord
from .snapshot import NAS_SELECT

_end = rules.link_end  # the API's inventory pages resolve a link end as add_link does

__all__ = [
    "TOPIC_INVENTORY",
    "UNSET",
    "_DEVICE_SELECT",
    "_LINK_SELECT",
    "_SECTOR_SELECT",
    "DeviceRecord",
    "LinkEnd",
    "LinkRecord",
    "NodeKind",
    "RouterRecord",
    "SectorRecord",
    "SiteRecord",
    "_device",
    "_end",
    "_link",
    "_link_end_sql",
    "_link_from_row",
    "_resolve",
    "_router_id",
    "_sector",
    "_site_id",
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
    "sha256_fingerprint",
    "update_router",
]

_Unset = validate.Unset
UNSET: Final = validate.UNSET
"""Default of the ``update_*`` arguments: leave the field as it is."""


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
    values = rules.site_fields(name, kind, address, latitude, longitude, description)
    now = utcnow()
    try:
        async with begin_write(engine) as conn:
            if await conn.scalar(sa.select(NetworkSite.id).where(NetworkSite.name == name)) is not None:
                raise Conflict(f"site {name!r} already exists")
            await conn.execute(
                sa.insert(NetworkSite).values(name=name, created_at=now, updated_at=now, **values)
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
                    left.append(f"{what} {rules.names(names)}")
            if left:
                raise Conflict(f"site {name!r} still has {'; '.join(left)}")
            await release_holdings(conn, "site", site.id)
            await conn.execute(sa.delete(NetworkSite).where(NetworkSite.id == site.id))
            await record_change(conn, TOPIC_INVENTORY, f"site:{name}")
    except IntegrityError:
        raise Conflict(f"site {name!r} is still referenced") from None


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
    extras = rules.router_api(
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
        values.update(
            rules.router_api_update(
                current,
                management_address=management_address,
                api_username=api_username,
                api_password=api_password,
                api_port=api_port,
                api_tls=api_tls,
                api_ca_file=api_ca_file,
                api_fingerprint=api_fingerprint,
                api_insecure_plain=api_insecure_plain,
            )
        )
        await conn.execute(
            sa.update(Router).where(Router.id == current.id).values(updated_at=utcnow(), **values)
        )
        await record_change(conn, TOPIC_NAS, name)
        return await _router(conn, name)


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
                left.append(f"pool(s) {rules.names({p.split(':', 1)[0] for p in pools})}")
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


async def remove_nas(engine: AsyncEngine, name: str) -> None:
    """Remove a NAS. A NAS is a router row, so this is :func:`remove_router` (here, not in
    radiusd.store.nas, which this module builds on): Conflict while pools, open sessions or
    links refer to it (history is kept)."""
    try:
        await remove_router(engine, name)
    except NotFound:
        raise NotFound(f"NAS {name!r} does not exist") from None
