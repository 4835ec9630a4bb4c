"""``/network/*``: sites, routers (= the NAS list), sectors, devices and connections.

Thin routes over radiusd.store.inventory (its errors map to 404/409/422 in radiusd.api.app).
Lists are pages read with LIMIT/OFFSET in the database (``limit`` at most 1000, ``offset`` at
most 100000), so no request loads a whole table. Secrets (RADIUS secret, router-API
password, SNMP community and keys) are write-only: replies carry ``*_set`` flags instead.
"""

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Any, Literal, TypeVar

from fastapi import FastAPI, Path, Query
from fastapi.params import Depends
from pydantic import BaseModel, Field

from radiusd.store import inventory as inv
from radiusd.store.inventory_pages import inventory_page

from . import queries
from .schemas import DEFAULT_LIMIT, MAX_LIMIT, Body, Name, Page, Port, Problem, Secret, Text

T = TypeVar("T", bound=BaseModel)

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Offset = Annotated[int, Query(ge=0, le=queries.MAX_OFFSET, description="Rows to skip.")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem}}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "A referenced site, router or device does not exist"},
    409: {"model": Problem, "description": "Duplicate name or address"},
    422: {"description": "Invalid field (named in detail)"},
}


class _Out(BaseModel):
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


# -- models ------------------------------------------------------------------------------------


class SiteIn(Body):
    name: Name
    kind: Literal["pop", "tower", "datacenter", "customer", "other"] = "pop"
    address: Text | None = None
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None
    description: Text | None = None


class SiteOut(_Out):
    id: int
    name: str
    kind: str
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    description: str | None = None


class RouterIn(Body):
    """A router is a NAS: the daemon accepts RADIUS from ``nas_address`` with ``secret``."""

    name: Name
    nas_address: Name
    secret: Secret
    site: Name | None = None
    vendor: Literal[
        "generic", "mikrotik", "cisco", "ubiquiti", "juniper", "huawei", "nokia", "accel-ppp", "cambium"
    ] = "generic"
    require_message_authenticator: bool = True
    coa_port: Port = 3799
    description: Text | None = None
    management_address: Name | None = None
    api_username: Name | None = None
    api_password: Secret | None = None
    api_port: Port | None = None
    api_tls: bool = False  # API-SSL is the default; the plain API needs api_insecure_plain
    api_ca_file: Text | None = None
    api_fingerprint: Text | None = None  # SHA-256 of the router's certificate (colons allowed)
    api_insecure_plain: bool = False


class RouterOut(_Out):
    id: int
    name: str
    nas_address: str
    site: str | None = None
    site_id: int | None = None
    vendor: str
    require_message_authenticator: bool
    coa_port: int
    description: str | None = None
    management_address: str | None = None
    api_username: str | None = None
    api_port: int | None = None
    api_tls: bool = False
    api_ca_file: str | None = None
    api_fingerprint: str | None = None
    api_insecure_plain: bool = False
    api_password_set: bool = False


class SectorIn(Body):
    router: Name
    name: Name
    frequency_mhz: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    azimuth_deg: Annotated[int, Field(ge=0, le=359)] | None = None
    beamwidth_deg: Annotated[int, Field(ge=1, le=360)] | None = None
    ssid: Annotated[Name, Field(max_length=32)] | None = None
    description: Text | None = None


class SectorOut(_Out):
    id: int
    router: str
    router_id: int
    name: str
    frequency_mhz: int | None = None
    azimuth_deg: int | None = None
    beamwidth_deg: int | None = None
    ssid: str | None = None
    description: str | None = None


class DeviceIn(Body):
    name: Name
    kind: Literal["switch", "router", "olt", "onu", "access-point", "cpe", "ups", "server", "other"] = "other"
    site: Name | None = None
    address: Name | None = None
    snmp_version: Literal["v1", "v2c", "v3"] = "v2c"
    snmp_port: Port = 161
    snmp_community: Secret | None = None
    snmp_user: Name | None = None
    snmp_auth_protocol: Literal["md5", "sha", "sha224", "sha256", "sha384", "sha512"] | None = None
    snmp_auth_key: Secret | None = None
    snmp_priv_protocol: Literal["des", "aes", "aes192", "aes256"] | None = None
    snmp_priv_key: Secret | None = None
    description: Text | None = None


class DeviceOut(_Out):
    id: int
    name: str
    kind: str
    site: str | None = None
    site_id: int | None = None
    address: str | None = None
    snmp_version: str
    snmp_port: int
    snmp_user: str | None = None
    snmp_auth_protocol: str | None = None
    snmp_priv_protocol: str | None = None
    snmp_community_set: bool = False
    snmp_auth_key_set: bool = False
    snmp_priv_key_set: bool = False
    description: str | None = None


class ConnectionEnd(Body):
    """A router or device by name (``kind`` needed only when a name is both), with its port."""

    name: Name
    port: Name | None = None
    kind: Literal["router", "device"] | None = None


class ConnectionIn(Body):
    from_device: ConnectionEnd
    to_device: ConnectionEnd
    medium: Literal["copper", "fibre", "wireless"]
    capacity_mbps: Annotated[int, Field(ge=1, le=10_000_000)] | None = None
    description: Text | None = None


class ConnectionOut(_Out):
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


# -- routes ------------------------------------------------------------------------------------


def _page(model: type[T], records: Sequence[Any], limit: int, offset: int) -> Page[T]:
    """A page of records already in memory (small lists only: tables are paged by
    :func:`_db_page`)."""
    chunk = records[offset : offset + limit]
    nxt = str(offset + limit) if offset + limit < len(records) else None
    return Page[model](  # type: ignore[valid-type]
        items=[model.model_validate(_json(r)) for r in chunk], limit=limit, offset=offset, next_cursor=nxt
    )


async def _db_page(
    model: type[T], engine: Any, kind: Any, limit: int, offset: int, **filters: str | None
) -> Page[T]:
    """A page read with LIMIT/OFFSET in the database (radiusd.store.inventory_pages.inventory_page)."""
    records, more = await inventory_page(engine, kind, limit=limit, offset=offset, **filters)
    nxt = str(offset + limit) if more else None
    return Page[model](  # type: ignore[valid-type]
        items=[model.model_validate(_json(r)) for r in records], limit=limit, offset=offset, next_cursor=nxt
    )


def _json(record: Any) -> dict[str, Any]:
    data: dict[str, Any] = record.to_json()
    if isinstance(record, inv.RouterRecord):
        data["nas_address"] = data.pop("address")
    return data


def install(app: FastAPI, state: Any, read: list[Depends], write: list[Depends]) -> None:
    """Add the ``/network`` routes to ``app`` (``state``: the daemon, for its engine)."""
    engine = state.engine
    tags: list[str | Any] = ["network"]

    # sites
    @app.get("/network/sites", tags=tags, dependencies=read)
    async def list_sites(limit: Limit = DEFAULT_LIMIT, offset: Offset = 0) -> Page[SiteOut]:
        """Sites (POPs, towers, data centres, customer sites), by name."""
        return await _db_page(SiteOut, engine, "sites", limit, offset)

    @app.post("/network/sites", tags=tags, dependencies=write, status_code=201, responses=WRITE_ERRORS)
    async def add_site(body: SiteIn) -> SiteOut:
        rec = await inv.add_site(engine, **body.model_dump())
        return SiteOut.model_validate(_json(rec))

    @app.get("/network/sites/{name}", tags=tags, dependencies=read, responses=NOT_FOUND)
    async def get_site(name: Annotated[Name, Path()]) -> SiteOut:
        return SiteOut.model_validate(_json(await inv.get_site(engine, name)))

    # routers
    @app.get("/network/routers", tags=tags, dependencies=read, responses=NOT_FOUND)
    async def list_routers(
        site: Annotated[Name | None, Query()] = None, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0
    ) -> Page[RouterOut]:
        """Routers: the daemon's NAS list (secrets never shown)."""
        return await _db_page(RouterOut, engine, "routers", limit, offset, site=site)

    @app.post("/network/routers", tags=tags, dependencies=write, status_code=201, responses=WRITE_ERRORS)
    async def add_router(body: RouterIn) -> RouterOut:
        """Add a router (a NAS); the running daemon accepts its RADIUS within a second."""
        values = body.model_dump()
        rec = await inv.add_router(
            engine, values.pop("name"), values.pop("nas_address"), values.pop("secret"), **values
        )
        return RouterOut.model_validate(_json(rec))

    @app.get("/network/routers/{name}", tags=tags, dependencies=read, responses=NOT_FOUND)
    async def get_router(name: Annotated[Name, Path()]) -> RouterOut:
        return RouterOut.model_validate(_json(await inv.get_router(engine, name)))

    # sectors
    @app.get("/network/sectors", tags=tags, dependencies=read, responses=NOT_FOUND)
    async def list_sectors(
        router: Annotated[Name | None, Query()] = None, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0
    ) -> Page[SectorOut]:
        """Wireless sectors, optionally of one router."""
        return await _db_page(SectorOut, engine, "sectors", limit, offset, router=router)

    @app.post("/network/sectors", tags=tags, dependencies=write, status_code=201, responses=WRITE_ERRORS)
    async def add_sector(body: SectorIn) -> SectorOut:
        values = body.model_dump()
        rec = await inv.add_sector(engine, values.pop("router"), values.pop("name"), **values)
        return SectorOut.model_validate(_json(rec))

    # devices
    @app.get("/network/devices", tags=tags, dependencies=read, responses=NOT_FOUND)
    async def list_devices(
        site: Annotated[Name | None, Query()] = None, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0
    ) -> Page[DeviceOut]:
        """SNMP-managed devices (community and keys never shown)."""
        return await _db_page(DeviceOut, engine, "devices", limit, offset, site=site)

    @app.post("/network/devices", tags=tags, dependencies=write, status_code=201, responses=WRITE_ERRORS)
    async def add_device(body: DeviceIn) -> DeviceOut:
        values = body.model_dump()
        rec = await inv.add_device(engine, values.pop("name"), **values)
        return DeviceOut.model_validate(_json(rec))

    @app.get("/network/devices/{name}", tags=tags, dependencies=read, responses=NOT_FOUND)
    async def get_device(name: Annotated[Name, Path()]) -> DeviceOut:
        return DeviceOut.model_validate(_json(await inv.get_device(engine, name)))

    # connections
    @app.get("/network/connections", tags=tags, dependencies=read)
    async def list_connections(
        node: Annotated[Name | None, Query(description="Only links touching this router or device.")] = None,
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
    ) -> Page[ConnectionOut]:
        """Cable, fibre and radio links between routers and devices."""
        return await _db_page(ConnectionOut, engine, "links", limit, offset, node=node)

    @app.post("/network/connections", tags=tags, dependencies=write, status_code=201, responses=WRITE_ERRORS)
    async def add_connection(body: ConnectionIn) -> ConnectionOut:
        """Link two existing routers/devices (both ends must exist: 404 otherwise)."""
        ends = [inv.LinkEnd(e.name, e.port, e.kind) for e in (body.from_device, body.to_device)]
        rec = await inv.add_link(
            engine,
            ends[0],
            ends[1],
            medium=body.medium,
            capacity_mbps=body.capacity_mbps,
            description=body.description,
        )
        return ConnectionOut.model_validate(_json(rec))

    @app.get("/network/connections/{link_id}", tags=tags, dependencies=read, responses=NOT_FOUND)
    async def get_connection(link_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> ConnectionOut:
        return ConnectionOut.model_validate(_json(await inv.get_link(engine, link_id)))
