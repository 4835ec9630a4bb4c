"""Editing inventory records: sites, sectors, devices and links (routers: ``update_router`` in
:mod:`radiusd.store.inventory`, their RADIUS fields ``update_nas`` in :mod:`radiusd.store.nas`).

Each ``update_*`` takes the fields to change as keyword arguments (omitted: kept, None: cleared
where the field is optional, ``new_name``: rename), checks the merged record with the rules of
the matching ``add_*`` and writes it in one transaction with a change-feed entry of topic
``inventory``; on any error (NotFound, Conflict, InvalidInput) nothing is written.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from inventory import rules

from . import validate
from .changes import record_change
from .engine import begin_write
from .errors import Conflict, StoreError
from .inventory import (
    TOPIC_INVENTORY,
    DeviceRecord,
    LinkRecord,
    RouterRecord,
    SectorRecord,
    SiteRecord,
    _device,
    _link,
    _sector,
    _site,
    _site_id,
    get_router,
    update_router,
)
from .models import (
    LINK_MEDIA,
    DeviceConnection,
    ManagedDevice,
    NetworkSite,
    RouterSector,
    utcnow,
)
from .nas import get_nas, update_nas
from .validate import UNSET, Unset, given

__all__ = ["update_device", "update_link", "update_router_all", "update_sector", "update_site"]


def _pick(changes: dict[str, Any], current: Any) -> dict[str, Any]:
    """Every field of ``changes``: the given value, or the current record's when UNSET."""
    return {k: (v if given(v) else getattr(current, k)) for k, v in changes.items()}


def _renamed(name: str, new_name: str | Unset, what: str) -> str:
    return validate.name(new_name, what) if isinstance(new_name, str) else name


async def update_site(
    engine: AsyncEngine,
    name: str,
    *,
    new_name: str | Unset = UNSET,
    kind: str | Unset = UNSET,
    address: str | Unset | None = UNSET,
    latitude: float | Unset | None = UNSET,
    longitude: float | Unset | None = UNSET,
    description: str | Unset | None = UNSET,
) -> SiteRecord:
    """Change a site; latitude and longitude stay a pair (both or neither)."""
    target = _renamed(name, new_name, "site name")
    try:
        async with begin_write(engine) as conn:
            current = await _site(conn, name)
            m = _pick(
                {"kind": kind, "address": address, "latitude": latitude, "longitude": longitude,
                 "description": description},
                current,
            )  # fmt: skip
            values = {"name": target, **rules.site_fields(name, **m)}
            if target != name and await conn.scalar(
                sa.select(NetworkSite.id).where(NetworkSite.name == target)
            ):
                raise Conflict(f"site {target!r} already exists")
            await conn.execute(
                sa.update(NetworkSite)
                .where(NetworkSite.id == current.id)
                .values(**values, updated_at=utcnow())
            )
            await record_change(conn, TOPIC_INVENTORY, f"site:{name}")
            if target != name:
                await record_change(conn, TOPIC_INVENTORY, f"site:{target}")
            return await _site(conn, target)
    except IntegrityError:
        raise Conflict(f"site {target!r} already exists") from None


async def update_sector(
    engine: AsyncEngine,
    router: str,
    name: str,
    *,
    new_name: str | Unset = UNSET,
    frequency_mhz: int | Unset | None = UNSET,
    azimuth_deg: int | Unset | None = UNSET,
    beamwidth_deg: int | Unset | None = UNSET,
    ssid: str | Unset | None = UNSET,
    description: str | Unset | None = UNSET,
) -> SectorRecord:
    """Change (or rename) a sector of ``router``."""
    target = _renamed(name, new_name, "sector name")
    try:
        async with begin_write(engine) as conn:
            current = await _sector(conn, router, name)
            m = _pick(
                {"frequency_mhz": frequency_mhz, "azimuth_deg": azimuth_deg, "beamwidth_deg": beamwidth_deg,
                 "ssid": ssid, "description": description},
                current,
            )  # fmt: skip
            values = {"name": target, **rules.sector_fields(**m)}
            if target != name:
                taken = await conn.scalar(
                    sa.select(RouterSector.id).where(
                        RouterSector.router_id == current.router_id, RouterSector.name == target
                    )
                )
                if taken is not None:
                    raise Conflict(f"router {router!r} already has a sector {target!r}")
            await conn.execute(
                sa.update(RouterSector)
                .where(RouterSector.id == current.id)
                .values(**values, updated_at=utcnow())
            )
            await record_change(conn, TOPIC_INVENTORY, f"sector:{router}/{name}")
            if target != name:
                await record_change(conn, TOPIC_INVENTORY, f"sector:{router}/{target}")
            return await _sector(conn, router, target)
    except IntegrityError:
        raise Conflict(f"router {router!r} already has a sector {target!r}") from None


_V3_FIELDS = ("snmp_user", "snmp_auth_protocol", "snmp_auth_key", "snmp_priv_protocol", "snmp_priv_key")


async def update_device(
    engine: AsyncEngine,
    name: str,
    *,
    new_name: str | Unset = UNSET,
    kind: str | Unset = UNSET,
    site: str | Unset | None = UNSET,
    address: str | Unset | None = UNSET,
    snmp_version: str | Unset = UNSET,
    snmp_port: int | Unset = UNSET,
    snmp_community: str | Unset | None = UNSET,
    snmp_user: str | Unset | None = UNSET,
    snmp_auth_protocol: str | Unset | None = UNSET,
    snmp_auth_key: str | Unset | None = UNSET,
    snmp_priv_protocol: str | Unset | None = UNSET,
    snmp_priv_key: str | Unset | None = UNSET,
    description: str | Unset | None = UNSET,
) -> DeviceRecord:
    """Change a device. A change of SNMP version drops the credentials of the other kind
    (community for v3, user and keys for v1/v2c) unless they are given too."""
    target = _renamed(name, new_name, "device name")
    snmp = {
        "snmp_community": snmp_community, "snmp_user": snmp_user,
        "snmp_auth_protocol": snmp_auth_protocol, "snmp_auth_key": snmp_auth_key,
        "snmp_priv_protocol": snmp_priv_protocol, "snmp_priv_key": snmp_priv_key,
    }  # fmt: skip
    try:
        async with begin_write(engine) as conn:
            current = await _device(conn, name)
            m = _pick(
                {"kind": kind, "address": address, "snmp_version": snmp_version, "snmp_port": snmp_port,
                 "description": description, **snmp},
                current,
            )  # fmt: skip
            if isinstance(snmp_version, str) and snmp_version != current.snmp_version:
                stale = ("snmp_community",) if snmp_version == "v3" else _V3_FIELDS
                for key in stale:
                    if not given(snmp[key]):
                        m[key] = None
            values: dict[str, Any] = {
                "name": target,
                "kind": rules.device_kind(m["kind"]),
                "address": rules.host(m["address"], "device address"),
                "snmp_port": validate.port(m["snmp_port"], "SNMP port"),
                "description": validate.blank_to_none(m["description"]),
                **rules.snmp(
                    target, m["snmp_version"], m["snmp_community"], m["snmp_user"], m["snmp_auth_protocol"],
                    m["snmp_auth_key"], m["snmp_priv_protocol"], m["snmp_priv_key"],
                ),
            }  # fmt: skip
            if given(site):
                values["site_id"] = await _site_id(conn, validate.blank_to_none(site))
            if target != name and await conn.scalar(
                sa.select(ManagedDevice.id).where(ManagedDevice.name == target)
            ):
                raise Conflict(f"device {target!r} already exists")
            await conn.execute(
                sa.update(ManagedDevice)
                .where(ManagedDevice.id == current.id)
                .values(**values, updated_at=utcnow())
            )
            await record_change(conn, TOPIC_INVENTORY, f"device:{name}")
            if target != name:
                await record_change(conn, TOPIC_INVENTORY, f"device:{target}")
            return await _device(conn, target)
    except IntegrityError:
        raise Conflict(f"device {target!r} already exists") from None


async def update_link(
    engine: AsyncEngine,
    link_id: int,
    *,
    medium: str | Unset = UNSET,
    capacity_mbps: int | Unset | None = UNSET,
    description: str | Unset | None = UNSET,
) -> LinkRecord:
    """Change a link's medium, capacity or description (its ends: remove it and add another)."""
    async with begin_write(engine) as conn:
        current = await _link(conn, link_id)
        values: dict[str, Any] = {}
        if isinstance(medium, str):
            values["medium"] = validate.choice(medium, LINK_MEDIA, "medium")
        if given(capacity_mbps):
            values["capacity_mbps"] = validate.positive_int(capacity_mbps, "capacity (Mbit/s)", 2**53)
        if given(description):
            values["description"] = validate.blank_to_none(description)
        if values:
            await conn.execute(
                sa.update(DeviceConnection)
                .where(DeviceConnection.id == current.id)
                .values(**values, updated_at=utcnow())
            )
            await record_change(conn, TOPIC_INVENTORY, f"link:{current.id}")
        return await _link(conn, current.id)


async def update_router_all(
    engine: AsyncEngine, name: str, radius: dict[str, Any], inventory: dict[str, Any]
) -> RouterRecord:
    """Change a router's RADIUS fields (``radius``: :func:`radiusd.store.nas.update_nas`'s
    arguments) and its inventory fields (``inventory``: :func:`update_router`'s) together:
    when the second write is refused the first is undone, so nothing is changed."""
    before = await get_nas(engine, name)
    target = (await update_nas(engine, name, **radius)).name if radius else name
    if inventory:
        try:
            await update_router(engine, target, **inventory)
        except StoreError:
            if radius:
                await update_nas(
                    engine, target, new_name=before.name, address=before.address, secret=before.secret,
                    vendor=before.vendor, require_message_authenticator=before.require_message_authenticator,
                    coa_port=before.coa_port, description=before.description,
                )  # fmt: skip
            raise
    return await get_router(engine, target)
