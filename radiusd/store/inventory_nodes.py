"""Sectors (a router's wireless sectors) and SNMP-managed devices: their rows.

The checks of what they may hold are :mod:`inventory.rules`' (:func:`~inventory.rules.sector_fields`,
:func:`~inventory.rules.snmp`); this module resolves names, refuses duplicates and writes.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inventory import rules
from inventory.records import DeviceRecord, SectorRecord

from . import validate
from .changes import record_change
from .engine import begin_write
from .errors import Conflict, NotFound
from .inventory_refs import TOPIC_INVENTORY, _describe_links, _links_of, _router_id, _site_id
from .models import ManagedDevice, NetworkSite, Router, RouterSector, utcnow
from .prefixes import release_holdings  # what the object held in the prefix tree

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
    values = rules.sector_fields(frequency_mhz, azimuth_deg, beamwidth_deg, ssid, description)
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
        "kind": rules.device_kind(kind),
        "address": rules.host(address, "device address"),
        "snmp_port": validate.port(snmp_port, "SNMP port"),
        "description": validate.blank_to_none(description),
        **rules.snmp(
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
