"""``POST /network/discovery/lldp``: one LLDP discovery run (docs/discovery.md).

Thin over :func:`inventory.discovery_run.discover`, the same run as ``radiusd discover lldp``.
Without ``apply`` it only proposes; with it, new devices and links are written marked
``source=lldp`` and stale discovered links removed. Agents that fail are listed in ``errors``
(the reply is still 200: the rest of the run stands). Routers without RouterOS API
credentials use the daemon's ``discovery_snmp_community``; no credential is ever in a reply.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI
from fastapi.params import Depends
from pydantic import BaseModel, Field

from .schemas import Body, Name, Problem


class LldpIn(Body):
    site: Name | None = Field(default=None, description="Poll only the routers and devices at this site.")
    apply: bool = Field(
        default=False, description="Write new devices and links, drop stale discovered links."
    )
    timeout: Annotated[float, Field(ge=0.1, le=5)] = Field(default=2.0, description="Seconds per SNMP try.")
    retries: Annotated[int, Field(ge=0, le=2)] = 1


class NewLinkOut(BaseModel):
    a_kind: str
    a_name: str
    a_port: str
    b_kind: str
    b_name: str
    b_port: str


class NewDeviceOut(BaseModel):
    name: str
    chassis_id: str
    kind: str
    site: str | None
    address: str | None
    seen_by: str


class StaleLinkOut(BaseModel):
    id: int
    a: str
    b: str
    source: str


class NeighbourOut(BaseModel):
    seen_by: str
    local_port: str
    chassis_id: str
    chassis_subtype: str
    port_id: str
    port_subtype: str
    port: str
    port_desc: str | None
    sys_name: str | None
    addresses: list[str]
    capabilities: list[str]


class AppliedOut(BaseModel):
    devices: list[str]
    links: list[int]
    removed_links: list[int]
    skipped: list[str]


class LldpOut(BaseModel):
    polled: list[str]
    errors: list[str]
    skipped: list[str]
    seen_links: list[int]
    new_links: list[NewLinkOut]
    new_devices: list[NewDeviceOut]
    unmatched: list[NeighbourOut]
    stale_links: list[StaleLinkOut]
    applied: AppliedOut | None
    seconds: float


def install(app: FastAPI, state: Any, read: list[Depends], write: list[Depends]) -> None:
    """Add the discovery route (a write: with ``apply`` it changes the inventory)."""

    @app.post(
        "/network/discovery/lldp",
        tags=["network"],
        dependencies=write,
        responses={404: {"model": Problem, "description": "Unknown site"}},
    )
    async def discover_lldp(body: LldpIn | None = None) -> LldpOut:
        """Poll LLDP neighbours (SNMP LLDP-MIB, RouterOS /ip/neighbor), compare with the
        inventory and propose (or, with ``apply``, write) new devices and links."""
        from inventory.discovery_run import Options, discover

        body = body or LldpIn()
        options = Options(
            site=body.site,
            router_community=state.settings.discovery_snmp_community or None,
            timeout=body.timeout,
            retries=body.retries,
        )
        result = await discover(state.engine, options, apply=body.apply)
        return LldpOut.model_validate(result.to_json())
