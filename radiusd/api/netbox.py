"""``POST /netbox/sync``: export to NetBox (docs/netbox.md), the same run as ``radiusd netbox sync``.

The token travels in the body (write-only: never echoed, never logged). pynetbox is blocking,
so the run goes to a worker thread; the event loop keeps serving RADIUS meanwhile. NetBox's
refusals (bad token, validation error, timeout) are 424 (Failed Dependency) with one line in
``detail``: the request was valid, the NetBox it named failed it.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException
from fastapi.params import Depends
from pydantic import BaseModel, Field, SecretStr

from .schemas import Body, Problem

Group = Literal["sites", "devices", "cables", "prefixes", "addresses"]


class NetBoxSyncIn(Body):
    url: Annotated[str, Field(pattern=r"^https?://", max_length=2048, description="NetBox base URL.")]
    token: Annotated[
        SecretStr, Field(min_length=1, max_length=256, description="NetBox API token (write-only).")
    ]
    dry_run: bool = Field(default=False, description="Compute and return the changes; write nothing.")
    only: list[Group] | None = Field(default=None, description="Subset of what to export (default: all).")
    leases: bool = Field(default=False, description="Also export live dynamic leases (status dhcp).")
    timeout: Annotated[float, Field(ge=0.1, le=300)] = 10.0


class NetBoxChangeOut(BaseModel):
    action: Literal["create", "update", "delete"]
    endpoint: str
    radiusd_id: str
    netbox_id: int | None
    fields: dict[str, Any]


class NetBoxSyncOut(BaseModel):
    dry_run: bool
    create: int
    update: int
    delete: int
    unchanged: int
    adopted: list[str]
    seconds: float
    changes: list[NetBoxChangeOut]


def install(app: FastAPI, state: Any, read: list[Depends], write: list[Depends]) -> None:
    @app.post(
        "/netbox/sync",
        tags=["netbox"],
        dependencies=write,
        responses={
            424: {"model": Problem, "description": "NetBox refused the token or an object, or timed out"}
        },
    )
    async def netbox_sync(body: NetBoxSyncIn) -> NetBoxSyncOut:
        """Create, update and delete NetBox objects (tagged ``radiusd``) so they match radiusd."""
        from inventory.netbox import NetBoxError, Sync
        from radiusd.store.netbox_view import GROUPS, wants

        groups = tuple(dict.fromkeys(body.only)) if body.only else GROUPS
        desired = await wants(state.engine, only=groups, leases=body.leases)
        sync = Sync(body.url, body.token.get_secret_value(), timeout=body.timeout)
        keep = () if body.leases else ("lease:",)
        try:
            report = await asyncio.to_thread(sync.run, desired, dry_run=body.dry_run, keep=keep)
        except NetBoxError as exc:
            raise HTTPException(424, str(exc)) from None
        return NetBoxSyncOut.model_validate(report.to_json())
