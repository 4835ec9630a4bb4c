"""One page of inventory records for the admin API, bounded by the database.

The store's list functions (radiusd.store.inventory) return whole tables, which is fine for
the CLI; the API reads one page at a time (``LIMIT limit + 1 OFFSET offset``). The queries and
row builders are radiusd.store.inventory's own, so a page holds the same records its list
functions return; that is why this lives in the store, next to them, and not in the API.
"""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from . import inventory as inv
from .models import ManagedDevice, Router, RouterSector


async def inventory_page(
    engine: AsyncEngine,
    kind: Literal["sites", "routers", "sectors", "devices", "links"],
    *,
    limit: int,
    offset: int = 0,
    site: str | None = None,
    router: str | None = None,
    node: str | None = None,
) -> tuple[list[Any], bool]:
    """One page of inventory records, in the store's list order, skipped and limited by the
    database (``LIMIT limit + 1 OFFSET offset``); the records and whether more follow.

    The filters are the store's list filters (a site, router or node that does not exist:
    NotFound). The queries are radiusd.store.inventory's own, so a page holds the same records
    its list functions return.
    """
    async with engine.connect() as conn:
        query: sa.Select[Any]
        build: Any
        if kind == "sites":
            query, build = inv._SITE_SELECT, inv.SiteRecord.from_row
        elif kind == "routers":
            query, build = inv._ROUTER_SELECT, inv._router_from_row
            if site is not None:
                query = query.where(Router.site_id == await inv._site_id(conn, site))
        elif kind == "sectors":
            query, build = inv._SECTOR_SELECT, inv.SectorRecord.from_row
            if router is not None:
                query = query.where(RouterSector.router_id == await inv._router_id(conn, router))
        elif kind == "devices":
            query, build = inv._DEVICE_SELECT, inv.DeviceRecord.from_row
            if site is not None:
                query = query.where(ManagedDevice.site_id == await inv._site_id(conn, site))
        else:
            query, build = inv._LINK_SELECT, inv._link_from_row
            if node is not None:
                end_kind, node_id = await inv._resolve(conn, inv._end(node))
                from_col, to_col = inv._link_end_sql(end_kind)
                query = query.where(sa.or_(from_col == node_id, to_col == node_id))
        rows = list((await conn.execute(query.offset(offset).limit(limit + 1))).mappings())
    return [build(r) for r in rows[:limit]], len(rows) > limit
