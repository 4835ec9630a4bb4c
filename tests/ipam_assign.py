"""Assign an address the way the access policy does, for tests that drive IpamService directly:
``assign_nowait`` allocates and queues the lease; the Accept waits for the commit's future."""

from __future__ import annotations

from typing import Any

from radiusd.policy.ipam_service import IpamService
from radiusd.policy.seams import Assignment


async def assign(svc: IpamService, request: Any, subscriber: Any, plan: Any, pool: str | None) -> Assignment:
    out, committed = svc.assign_nowait(request, subscriber, plan, pool)
    if committed is not None:
        await committed  # a failed commit raises here; rolled_back() has returned the addresses
    return out
