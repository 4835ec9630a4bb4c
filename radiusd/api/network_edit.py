"""PATCH, DELETE and the missing GET-one routes of ``/network/*`` (the lists and POSTs are in
radiusd.api.network), through radiusd.store.inventory_edit / inventory / nas as the CLI's
``set``/``rename``/``remove`` commands. Secrets are write-only, as everywhere in the API.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path, Response
from fastapi.params import Depends
from pydantic import BaseModel, Field

from radiusd.store import inventory as inv
from radiusd.store import inventory_edit as edit

from .crud import DELETE_ERRORS, READ_ERRORS, WRITE_ERRORS, body_config, changes
from .network import ConnectionOut, DeviceOut, RouterOut, SectorOut, SiteOut, _json
from .schemas import Name, Port, Secret, Text

Item = Annotated[Name, Path()]
LinkId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class SitePatch(BaseModel):
    model_config = body_config(kind="tower", latitude=48.2, longitude=11.6)

    new_name: Name | None = None
    kind: Literal["pop", "tower", "datacenter", "customer", "other"] | None = None
    address: Text | None = None
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None
    description: Text | None = None


class RouterPatch(BaseModel):
    """RADIUS fields (as ``PATCH /nas``) and inventory fields; ``null`` clears an optional one."""

    model_config = body_config(site="pop-2", coa_port=1700)

    new_name: Name | None = None
    nas_address: Name | None = None
    secret: Secret | None = None
    vendor: Literal["generic", "mikrotik", "cisco", "ubiquiti"] | None = None
    require_message_authenticator: bool | None = None
    coa_port: Port | None = None
    description: Text | None = None
    site: Name | None = None
    management_address: Name | None = None
    api_username: Name | None = None
    api_password: Secret | None = None
    api_port: Port | None = None
    api_tls: bool | None = None


class SectorPatch(BaseModel):
    model_config = body_config(azimuth_deg=90, ssid="north-5g")

    new_name: Name | None = None
    frequency_mhz: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    azimuth_deg: Annotated[int, Field(ge=0, le=359)] | None = None
    beamwidth_deg: Annotated[int, Field(ge=1, le=360)] | None = None
    ssid: Annotated[Name, Field(max_length=32)] | None = None
    description: Text | None = None


class DevicePatch(BaseModel):
    model_config = body_config(site="pop-1", snmp_community="n3w-community")

    new_name: Name | None = None
    kind: (
        Literal["switch", "router", "olt", "onu", "access-point", "cpe", "ups", "server", "other"] | None
    ) = None
    site: Name | None = None
    address: Name | None = None
    snmp_version: Literal["v1", "v2c", "v3"] | None = None
    snmp_port: Port | None = None
    snmp_community: Secret | None = None
    snmp_user: Name | None = None
    snmp_auth_protocol: Literal["md5", "sha", "sha224", "sha256", "sha384", "sha512"] | None = None
    snmp_auth_key: Secret | None = None
    snmp_priv_protocol: Literal["des", "aes", "aes192", "aes256"] | None = None
    snmp_priv_key: Secret | None = None
    description: Text | None = None


class ConnectionPatch(BaseModel):
    model_config = body_config(capacity_mbps=10000)

    medium: Literal["copper", "fibre", "wireless"] | None = None
    capacity_mbps: Annotated[int, Field(ge=1, le=10_000_000)] | None = None
    description: Text | None = None


_NAS_FIELDS = {
    "new_name",
    "nas_address",
    "secret",
    "vendor",
    "require_message_authenticator",
    "coa_port",
    "description",
}
_REQUIRED = {"new_name", "nas_address", "secret", "vendor", "require_message_authenticator", "coa_port",
             "kind", "snmp_version", "snmp_port", "medium", "api_tls"}  # fmt: skip


def _fields(body: BaseModel) -> dict[str, Any]:
    """PATCH fields; ``null`` for a field that cannot be empty is ignored."""
    return {k: v for k, v in changes(body).items() if v is not None or k not in _REQUIRED}


def install(app: FastAPI, state: Any, read: list[Depends], write: list[Depends]) -> None:
    """Add PATCH/DELETE (and GET-one where missing) for sites, routers, sectors, devices, links."""
    engine = state.engine
    tags: list[str | Any] = ["network"]

    @app.patch("/network/sites/{name}", tags=tags, dependencies=write, responses=WRITE_ERRORS)
    async def patch_site(name: Item, body: SitePatch) -> SiteOut:
        return SiteOut.model_validate(_json(await edit.update_site(engine, name, **_fields(body))))

    @app.delete(
        "/network/sites/{name}", tags=tags, dependencies=write, status_code=204, responses=DELETE_ERRORS
    )
    async def delete_site(name: Item) -> Response:
        """Remove a site: 409 naming the routers, devices and pools still there."""
        await inv.remove_site(engine, name)
        return Response(status_code=204)

    @app.patch("/network/routers/{name}", tags=tags, dependencies=write, responses=WRITE_ERRORS)
    async def patch_router(name: Item, body: RouterPatch) -> RouterOut:
        """Change a router (a NAS): the daemon applies RADIUS changes within a second."""
        fields = _fields(body)
        radius = {k: fields.pop(k) for k in list(fields) if k in _NAS_FIELDS}
        if "nas_address" in radius:
            radius["address"] = radius.pop("nas_address")
        return RouterOut.model_validate(_json(await edit.update_router_all(engine, name, radius, fields)))

    @app.delete(
        "/network/routers/{name}", tags=tags, dependencies=write, status_code=204, responses=DELETE_ERRORS
    )
    async def delete_router(name: Item) -> Response:
        """Remove a router: 409 while pools, open sessions or links refer to it."""
        await inv.remove_router(engine, name)
        return Response(status_code=204)

    @app.get("/network/sectors/{router}/{name}", tags=tags, dependencies=read, responses=READ_ERRORS)
    async def get_sector(router: Item, name: Item) -> SectorOut:
        return SectorOut.model_validate(_json(await inv.get_sector(engine, router, name)))

    @app.patch("/network/sectors/{router}/{name}", tags=tags, dependencies=write, responses=WRITE_ERRORS)
    async def patch_sector(router: Item, name: Item, body: SectorPatch) -> SectorOut:
        return SectorOut.model_validate(
            _json(await edit.update_sector(engine, router, name, **_fields(body)))
        )

    @app.delete(
        "/network/sectors/{router}/{name}",
        tags=tags,
        dependencies=write,
        status_code=204,
        responses=DELETE_ERRORS,
    )
    async def delete_sector(router: Item, name: Item) -> Response:
        await inv.remove_sector(engine, router, name)
        return Response(status_code=204)

    @app.patch("/network/devices/{name}", tags=tags, dependencies=write, responses=WRITE_ERRORS)
    async def patch_device(name: Item, body: DevicePatch) -> DeviceOut:
        """Change a device; a new snmp_version drops the other version's credentials."""
        return DeviceOut.model_validate(_json(await edit.update_device(engine, name, **_fields(body))))

    @app.delete(
        "/network/devices/{name}", tags=tags, dependencies=write, status_code=204, responses=DELETE_ERRORS
    )
    async def delete_device(name: Item) -> Response:
        """Remove a device: 409 naming the links still attached."""
        await inv.remove_device(engine, name)
        return Response(status_code=204)

    @app.patch("/network/connections/{link_id}", tags=tags, dependencies=write, responses=WRITE_ERRORS)
    async def patch_connection(link_id: LinkId, body: ConnectionPatch) -> ConnectionOut:
        return ConnectionOut.model_validate(_json(await edit.update_link(engine, link_id, **_fields(body))))

    @app.delete(
        "/network/connections/{link_id}",
        tags=tags,
        dependencies=write,
        status_code=204,
        responses=DELETE_ERRORS,
    )
    async def delete_connection(link_id: LinkId) -> Response:
        await inv.remove_link(engine, link_id)
        return Response(status_code=204)
