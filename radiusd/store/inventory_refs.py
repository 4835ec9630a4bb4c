"""What the inventory's store modules share: ids by name and the links of a router or device.

:mod:`radiusd.store.inventory` (sites, routers), :mod:`radiusd.store.inventory_nodes` (sectors,
devices) and :mod:`radiusd.store.inventory_links` build on this module, so none imports another.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from inventory import rules
from inventory.records import LinkEnd, LinkRecord, NodeKind

from .errors import InvalidInput, NotFound
from .models import DeviceConnection, ManagedDevice, NetworkSite, Router

TOPIC_INVENTORY = "inventory"


async def _site_id(conn: AsyncConnection, name: str | None) -> int | None:
    if name is None:
        return None
    site_id = await conn.scalar(sa.select(NetworkSite.id).where(NetworkSite.name == name))
    if site_id is None:
        raise NotFound(f"site {name!r} does not exist")
    return int(site_id)


async def _router_id(conn: AsyncConnection, name: str) -> int:
    router_id = await conn.scalar(sa.select(Router.id).where(Router.name == name))
    if router_id is None:
        raise NotFound(f"router {name!r} does not exist")
    return int(router_id)


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
    return rules.names(f"#{link.id} ({_end_text(link, 'from')} - {_end_text(link, 'to')})" for link in links)
