"""Links (cable, fibre, radio) between two routers or devices: their rows.

A link end name is looked up among routers and devices; a name that is both is refused as
ambiguous unless prefixed ``router:`` or ``device:``. A named port carries at most one link.
The checks of what a link may hold are :mod:`inventory.rules`'.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inventory import rules
from inventory.records import LinkEnd, LinkRecord

from . import validate
from .changes import record_change
from .engine import begin_write
from .errors import Conflict, InvalidInput, NotFound
from .inventory_refs import (
    _LINK_SELECT,
    TOPIC_INVENTORY,
    _link_end_sql,
    _link_from_row,
    _links_of,
    _resolve,
)
from .models import LINK_MEDIA, DeviceConnection, utcnow
from .prefixes import release_holdings  # what the object held in the prefix tree


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
    a, b = rules.link_end(from_end), rules.link_end(to_end)
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
        kind, node_id = await _resolve(conn, rules.link_end(node))
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
